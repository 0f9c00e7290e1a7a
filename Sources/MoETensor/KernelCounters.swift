/// What the kernels did, as they report it: the one observer behind the measured side of
/// accounting. Counted per call on the calling thread (a call covers all its worker threads).
public final class KernelCounters: @unchecked Sendable {
    /// Distinct weight parameters used (each matrix or vector once per call).
    public private(set) var params = 0
    /// Multiply-adds against weights: params × tokens for a matrix, one per element and token for
    /// a norm scale or bias (so FLOPs = 2 × params used, as the cost model predicts).
    public private(set) var weightMACs = 0
    /// Multiply-adds of attention scores and weighted values.
    public private(set) var attentionMACs = 0
    /// Weight bytes read, by stored element type.
    public private(set) var weightBytes: [DType: Int] = [:]
    /// Bytes of the key/value cache that attention read (each cached row counted once per call,
    /// however many query heads share it).
    public private(set) var cacheBytes = 0

    public init() {}

    /// A matrix product with `w` over `tokens` activations.
    public func matmul(_ w: WeightMatrix, tokens: Int) {
        params += w.rows * w.cols
        weightMACs += w.rows * w.cols * tokens
        weightBytes[w.dtype, default: 0] += w.bytesRead
        if w.scales != nil { weightBytes[.f32, default: 0] += w.scaleByteCount }
    }

    /// A weight vector (norm scale, bias) of `count` elements held as `dtype`, applied to `tokens`.
    public func vector(count: Int, tokens: Int, dtype: DType = .f32) {
        params += count
        weightMACs += count * tokens
        weightBytes[dtype, default: 0] += count * dtype.size
    }

    /// Rows of an embedding table read (a gather, no multiply).
    public func gather(bytes: Int, dtype: DType) {
        weightBytes[dtype, default: 0] += bytes
    }

    public func attention(macs: Int, cacheBytes bytes: Int = 0) {
        attentionMACs += macs
        cacheBytes += bytes
    }

    /// FLOPs done: two per multiply-add.
    public var flops: Int { 2 * (weightMACs + attentionMACs) }
    public var totalWeightBytes: Int { weightBytes.values.reduce(0, +) }

    public func reset() {
        params = 0
        weightMACs = 0
        attentionMACs = 0
        weightBytes = [:]
        cacheBytes = 0
    }
}
