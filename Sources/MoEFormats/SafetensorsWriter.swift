import MoETensor

/// Serialises tensors to the safetensors layout: 8-byte little-endian header length, a JSON header
/// padded with spaces to 8 bytes, then the data in order.
public enum SafetensorsWriter {
    public struct Tensor: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]
        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
        /// f32 values stored as `dtype` (f32, f16 or bf16).
        public init(name: String, shape: [Int], values: [Float], as dtype: DType = .f32) {
            precondition(values.count == shape.reduce(1, *), "tensor \(name): \(values.count) values for shape \(shape)")
            var out: [UInt8] = []
            out.reserveCapacity(values.count * dtype.size)
            for v in values {
                switch dtype {
                case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
                case .f16: withUnsafeBytes(of: floatToHalf(v).littleEndian) { out.append(contentsOf: $0) }
                case .bf16: withUnsafeBytes(of: floatToBF16(v).littleEndian) { out.append(contentsOf: $0) }
                default: preconditionFailure("SafetensorsWriter: cannot encode floats as \(dtype)")
                }
            }
            self.init(name: name, dtype: dtype, shape: shape, bytes: out)
        }
    }

    /// The whole file's bytes.
    public static func serialize(_ tensors: [Tensor], metadata: [(String, String)] = []) -> [UInt8] {
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += "\"__metadata__\":{" + metadata.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
            first = false
        }
        var offset = 0
        for t in tensors {
            if !first { header += "," }
            first = false
            header += "\(jsonString(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}"
            offset += t.bytes.count
        }
        header += "}"
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + h.count + offset)
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: h)
        for t in tensors { out.append(contentsOf: t.bytes) }
        return out
    }
}

/// A JSON string literal with the escapes JSON requires.
public func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}
