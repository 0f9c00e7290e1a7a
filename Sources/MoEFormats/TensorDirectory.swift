#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoETensor

/// Name → tensor over all weight files of a model directory (one `model.safetensors`, or shards
/// listed by `model.safetensors.index.json`).
public final class TensorDirectory: @unchecked Sendable {
    public let directory: String
    public private(set) var entries: [String: TensorEntry] = [:]
    /// Tensor names in file order.
    public private(set) var names: [String] = []
    public private(set) var files: [String] = []
    /// How matrices bound from this directory multiply block-quantised weights.
    public var activations: ActivationFormat = .q8

    public init(directory: String, entries: [TensorEntry]) {
        self.directory = directory
        for e in entries {
            if self.entries[e.name] == nil { names.append(e.name) }
            self.entries[e.name] = e
        }
    }

    /// Opens the weights of a Hugging Face model directory.
    public init(modelDirectory dir: String) throws {
        directory = dir
        let indexPath = dir + "/model.safetensors.index.json"
        let singlePath = dir + "/model.safetensors"
        if fileExists(indexPath) {
            let bytes = try readFile(indexPath)
            let json: JSONValue
            do { json = try JSONParser.parse(bytes) } catch let e as JSONError {
                throw FormatError.index(file: indexPath, message: "not valid JSON at byte offset \(e.offset): \(e.message)")
            }
            guard let map = json["weight_map"]?.objectMembers else {
                throw FormatError.index(file: indexPath, message: "missing object 'weight_map'")
            }
            var shardNames: [String] = []
            for (tensor, v) in map {
                guard let f = v.stringValue else {
                    throw FormatError.index(file: indexPath, message: "weight_map entry '\(tensor)' is not a file name")
                }
                guard !f.isEmpty, !f.contains("/"), !f.contains("\\"), f != ".", f != ".." else {
                    throw FormatError.index(file: indexPath, message: "weight_map entry '\(tensor)' names '\(f)', which is not a plain file name in the model directory")
                }
                if !shardNames.contains(f) { shardNames.append(f) }
            }
            var shards: [String: SafetensorsFile] = [:]
            for f in shardNames {
                let p = dir + "/" + f
                guard fileExists(p) else {
                    let t = map.first(where: { $0.1.stringValue == f })!.0
                    throw FormatError.index(file: indexPath, message: "shard '\(f)' (holding tensor '\(t)') does not exist")
                }
                shards[f] = try SafetensorsFile(path: p)
            }
            var byShard: [String: [String: TensorEntry]] = [:]
            for (f, s) in shards {
                byShard[f] = Dictionary(s.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            }
            for (tensor, v) in map {
                let f = v.stringValue!
                guard let e = byShard[f]?[tensor] else {
                    throw FormatError.index(file: indexPath, message: "tensor '\(tensor)' is mapped to '\(f)' but that shard does not hold it")
                }
                entries[tensor] = e
                names.append(tensor)
            }
            files = shardNames
        } else if fileExists(singlePath) {
            let s = try SafetensorsFile(path: singlePath)
            for t in s.tensors {
                entries[t.name] = t
                names.append(t.name)
            }
            files = ["model.safetensors"]
        } else {
            throw FormatError.io("\(dir): no model.safetensors or model.safetensors.index.json")
        }
    }

    public subscript(name: String) -> TensorEntry? { entries[name] }

    private var used = Set<String>()

    /// Records that a model bound `name` (so what is left over can be reported).
    public func markUsed(_ name: String) { used.insert(name) }

    /// Tensors no one bound, in file order (e.g. multi-token-prediction layers).
    public var unusedNames: [String] { names.filter { !used.contains($0) } }

    /// The tensor `name`, or an error naming it and the directory.
    public func require(_ name: String) throws -> TensorEntry {
        guard let e = entries[name] else { throw FormatError.missingTensor(name: name, directory: directory) }
        return e
    }
}

/// Whether `path` exists as a regular file.
public func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
}

/// Reads a whole (small) file, such as a JSON config.
public func readFile(_ path: String, limit: Int = 1 << 30) throws -> [UInt8] {
    let m: MappedFile
    do { m = try MappedFile(path: path) } catch { throw FormatError.io("\(error)") }
    guard m.size <= limit else { throw FormatError.io("\(path): \(m.size) bytes is larger than the \(limit)-byte limit") }
    return Array(m.bytes(at: 0, count: m.size))
}
