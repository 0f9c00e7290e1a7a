#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoETensor

/// Writes GGUF v3 files: metadata with explicit value types (llama.cpp reads most keys with a fixed
/// type, e.g. `<arch>.block_count` as uint32), tensor infos, then the tensor data, each tensor aligned.
/// Data is streamed: each tensor's bytes are asked for in turn, so a file larger than memory can be
/// written. The file appears under its name only when complete.
public final class GGUFWriter {
    public struct Tensor {
        public var name: String
        /// GGML order, fastest first (`[cols, rows]` for a matrix, `[cols, rows, experts]` stacked).
        public var dims: [Int]
        public var type: UInt32
        public var byteCount: Int
    }

    public private(set) var metadata: [(key: String, value: GGUFValue, type: GGUFValueType)] = []
    public private(set) var tensors: [Tensor] = []
    public let alignment: Int

    public init(alignment: Int = 32) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0)
        self.alignment = alignment
    }

    /// Sets `key` (replacing an earlier value, keeping its position).
    public func set(_ key: String, _ value: GGUFValue, as type: GGUFValueType) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i] = (key, value, type)
        } else {
            metadata.append((key, value, type))
        }
    }

    /// Adds a tensor of GGML type `type` with GGML dimensions `dims`.
    public func addTensor(name: String, dims: [Int], type: UInt32) throws {
        guard let lay = GGMLType.layout[type] else { throw FormatError.io("GGUF writer: tensor '\(name)': unknown GGML type \(type)") }
        guard !dims.isEmpty, dims.count <= 4, dims.allSatisfy({ $0 > 0 }), dims[0] % lay.block == 0 else {
            throw FormatError.io("GGUF writer: tensor '\(name)': dimensions \(dims) do not hold whole \(GGMLType.names[type] ?? "") blocks")
        }
        guard !tensors.contains(where: { $0.name == name }) else { throw FormatError.io("GGUF writer: duplicate tensor '\(name)'") }
        let elements = dims.reduce(1, *)
        tensors.append(Tensor(name: name, dims: dims, type: type, byteCount: elements / lay.block * lay.bytes))
    }

    /// Writes the file. `data(i, emit)` must pass tensor i's bytes to `emit`, in one or more pieces
    /// that add up to exactly its size.
    public func write(to path: String,
                      data: (Int, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let part = path + ".part"
        guard let f = fopen(part, "wb") else { throw FormatError.io("\(part): cannot create (\(String(cString: strerror(errno))))") }
        var closed = false
        defer {
            if !closed { fclose(f); unlink(part) }
        }
        var written = 0
        func put(_ p: UnsafeRawBufferPointer) throws {
            guard p.count > 0 else { return }
            guard fwrite(p.baseAddress!, 1, p.count, f) == p.count else {
                throw FormatError.io("\(part): write failed after \(written) bytes (\(String(cString: strerror(errno))))")
            }
            written += p.count
        }
        var header: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); header.append(contentsOf: s.utf8) }
        func value(_ v: GGUFValue, _ t: UInt32, item: UInt32?, key: String) throws {
            func bad() -> FormatError { .io("GGUF writer: '\(key)': value \(v) does not fit type \(t)") }
            switch (t, v) {
            case (0, .uint(let u)) where u <= UInt8.max: header.append(UInt8(u))
            case (1, _) where v.intValue.map({ Int8(exactly: $0) != nil }) == true: header.append(UInt8(bitPattern: Int8(v.intValue!)))
            case (2, .uint(let u)) where u <= UInt16.max: withUnsafeBytes(of: UInt16(u).littleEndian) { header.append(contentsOf: $0) }
            case (3, _) where v.intValue.map({ Int16(exactly: $0) != nil }) == true:
                withUnsafeBytes(of: Int16(v.intValue!).littleEndian) { header.append(contentsOf: $0) }
            case (4, _) where v.intValue.map({ UInt32(exactly: $0) != nil }) == true: u32(UInt32(v.intValue!))
            case (5, _) where v.intValue.map({ Int32(exactly: $0) != nil }) == true: u32(UInt32(bitPattern: Int32(v.intValue!)))
            case (6, _) where v.doubleValue != nil: u32(Float(v.doubleValue!).bitPattern)
            case (7, .bool(let b)): header.append(b ? 1 : 0)
            case (8, .string(let s)): str(s)
            case (9, .array(let items)):
                guard let it = item, it != 9 || items.isEmpty else { throw bad() }
                u32(it)
                u64(UInt64(items.count))
                for x in items { try value(x, it, item: nil, key: key) }
            case (10, .uint(let u)): u64(u)
            case (10, .int(let i)) where i >= 0: u64(UInt64(i))
            case (11, _) where v.intValue != nil: u64(UInt64(bitPattern: Int64(v.intValue!)))
            case (12, _) where v.doubleValue != nil: u64(v.doubleValue!.bitPattern)
            default: throw bad()
            }
        }
        u32(0x4655_4747)   // "GGUF"
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for m in metadata {
            str(m.key)
            u32(m.type.type)
            try value(m.value, m.type.type, item: m.type.item, key: m.key)
        }
        var offsets: [Int] = []
        var offset = 0
        for t in tensors {
            offsets.append(offset)
            offset = (offset + t.byteCount + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            str(t.name)
            u32(UInt32(t.dims.count))
            for d in t.dims { u64(UInt64(d)) }
            u32(t.type)
            u64(UInt64(o))
        }
        let pad = (header.count + alignment - 1) / alignment * alignment - header.count
        header.append(contentsOf: [UInt8](repeating: 0, count: pad))
        try header.withUnsafeBytes { try put($0) }
        let zeros = [UInt8](repeating: 0, count: alignment)
        for (i, t) in tensors.enumerated() {
            let start = written
            try data(i) { try put($0) }
            guard written - start == t.byteCount else {
                throw FormatError.io("GGUF writer: tensor '\(t.name)' got \(written - start) bytes, expected \(t.byteCount)")
            }
            let p = (t.byteCount + alignment - 1) / alignment * alignment - t.byteCount
            if i < tensors.count - 1 { try zeros.withUnsafeBytes { try put(UnsafeRawBufferPointer(rebasing: $0[0..<p])) } }
        }
        guard fclose(f) == 0 else { closed = true; unlink(part); throw FormatError.io("\(part): close failed") }
        closed = true
        guard rename(part, path) == 0 else { unlink(part); throw FormatError.io("\(path): cannot rename from \(part)") }
    }
}
