import MoEFormats
import MoETensor

/// Binds checkpoint tensors to the shapes a model expects. A missing tensor, a wrong shape or a
/// dtype the kernels cannot use throws an error naming the tensor.
public struct WeightBinder {
    public let tensors: TensorDirectory

    public init(_ tensors: TensorDirectory) { self.tensors = tensors }

    public func has(_ name: String) -> Bool { tensors[name] != nil }

    private func entry(_ name: String, shape: [Int]) throws -> TensorEntry {
        guard let e = tensors[name] else { throw ModelError.missingTensor("\(name) (in \(tensors.directory))") }
        guard e.shape == shape else { throw ModelError.shape(tensor: name, expected: shape, actual: e.shape) }
        guard e.dtype.isComputable else { throw ModelError.dtype(tensor: name, dtype: e.dtype.rawValue) }
        return e
    }

    /// A `[rows, cols]` matrix read in place.
    public func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        let e = try entry(name, shape: [rows, cols])
        return WeightMatrix(base: e.data ?? UnsafeRawPointer(bitPattern: 64)!, dtype: e.dtype, rows: rows, cols: cols, owner: e.file)
    }

    /// The `count` matrices `[rows, cols]` of a stacked `[count, rows, cols]` tensor (views, no copy).
    public func stacked(_ name: String, count: Int, rows: Int, cols: Int) throws -> [WeightMatrix] {
        let e = try entry(name, shape: [count, rows, cols])
        let base = e.data ?? UnsafeRawPointer(bitPattern: 64)!
        let step = rows * cols * e.dtype.size
        return (0..<count).map { WeightMatrix(base: base + $0 * step, dtype: e.dtype, rows: rows, cols: cols, owner: e.file) }
    }

    /// A 1-D tensor of `count` elements converted to f32 (norm weights and biases: small).
    public func vector(_ name: String, count: Int) throws -> [Float] {
        let e = try entry(name, shape: [count])
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
