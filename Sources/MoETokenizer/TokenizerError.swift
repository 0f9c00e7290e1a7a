import MoEFormats

/// Why a tokenizer could not be built. Every case names the place at fault: a JSON key path in
/// tokenizer.json (like `model.merges[12]` or `pre_tokenizer.pretokenizers[0].type`), or a vocabulary field.
public enum TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file is not JSON at all.
    case invalidJSON(file: String, message: String)
    /// A required key is absent.
    case missingKey(String)
    /// A key holds a value of the wrong kind or an impossible value.
    case invalidValue(key: String, message: String)
    /// A `type` this implementation does not know (or does not implement yet).
    case unsupportedType(key: String, type: String)
    /// A merge names a token that is not in the vocabulary, or is not two tokens.
    case badMerge(key: String, message: String)
    /// A regex pattern that the general regex engine cannot compile.
    case badPattern(key: String, pattern: String, message: String)
    /// The file could not be read.
    case io(path: String, message: String)
    /// An error in the named file (a checkpoint's tokenizer.json or tokenizer_config.json, ...).
    indirect case inFile(path: String, TokenizerError)

    /// Where a key lives: GGUF metadata (`tokenizer.ggml.*`) or tokenizer.json.
    static func source(_ key: String) -> String { key.hasPrefix("tokenizer.ggml.") ? "GGUF metadata" : "tokenizer.json" }

    public var description: String {
        switch self {
        case .invalidJSON, .io, .inFile: return detail
        case .missingKey(let key), .invalidValue(let key, _), .unsupportedType(let key, _), .badMerge(let key, _),
             .badPattern(let key, _, _):
            return "\(Self.source(key)): \(detail)"
        }
    }

    /// The message without the file it is about.
    var detail: String {
        switch self {
        case .invalidJSON(let file, let message): return "\(file): \(message)"
        case .missingKey(let key): return "missing key '\(key)'"
        case .invalidValue(let key, let message): return "key '\(key)': \(message)"
        case .unsupportedType(let key, let type): return "key '\(key)': unsupported type \"\(type)\""
        case .badMerge(let key, let message): return "key '\(key)': \(message)"
        case .badPattern(let key, let pattern, let message):
            return "key '\(key)': cannot compile regex \"\(pattern)\": \(message)"
        case .io(let path, let message): return "\(path): \(message)"
        case .inFile(let path, let inner):
            switch inner {
            case .invalidJSON, .io, .inFile: return inner.detail   // these name their file already
            default: return "\(path): \(inner.detail)"
            }
        }
    }
}
