import MoEFormats

/// The parts of a model's `generation_config.json` that generation honours.
public struct GenerationConfig: Sendable, Equatable {
    /// Generation stops after any of these (`eos_token_id`: an id or a list of ids).
    public var eosTokenIds: [Int32] = []
    public var bosTokenId: Int32?

    public init(eosTokenIds: [Int32] = [], bosTokenId: Int32? = nil) {
        self.eosTokenIds = eosTokenIds
        self.bosTokenId = bosTokenId
    }

    /// Reads the keys from a parsed `generation_config.json`; `file` names it in errors.
    public init(json: JSONValue, file: String) throws {
        func ids(_ key: String) throws -> [Int32] {
            guard let v = json[key], !v.isNull else { return [] }
            let items = v.arrayValue ?? [v]
            return try items.map {
                guard let i = $0.intValue, i >= 0, i <= Int(Int32.max) else {
                    throw GenerationConfigError(file: file, key: key, value: "\($0)")
                }
                return Int32(i)
            }
        }
        eosTokenIds = try ids("eos_token_id")
        bosTokenId = try ids("bos_token_id").first
    }
}

public struct GenerationConfigError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let key: String
    public let value: String
    public var description: String { "\(file): key '\(key)': expected a token id or a list of ids, found \(value)" }
}
