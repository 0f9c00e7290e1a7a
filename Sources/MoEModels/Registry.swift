import MoEFormats
import MoETensor

/// From a Hugging Face `model_type` to the builder of that family.
public enum ModelRegistry {
    public typealias Builder = @Sendable (ConfigReader, TensorDirectory, ThreadPool) throws -> TransformerModel

    static let builders: [String: Builder] = [
        "llama": { try Llama.build($0, $1, $2) },
        "qwen2": { try Qwen.build($0, $1, $2, type: "qwen2") },
        "qwen3": { try Qwen.build($0, $1, $2, type: "qwen3") },
        "qwen2_moe": { try Qwen.build($0, $1, $2, type: "qwen2_moe") },
        "qwen3_moe": { try Qwen.build($0, $1, $2, type: "qwen3_moe") },
        "granite": { try Granite.build($0, $1, $2, moe: false) },
        "granitemoe": { try Granite.build($0, $1, $2, moe: true) },
        "mixtral": { try Mixtral.build($0, $1, $2) },
        "olmoe": { try OLMoE.build($0, $1, $2) },
        "deepseek_v3": { try DeepSeek.build($0, $1, $2, type: "deepseek_v3") },
        "kimi_k2": { try DeepSeek.build($0, $1, $2, type: "kimi_k2") },
        "deepseek_v32": { try DeepSeek.build($0, $1, $2, type: "deepseek_v32") },
        "glm4_moe": { try DeepSeek.build($0, $1, $2, type: "glm4_moe") },
        "glm_moe_dsa": { try DeepSeek.build($0, $1, $2, type: "glm_moe_dsa") },
    ]

    public static var supportedModelTypes: [String] { builders.keys.sorted() }

    /// Decodes a DeepSeek/GLM-family config into the engine's hyperparameters without any weights
    /// (what `build` checks before binding tensors).
    public static func decodeDeepSeekConfig(_ r: ConfigReader) throws -> TransformerConfig {
        let type = try r.string("model_type")
        guard ["deepseek_v3", "kimi_k2", "deepseek_v32", "glm4_moe", "glm_moe_dsa"].contains(type) else {
            throw ModelError.unsupportedModelType(type, supported: ["deepseek_v3", "kimi_k2", "deepseek_v32", "glm4_moe", "glm_moe_dsa"])
        }
        return try DeepSeek.plan(r, type: type).config
    }

    /// Builds the model that `config` describes over `tensors`.
    public static func build(config: ConfigReader, tensors: TensorDirectory, pool: ThreadPool) throws -> TransformerModel {
        let type = try config.string("model_type")
        guard let b = builders[type] else {
            throw ModelError.unsupportedModelType(type, supported: supportedModelTypes)
        }
        return try b(config, tensors, pool)
    }
}

/// Loads a Hugging Face model directory (`config.json` plus safetensors weights) or a `.gguf` file;
/// weights stay in the mapped files.
public func loadModel(directory: String, pool: ThreadPool, activations: ActivationFormat = .q8) throws -> TransformerModel {
    if directory.hasSuffix(".gguf") && fileExists(directory) {
        return try GGUFModel.load(path: directory, pool: pool, activations: activations)
    }
    let dir = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
    let configPath = dir + "/config.json"
    guard fileExists(configPath) else { throw FormatError.io("\(dir): no config.json (expected a Hugging Face model directory)") }
    let config = try ConfigReader(path: configPath)
    // Check model_type before touching the weights, so an unsupported model fails fast.
    let type = try config.string("model_type")
    guard ModelRegistry.builders[type] != nil else {
        throw ModelError.unsupportedModelType(type, supported: ModelRegistry.supportedModelTypes)
    }
    let tensors = try TensorDirectory(modelDirectory: dir)
    tensors.activations = activations
    let model = try ModelRegistry.build(config: config, tensors: tensors, pool: pool)
    model.unusedTensors = tensors.unusedNames
    model.mtpLayers = try config.int("num_nextn_predict_layers", "num_mtp_layers", default: 0)
    return model
}
