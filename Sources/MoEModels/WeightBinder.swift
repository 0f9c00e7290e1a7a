import MoEFormats
import MoETensor

/// Binds checkpoint tensors to the shapes a model expects. A missing tensor, a wrong shape or a
/// dtype the kernels cannot use throws an error naming the tensor.
public struct WeightBinder {
    public let tensors: TensorDirectory
    /// `weight_block_size` of an FP8 checkpoint (`quantization_config`), rows × columns.
    public let fp8Block: (rows: Int, cols: Int)?

    public init(_ tensors: TensorDirectory, fp8Block: (rows: Int, cols: Int)? = nil) {
        self.tensors = tensors
        self.fp8Block = fp8Block
    }

    public func has(_ name: String) -> Bool { tensors[name] != nil }

    private func entry(_ name: String, shape: [Int]) throws -> TensorEntry {
        guard let e = tensors[name] else { throw ModelError.missingTensor("\(name) (in \(tensors.directory))") }
        tensors.markUsed(name)
        guard e.shape == shape else { throw ModelError.shape(tensor: name, expected: shape, actual: e.shape) }
        guard e.dtype.isComputable else { throw ModelError.dtype(tensor: name, dtype: e.dtype.rawValue) }
        return e
    }

    /// A `[rows, cols]` matrix read in place. FP8 weights come with their block scales
    /// (`<name>_scale_inv`, f32 `[ceil(rows/b), ceil(cols/b)]`), which stay in place too.
    /// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q4_K matrices get an eight-row interleaved copy for the integer
    /// kernels (`packedForKernels`) unless `lookupOnly` (a matrix only read a row at a time: an
    /// embedding table, MLA's kv_b).
    public func matrix(_ name: String, rows: Int, cols: Int, lookupOnly: Bool = false) throws -> WeightMatrix {
        let e = try entry(name, shape: [rows, cols])
        let base = e.data ?? UnsafeRawPointer(bitPattern: 64)!
        guard e.dtype == .f8e4m3 else {
            var m = WeightMatrix(base: base, dtype: e.dtype, rows: rows, cols: cols, owner: e.file)
            m.activations = tensors.activations
            return lookupOnly ? m : m.packedForKernels()
        }
        guard let block = fp8Block else {
            throw ModelError.badTensor(name, "is FP8 but config.json has no quantization_config.weight_block_size")
        }
        let scaleName = name + "_scale_inv"
        guard let s = tensors[scaleName] else { throw ModelError.missingTensor("\(scaleName) (block scales of the FP8 tensor '\(name)')") }
        let grid = [(rows + block.rows - 1) / block.rows, (cols + block.cols - 1) / block.cols]
        guard s.shape == grid else { throw ModelError.shape(tensor: scaleName, expected: grid, actual: s.shape) }
        guard s.dtype == .f32 else { throw ModelError.badTensor(scaleName, "scales must be F32, found \(s.dtype.rawValue)") }
        // The kernels read the scales as floats in place.
        guard Int(bitPattern: s.data) % 4 == 0 else { throw ModelError.badTensor(scaleName, "its data is not 4-byte aligned in the file") }
        tensors.markUsed(scaleName)
        var m = WeightMatrix(fp8: base, rows: rows, cols: cols, scales: s.data ?? UnsafeRawPointer(bitPattern: 64)!,
                             blockRows: block.rows, blockCols: block.cols, owner: BothOwners(e.file, s.file))
        m.activations = tensors.activations
        return m
    }

    /// The `count` matrices `[rows, cols]` of a stacked `[count, rows, cols]` tensor (views, no copy).
    public func stacked(_ name: String, count: Int, rows: Int, cols: Int, lookupOnly: Bool = false) throws -> [WeightMatrix] {
        let e = try entry(name, shape: [count, rows, cols])
        guard e.dtype != .f8e4m3 else { throw ModelError.badTensor(name, "stacked FP8 tensors are not supported") }
        let base = e.data ?? UnsafeRawPointer(bitPattern: 64)!
        guard let step = e.dtype.bytes(elements: rows * cols) else {
            throw ModelError.badTensor(name, "rows of \(cols) do not hold whole \(e.dtype.rawValue) blocks")
        }
        return (0..<count).map {
            var m = WeightMatrix(base: base + $0 * step, dtype: e.dtype, rows: rows, cols: cols, owner: e.file)
            m.activations = tensors.activations
            return lookupOnly ? m : m.packedForKernels()
        }
    }

    /// A 1-D tensor of `count` elements converted to f32 (norm weights and biases: small).
    public func vector(_ name: String, count: Int) throws -> [Float] {
        let e = try entry(name, shape: [count])
        guard e.dtype != .f8e4m3 else { throw ModelError.badTensor(name, "1-D FP8 tensors are not supported") }
        var v = [Float](repeating: 0, count: count)
        if let d = e.data {
            v.withUnsafeMutableBufferPointer { convertToFloat(d, dtype: e.dtype, count: count, into: $0.baseAddress!) }
        }
        return v
    }

    public func optionalVector(_ name: String, count: Int) throws -> [Float]? {
        has(name) ? try vector(name, count: count) : nil
    }
}

/// Keeps two mapped files alive (an FP8 matrix and its scales may sit in different shards).
final class BothOwners: @unchecked Sendable {
    let a: AnyObject, b: AnyObject
    init(_ a: AnyObject, _ b: AnyObject) { self.a = a; self.b = b }
}
