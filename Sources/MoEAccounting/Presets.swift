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

/// From `model_type` to the function listing a checkpoint's tensors.
public enum Inventories {
    public static let supportedModelTypes = [
        "llama", "qwen2", "qwen3", "granite", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "granitemoe",
    ] + MLAFamilies.modelTypes + OtherFamilies.modelTypes

    /// The inventory of the model a config describes (weights not needed).
    public static func build(_ r: ConfigReader) throws -> ModelInventory {
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
