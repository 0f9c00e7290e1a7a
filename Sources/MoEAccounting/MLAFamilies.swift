import MoEModels

/// DeepSeek-V3 / Kimi-K2 / DeepSeek-V3.2 / GLM-4.5..4.7 / GLM-5.x inventories.
enum MLAFamilies {
    static let modelTypes: [String] = []
    static func build(_ r: ConfigReader, type: String) throws -> ModelInventory {
        throw ModelError.unsupportedModelType(type, supported: [])
    }
}

/// gpt-oss, Llama 4, MiniMax-M2 inventories.
enum OtherFamilies {
    static let modelTypes: [String] = []
    static func build(_ r: ConfigReader, type: String) throws -> ModelInventory {
        throw ModelError.unsupportedModelType(type, supported: [])
    }
}
