#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoEFormats
import MoETensor

/// Writes GGUF files with re-quantised tensors, from a GGUF file (`moekit quantize`) or from
/// random weights for a config (`moekit synthesize`, for benchmarks).
///
/// Which type each tensor gets: an override whose pattern matches the name (first match wins), else
/// the target type for matrices, while vectors, norms, routers (`ffn_gate_inp`), `rope_freqs` and
/// `exp_probs_b` stay as they are. A K-quant needs rows of whole 256-blocks: other rows fall back as
/// llama.cpp does (Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0), and a 32-block type
/// on rows that are not whole blocks falls back to F16.
public struct QuantizePlan: Sendable {
    public var target: DType
    /// `(pattern, type)`: the pattern is a shell glob matched anywhere in the tensor name.
    public var overrides: [(String, DType)]

    public init(target: DType, overrides: [(String, DType)] = []) {
        self.target = target
        self.overrides = overrides
    }

    /// Types a GGUF file can be written in.
    public static let writable: [DType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .mxfp4]

    /// llama.cpp's `general.file_type` for a file mostly of `t`.
    public static func fileType(_ t: DType) -> Int {
        switch t {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .q5_0: return 8
        case .q5_1: return 9
        case .q2_K: return 10
        case .q3_K: return 11     // Q3_K_S: every matrix Q3_K
        case .q4_K: return 14     // Q4_K_S
        case .q5_K: return 16     // Q5_K_S
        case .q6_K: return 18
        case .bf16: return 32
        case .mxfp4: return 38
        default: return 0
        }
    }

    /// The GGUF type code a tensor of `t` is written with, or an error naming the tensor.
    static func code(_ t: DType, tensor: String) throws -> UInt32 {
        guard writable.contains(t) else { throw ModelError.badTensor(tensor, "cannot be written as \(t.rawValue)") }
        return UInt32(t.ggmlCode)
    }

    /// The type for tensor `name` of GGML dims `dims` now held as `current` (nil: keep it).
    public func type(for name: String, dims: [Int], current: DType?) -> DType? {
        var chosen: DType?
        if let o = overrides.first(where: { fnmatch("*" + $0.0 + "*", name, 0) == 0 }) {
            chosen = o.1
        } else {
            let keep = dims.count == 1 || name.hasSuffix("_norm.weight") || name.contains("ffn_gate_inp")
                || name.hasPrefix("rope_freqs") || name.contains("exp_probs_b")
            chosen = keep ? nil : target
        }
        guard var t = chosen else { return nil }
        if t.blockSize > 1 && dims[0] % t.blockSize != 0 {
            switch t {
            case .q2_K, .q3_K: t = .q4_0
            case .q4_K: t = .q5_0
            case .q5_K: t = .q5_1
            case .q6_K: t = .q8_0
            default: t = .f16
            }
            if dims[0] % t.blockSize != 0 { t = .f16 }
        }
        return t == current ? nil : t
    }
}

public enum Quantizer {
    /// One tensor of the output: where its values come from.
    struct Job {
        var name: String
        var dims: [Int]
        var type: UInt32
        /// Output element type when converted; nil when the bytes are copied.
        var dtype: DType?
        var copy: UnsafeRawBufferPointer?
        /// Writes row `r` (dims[0] values) as f32.
        var row: ((Int, UnsafeMutablePointer<Float>) -> Void)?
    }

    /// Summary of a written file.
    public struct Report: Sendable {
        public var tensors: [(name: String, from: String, to: String)] = []
        public var bytes = 0
    }

    /// Re-quantises a GGUF file: metadata copied with its value types (file type updated), each
    /// tensor converted as `plan` says or copied.
    public static func quantize(_ g: GGUFFile, to path: String, plan: QuantizePlan, pool: ThreadPool,
                                progress: ((Int, Int) -> Void)? = nil) throws -> Report {
        let w = GGUFWriter(alignment: g.alignment)
        for (k, v) in g.metadata {
            guard let t = g.metadataTypes[k] else { continue }
            w.set(k, v, as: t)
        }
        w.set("general.file_type", .uint(UInt64(QuantizePlan.fileType(plan.target))), as: .u32)
        w.set("general.quantization_version", .uint(2), as: .u32)
        var jobs: [Job] = []
        var report = Report()
        for t in g.tensors {
            let current = GGMLType.dtype(t.type)
            let bytes = g.file.bytes(at: t.offset, count: t.byteCount)
            guard let target = plan.type(for: t.name, dims: t.dims, current: current) else {
                jobs.append(Job(name: t.name, dims: t.dims, type: t.type, dtype: nil, copy: bytes, row: nil))
                report.tensors.append((t.name, t.typeName, t.typeName))
                continue
            }
            guard let src = current else {
                throw ModelError.badTensor(t.name, "has GGML type \(t.typeName), which MoEKit cannot convert")
            }
            let cols = t.dims[0]
            guard let srcRow = src.bytes(elements: cols) else { throw ModelError.badTensor(t.name, "rows are not whole blocks") }
            let base = bytes.baseAddress!
            jobs.append(Job(name: t.name, dims: t.dims, type: try QuantizePlan.code(target, tensor: t.name), dtype: target, copy: nil,
                            row: { r, out in convertToFloat(base + r * srcRow, dtype: src, count: cols, into: out) }))
            report.tensors.append((t.name, t.typeName, target.rawValue))
        }
        report.bytes = try write(w, jobs, to: path, pool: pool, progress: progress)
        return report
    }

    /// Writes `jobs` through `w`: rows converted in parallel, one tensor in memory at a time.
    static func write(_ w: GGUFWriter, _ jobs: [Job], to path: String, pool: ThreadPool,
                      progress: ((Int, Int) -> Void)?) throws -> Int {
        for j in jobs { try w.addTensor(name: j.name, dims: j.dims, type: j.type) }
        let total = w.tensors.reduce(0) { $0 + $1.byteCount }
        var done = 0
        try w.write(to: path) { i, emit in
            let j = jobs[i]
            defer {
                done += w.tensors[i].byteCount
                progress?(done, total)
            }
            if let c = j.copy {
                try emit(c)
                return
            }
            let dtype = j.dtype!, cols = j.dims[0], rows = j.dims.dropFirst().reduce(1, *)
            let rowBytes = dtype.bytes(elements: cols)!
            let out = UnsafeMutableRawPointer.allocate(byteCount: max(rows * rowBytes, 1), alignment: 64)
            defer { out.deallocate() }
            let fill = j.row!
            pool.parallelFor(rows) { range in
                let tmp = UnsafeMutablePointer<Float>.allocate(capacity: cols)
                defer { tmp.deallocate() }
                for r in range {
                    fill(r, tmp)
                    encodeRow(tmp, count: cols, as: dtype, into: out + r * rowBytes)
                }
            }
            try emit(UnsafeRawBufferPointer(start: out, count: rows * rowBytes))
        }
        return total
    }

    /// f32 values -> `dtype` bytes.
    static func encodeRow(_ x: UnsafePointer<Float>, count: Int, as dtype: DType, into out: UnsafeMutableRawPointer) {
        switch dtype {
        case .f32: out.copyMemory(from: x, byteCount: count * 4)
        case .f16: for i in 0..<count { out.storeBytes(of: floatToHalf(x[i]), toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16: for i in 0..<count { out.storeBytes(of: floatToBF16(x[i]), toByteOffset: 2 * i, as: UInt16.self) }
        default: quantizeBlocks(x, count: count, dtype: dtype, into: out)
        }
    }
}
