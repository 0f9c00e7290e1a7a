import MoETensor

/// Everything that can be wrong with a model file. Each message names the file, and where it
/// applies the tensor and the byte offset.
public enum FormatError: Error, CustomStringConvertible, Sendable {
    case io(String)
    case fileTooShort(file: String, size: Int)
    case headerLength(file: String, length: UInt64, fileSize: Int)
    case headerJSON(file: String, offset: Int, message: String)
    case header(file: String, offset: Int, message: String)
    case tensor(file: String, tensor: String, offset: Int, message: String)
    case overlap(file: String, tensor: String, other: String, offset: Int)
    case index(file: String, message: String)
    case missingTensor(name: String, directory: String)
    case badTensor(name: String, message: String)

    public var description: String {
        switch self {
        case .io(let m): return m
        case let .fileTooShort(f, s):
            return "\(f): file is \(s) bytes, too short for the 8-byte safetensors header length"
        case let .headerLength(f, l, s):
            return "\(f): header length \(l) at byte offset 0 does not fit in the file (\(s) bytes)"
        case let .headerJSON(f, o, m): return "\(f): header is not valid JSON at byte offset \(o): \(m)"
        case let .header(f, o, m): return "\(f): bad header at byte offset \(o): \(m)"
        case let .tensor(f, t, o, m): return "\(f): tensor '\(t)' (byte offset \(o)): \(m)"
        case let .overlap(f, t, o, off):
            return "\(f): tensor '\(t)' overlaps tensor '\(o)' at byte offset \(off)"
        case let .index(f, m): return "\(f): \(m)"
        case let .missingTensor(n, d): return "\(d): no tensor named '\(n)' in the checkpoint"
        case let .badTensor(n, m): return "tensor '\(n)': \(m)"
        }
    }
}
