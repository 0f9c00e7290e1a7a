import MoETensor

/// One tensor of a checkpoint: where its bytes are (in place, in a mapped file) and what they hold.
public struct TensorEntry: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// The mapped file holding the data, kept alive by this entry.
    public let file: MappedFile
    /// Absolute byte offset of the data in `file`.
    public let offset: Int
    public let byteCount: Int

    public init(name: String, dtype: DType, shape: [Int], file: MappedFile, offset: Int, byteCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.file = file
        self.offset = offset
        self.byteCount = byteCount
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var data: UnsafeRawPointer? { file.base.map { $0 + offset } }
}

/// A parsed `.safetensors` file. Every header field is checked against the file before use;
/// tensor data is never copied.
public struct SafetensorsFile: Sendable {
    /// Upper bound on the JSON header, as the reference implementation has (100 MB).
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    public let tensors: [TensorEntry]
    public let metadata: [(String, String)]

    public init(path: String) throws {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw FormatError.io("\(error)") }
        try self.init(mapped: file)
    }

    public init(mapped file: MappedFile) throws {
        let name = file.path
        path = name
        guard file.size >= 8, let base = file.base else { throw FormatError.fileTooShort(file: name, size: file.size) }
        let n = base.loadUnaligned(as: UInt64.self).littleEndian
        guard n <= UInt64(Self.maxHeaderBytes), n <= UInt64(file.size - 8) else {
            throw FormatError.headerLength(file: name, length: n, fileSize: file.size)
        }
        let headerLen = Int(n)
        let dataStart = 8 + headerLen
        let dataSize = file.size - dataStart
        let json: JSONValue
        do {
            json = try JSONParser.parse(UnsafeRawBufferPointer(start: base + 8, count: headerLen), maxDepth: 8)
        } catch let e as JSONError {
            throw FormatError.headerJSON(file: name, offset: 8 + e.offset, message: e.message)
        }
        guard let members = json.objectMembers else {
            throw FormatError.header(file: name, offset: 8, message: "the header is not a JSON object")
        }
        var entries: [TensorEntry] = []
        var meta: [(String, String)] = []
        entries.reserveCapacity(members.count)
        for (key, value) in members {
            if key == "__metadata__" {
                guard let m = value.objectMembers else {
                    throw FormatError.header(file: name, offset: 8, message: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v.stringValue else {
                        throw FormatError.header(file: name, offset: 8, message: "__metadata__ value '\(k)' is not a string")
                    }
                    meta.append((k, s))
                }
                continue
            }
            func bad(_ msg: String) -> FormatError { .tensor(file: name, tensor: key, offset: 8, message: msg) }
            guard value.objectMembers != nil else { throw bad("entry is not an object") }
            guard let dtypeName = value["dtype"]?.stringValue else { throw bad("missing or non-string 'dtype'") }
            guard let dtype = DType(rawValue: dtypeName), dtype.isSafetensorsType else { throw bad("unknown dtype '\(dtypeName)'") }
            guard let shapeJSON = value["shape"]?.arrayValue else { throw bad("missing or non-array 'shape'") }
            var shape: [Int] = []
            var elements = 1
            for d in shapeJSON {
                guard case .int(let dim) = d, dim >= 0 else { throw bad("shape \(shapeJSON.map { "\($0)" }) has a non-integer or negative dimension") }
                shape.append(dim)
                let (m, o) = elements.multipliedReportingOverflow(by: dim)
                guard !o else { throw bad("shape \(shape) overflows") }
                elements = m
            }
            guard let offs = value["data_offsets"]?.arrayValue, offs.count == 2,
                  case .int(let begin) = offs[0], case .int(let end) = offs[1] else {
                throw bad("'data_offsets' must be two integers")
            }
            guard begin >= 0, begin <= end else { throw bad("data_offsets [\(begin), \(end)] are not an ordered range") }
            let (bytes, o) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !o, bytes == end - begin else {
                throw FormatError.tensor(file: name, tensor: key, offset: dataStart + begin,
                              message: "shape \(shape) × \(dtype.rawValue) (\(dtype.size) bytes) needs \(o ? "more than Int.max" : "\(bytes)") bytes but data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            guard end <= dataSize else {
                throw FormatError.tensor(file: name, tensor: key, offset: dataStart + begin,
                              message: "data_offsets [\(begin), \(end)] run past the end of the file (data section is \(dataSize) bytes)")
            }
            entries.append(TensorEntry(name: key, dtype: dtype, shape: shape, file: file,
                                       offset: dataStart + begin, byteCount: end - begin))
        }
        // No two tensors may share bytes.
        let sorted = entries.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        if sorted.count > 1 {
            for i in 1..<sorted.count where sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].byteCount {
                throw FormatError.overlap(file: name, tensor: sorted[i].name, other: sorted[i - 1].name, offset: sorted[i].offset)
            }
        }
        tensors = entries
        metadata = meta
    }
}
