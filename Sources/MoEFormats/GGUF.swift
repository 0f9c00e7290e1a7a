import MoETensor

/// A GGUF metadata value. Not `indirect`: an array's items are stored inline (24 bytes each), not
/// one heap box per item.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var intValue: Int? {
        switch self {
        case .uint(let u): return u <= UInt64(Int.max) ? Int(u) : nil
        case .int(let i): return Int(exactly: i)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float(let f): return f
        case .uint(let u): return Double(u)
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
}

/// A GGUF value type code (0 uint8 … 12 float64; 9 is an array, with its item type).
public struct GGUFValueType: Sendable, Equatable {
    public var type: UInt32
    public var item: UInt32?
    public init(type: UInt32, item: UInt32? = nil) { self.type = type; self.item = item }
    public static let u32 = GGUFValueType(type: 4), i32 = GGUFValueType(type: 5), f32 = GGUFValueType(type: 6)
    public static let bool = GGUFValueType(type: 7), string = GGUFValueType(type: 8), u64 = GGUFValueType(type: 10)
    public static func array(_ item: UInt32) -> GGUFValueType { GGUFValueType(type: 9, item: item) }
}

/// GGML tensor types by their GGUF codes; MoEKit computes with the ones that map to a `DType`.
public enum GGMLType {
    public static let names: [UInt32: String] = [
        0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
        11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
        19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32",
        27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
    ]
    /// Elements per block and bytes per block, for sizing tensors of every known type.
    public static let layout: [UInt32: (block: Int, bytes: Int)] = [
        0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
        10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
        24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2), 39: (32, 17),
    ]
    /// The DType of a GGUF type code MoEKit computes with (DType.ggmlCode backwards).
    public static func dtype(_ code: UInt32) -> DType? {
        DType.allCases.first { $0.ggmlCode >= 0 && UInt32($0.ggmlCode) == code }
    }
}

/// One tensor's record in a GGUF file.
public struct GGUFTensorInfo: Sendable {
    public var name: String
    /// Dimensions as GGUF stores them, fastest first (`ne[0]` is a row's length).
    public var dims: [Int]
    public var type: UInt32
    /// Absolute byte offset in the file.
    public var offset: Int
    public var byteCount: Int
    public var typeName: String { GGMLType.names[type] ?? "type \(type)" }
    /// PyTorch order: `[rows, cols]` for a matrix.
    public var shape: [Int] { dims.reversed() }
}

/// A parsed GGUF file (v2 or v3), mapped in place. Every count, length, offset and dimension is
/// checked against the file before use; a hostile file gets an error naming the field and its byte
/// offset, never a crash or a huge allocation.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(String, GGUFValue)]
    /// The GGUF value type of each key (and, for arrays, of their items): what a copy must keep.
    public let metadataTypes: [String: GGUFValueType]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int

    public subscript(key: String) -> GGUFValue? { metadata.first { $0.0 == key }?.1 }

    public convenience init(path: String) throws {
        let m: MappedFile
        do { m = try MappedFile(path: path) } catch { throw FormatError.io("\(error)") }
        try self.init(mapped: m)
    }

    public init(mapped m: MappedFile) throws {
        path = m.path
        file = m
        var r = GGUFCursor(file: m)
        guard m.size >= 24 else { throw r.fail("file is \(m.size) bytes, too short for a GGUF header") }
        let magic = try r.u32("magic")
        guard magic == 0x4655_4747 else { throw FormatError.header(file: path, offset: 0, message: "not a GGUF file (bad magic)") }
        version = try r.u32("version")
        guard version == 2 || version == 3 else {
            throw FormatError.header(file: path, offset: 4, message: "GGUF version \(version) is not supported (2 and 3 are)")
        }
        let tensorCount = try r.count("tensor_count", minBytesEach: 24)
        let kvCount = try r.count("metadata_kv_count", minBytesEach: 12)
        var meta: [(String, GGUFValue)] = []
        meta.reserveCapacity(kvCount)
        var seenKeys = Set<String>()
        var types: [String: GGUFValueType] = [:]
        for _ in 0..<kvCount {
            let at = r.pos
            let key = try r.string("metadata key")
            guard seenKeys.insert(key).inserted else { throw r.fail("duplicate metadata key '\(key)'", at: at) }
            let type = try r.u32("type of '\(key)'")
            let item: UInt32? = type == 9 && r.remaining >= 4 ? UInt32(littleEndian: m.bytes(at: r.pos, count: 4).loadUnaligned(as: UInt32.self)) : nil
            meta.append((key, try r.value(type: type, field: key, depth: 0)))
            types[key] = GGUFValueType(type: type, item: item)
        }
        metadata = meta
        metadataTypes = types
        var align = 32
        if let a = meta.first(where: { $0.0 == "general.alignment" })?.1 {
            guard let v = a.intValue, v > 0, v <= 1 << 20, v & (v - 1) == 0 else {
                throw FormatError.header(file: path, offset: 0, message: "general.alignment must be a power of two up to 2^20")
            }
            align = v
        }
        alignment = align
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(tensorCount)
        var names = Set<String>()
        for i in 0..<tensorCount {
            let at = r.pos
            let name = try r.string("name of tensor \(i)")
            guard names.insert(name).inserted else { throw r.fail("duplicate tensor name '\(name)'", at: at) }
            let nDims = Int(try r.u32("n_dims of '\(name)'"))
            guard (1...4).contains(nDims) else { throw r.fail("tensor '\(name)' has \(nDims) dimensions (1 to 4 allowed)", at: r.pos - 4) }
            var dims: [Int] = []
            var elements = 1
            for d in 0..<nDims {
                let v = try r.u64("dimension \(d) of '\(name)'")
                guard v > 0, v <= UInt64(Int32.max) else { throw r.fail("tensor '\(name)' dimension \(d) is \(v)", at: r.pos - 8) }
                let (e, o) = elements.multipliedReportingOverflow(by: Int(v))
                guard !o, e <= 1 << 40 else { throw r.fail("tensor '\(name)' has too many elements", at: r.pos - 8) }
                elements = e
                dims.append(Int(v))
            }
            let type = try r.u32("type of '\(name)'")
            guard let lay = GGMLType.layout[type] else { throw r.fail("tensor '\(name)' has unknown GGML type \(type)", at: r.pos - 4) }
            guard dims[0] % lay.block == 0 else {
                throw r.fail("tensor '\(name)' rows of \(dims[0]) are not whole \(GGMLType.names[type] ?? "") blocks of \(lay.block)", at: at)
            }
            let off = try r.u64("offset of '\(name)'")
            guard off <= UInt64(Int.max / 2), Int(off) % align == 0 else {
                throw r.fail("tensor '\(name)' offset \(off) is not aligned to \(align)", at: r.pos - 8)
            }
            infos.append(GGUFTensorInfo(name: name, dims: dims, type: type, offset: Int(off),
                                        byteCount: elements / lay.block * lay.bytes))
        }
        let data = (r.pos + align - 1) / align * align
        dataOffset = data
        guard data <= m.size else { throw r.fail("data section starts at \(data), past the end of the file") }
        let dataSize = m.size - data
        for i in infos.indices {
            let t = infos[i]
            guard t.offset <= dataSize, t.byteCount <= dataSize - t.offset else {
                throw FormatError.tensor(file: path, tensor: t.name, offset: data + t.offset,
                                         message: "\(t.byteCount) bytes of \(t.typeName) run past the end of the file")
            }
            infos[i].offset += data
        }
        let sorted = infos.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        if sorted.count > 1 {
            for i in 1..<sorted.count where sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].byteCount {
                throw FormatError.overlap(file: path, tensor: sorted[i].name, other: sorted[i - 1].name, offset: sorted[i].offset)
            }
        }
        tensors = infos
    }

    /// The tensors MoEKit can compute with, as directory entries (others are listed by
    /// `unsupportedTensors`).
    public func entries() -> [TensorEntry] {
        tensors.compactMap { t in
            guard let d = GGMLType.dtype(t.type) else { return nil }
            return TensorEntry(name: t.name, dtype: d, shape: t.shape, file: file, offset: t.offset, byteCount: t.byteCount)
        }
    }

    /// Tensor name -> type name, for tensors of GGML types without a kernel yet.
    public var unsupportedTensors: [String: String] {
        var out: [String: String] = [:]
        for t in tensors where GGMLType.dtype(t.type) == nil { out[t.name] = t.typeName }
        return out
    }
}

/// Bounds-checked little-endian reads over a mapped file.
struct GGUFCursor {
    let file: MappedFile
    var pos = 0
    /// Array items read so far, in all metadata arrays.
    var arrayItems = 0
    /// At most this many array items in all: each takes 24 bytes in memory however few it takes in
    /// the file (one byte for a uint8 or bool), so a hostile file could otherwise ask for 24 times its
    /// size. The largest vocabularies (256K tokens with scores, types and merges) use about 1M.
    static let maxArrayItems = 1 << 24

    init(file: MappedFile) { self.file = file }

    var remaining: Int { file.size - pos }

    func fail(_ msg: String, at: Int? = nil) -> FormatError {
        .header(file: file.path, offset: at ?? pos, message: msg)
    }

    mutating func bytes(_ n: Int, _ field: String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw fail("\(field): needs \(n) bytes, \(remaining) left (truncated file?)") }
        let b = file.bytes(at: pos, count: n)
        pos += n
        return b
    }

    mutating func u32(_ field: String) throws -> UInt32 {
        UInt32(littleEndian: try bytes(4, field).loadUnaligned(as: UInt32.self))
    }

    mutating func u64(_ field: String) throws -> UInt64 {
        UInt64(littleEndian: try bytes(8, field).loadUnaligned(as: UInt64.self))
    }

    /// A count that must fit in what is left of the file at `minBytesEach` bytes per item.
    mutating func count(_ field: String, minBytesEach: Int) throws -> Int {
        let at = pos
        let n = try u64(field)
        guard n <= UInt64(remaining / max(minBytesEach, 1)) else {
            throw fail("\(field) is \(n) but the file has room for at most \(remaining / max(minBytesEach, 1))", at: at)
        }
        return Int(n)
    }

    mutating func string(_ field: String) throws -> String {
        let at = pos
        let n = try u64("length of \(field)")
        guard n <= UInt64(remaining) else { throw fail("\(field): length \(n) runs past the end of the file", at: at) }
        let b = try bytes(Int(n), field)
        return String(decoding: b, as: UTF8.self)
    }

    mutating func value(type: UInt32, field: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try bytes(1, field).load(as: UInt8.self)))
        case 1: return .int(Int64(try bytes(1, field).load(as: Int8.self)))
        case 2: return .uint(UInt64(UInt16(littleEndian: try bytes(2, field).loadUnaligned(as: UInt16.self))))
        case 3: return .int(Int64(Int16(littleEndian: try bytes(2, field).loadUnaligned(as: Int16.self))))
        case 4: return .uint(UInt64(try u32(field)))
        case 5: return .int(Int64(Int32(bitPattern: try u32(field))))
        case 6: return .float(Double(Float(bitPattern: try u32(field))))
        case 7:
            let b = try bytes(1, field).load(as: UInt8.self)
            guard b <= 1 else { throw fail("\(field): bool byte is \(b)", at: pos - 1) }
            return .bool(b == 1)
        case 8: return .string(try string(field))
        case 9:
            guard depth < 2 else { throw fail("\(field): arrays nested deeper than 2") }
            let itemType = try u32("\(field) item type")
            let minSize: Int
            switch itemType {
            case 0, 1, 7: minSize = 1
            case 2, 3: minSize = 2
            case 4, 5, 6: minSize = 4
            case 8, 10, 11, 12: minSize = 8
            case 9: minSize = 12
            default: throw fail("\(field): unknown array item type \(itemType)", at: pos - 4)
            }
            let at = pos
            let n = try count("\(field) array length", minBytesEach: minSize)
            guard n <= Self.maxArrayItems - arrayItems else {
                throw fail("\(field): array length \(n) takes the metadata past \(Self.maxArrayItems) array items", at: at)
            }
            arrayItems += n
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(type: itemType, field: field, depth: depth + 1)) }
            return .array(items)
        case 10: return .uint(try u64(field))
        case 11: return .int(Int64(bitPattern: try u64(field)))
        case 12: return .float(Double(bitPattern: try u64(field)))
        default: throw fail("\(field): unknown value type \(type)", at: pos - 4)
        }
    }
}
