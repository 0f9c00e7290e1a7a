/// What can be wrong with a model's config or weights. Messages name the file, key or tensor.
public enum ModelError: Error, CustomStringConvertible, Sendable {
    case config(file: String, key: String, message: String)
    case unsupportedModelType(String, supported: [String])
    case shape(tensor: String, expected: [Int], actual: [Int])
    case dtype(tensor: String, dtype: String)
    case missingTensor(String)
    case badTensor(String, String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .config(f, k, m): return "\(f): key '\(k)': \(m)"
        case let .unsupportedModelType(t, s):
            return "unsupported model_type '\(t)'; supported: \(s.joined(separator: ", "))"
        case let .shape(t, e, a): return "tensor '\(t)': expected shape \(e), found \(a)"
        case let .dtype(t, d): return "tensor '\(t)': dtype \(d) is not supported for compute (F32, F16, BF16, F8_E4M3 with block scales are)"
        case let .missingTensor(t): return "missing tensor '\(t)'"
        case let .badTensor(t, m): return "tensor '\(t)' \(m)"
        case let .invalidInput(m): return m
        }
    }
}
