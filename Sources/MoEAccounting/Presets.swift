import MoEFormats
import MoEModels

/// A public model config embedded in MoEKit, with the vendor's headline figures.
public struct Preset: Sendable {
    public var name: String
    /// The file in shared/model-configs it was taken from.
    public var file: String
    public var publishedTotalB: Double
    public var publishedActiveB: Double
    public var config: String

    public func reader() throws -> ConfigReader {
        ConfigReader(json: try JSONParser.parse(config), file: "preset \(name)")
    }
}

public enum Presets {
    public static func named(_ name: String) -> Preset? {
        all.first { $0.name == name.lowercased() }
    }
    public static var names: [String] { all.map(\.name) }
}

/// Refuses configs whose sizes could not be counted in 64-bit integers (a hostile or corrupt file):
/// every size at most 2^24 (integers other than `rope_theta` and token ids), and no more than about
/// 2^60 parameters by a generous estimate.
func checkSizes(_ r: ConfigReader) throws {
    var ints: [String: Int] = [:]
    for (k, v) in r.json.objectMembers ?? [] where k != "rope_theta" && !k.hasSuffix("token_id") {
        guard let i = v.intValue else { continue }
        guard i <= 1 << 24 else {
            throw r.fail(k, "\(i) is larger than any model size MoEKit can account for (at most 2^24)")
        }
        ints[k] = i
    }
    func v(_ keys: String...) -> Double { Double(keys.compactMap { ints[$0] }.max() ?? 1) }
    let width = max(v("hidden_size", "d_model"), v("intermediate_size", "moe_intermediate_size"), v("vocab_size"),
                    v("num_attention_heads") * v("head_dim", "qk_nope_head_dim", "v_head_dim"))
    let estimate = v("num_hidden_layers", "num_layers") * (v("num_experts", "n_routed_experts", "num_local_experts") + 4) * 4 * width * width
    guard estimate < 0x1p60 else {
        throw r.fail("num_hidden_layers", "the config describes about \(estimate) parameters, more than MoEKit can count")
    }
}

/// From `model_type` to the function listing a checkpoint's tensors.
public enum Inventories {
    public static let supportedModelTypes = [
        "llama", "qwen2", "qwen3", "granite", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "granitemoe",
    ] + MLAFamilies.modelTypes + OtherFamilies.modelTypes

    /// The inventory of the model a config describes (weights not needed).
    public static func build(_ r: ConfigReader) throws -> ModelInventory {
        try checkSizes(r)
        let type = try r.string("model_type")
        switch type {
        case "llama", "qwen2", "qwen3", "granite": return try GQAFamilies.llamaLike(r, type: type)
        case "mixtral": return try GQAFamilies.mixtral(r)
        case "qwen2_moe", "qwen3_moe": return try GQAFamilies.qwenMoE(r, type: type)
        case "olmoe": return try GQAFamilies.olmoe(r)
        case "granitemoe": return try GQAFamilies.granitemoe(r)
        default:
            if MLAFamilies.modelTypes.contains(type) { return try MLAFamilies.build(r, type: type) }
            if OtherFamilies.modelTypes.contains(type) { return try OtherFamilies.build(r, type: type) }
            throw ModelError.unsupportedModelType(type, supported: supportedModelTypes)
        }
    }
}
