#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Matrix-vector throughput of one weight format, measured on a matrix larger than the caches.
public struct KernelBenchmarkResult: Sendable {
    public var dtype: DType
    public var threads: Int
    public var rows: Int
    public var cols: Int
    /// Median seconds per matrix-vector product, and the fastest and slowest run.
    public var medianSeconds: Double
    public var minSeconds: Double
    public var maxSeconds: Double
    /// Bytes of weights (and FP8 scales) read per product.
    public var bytes: Int
    public var gigabytesPerSecond: Double { Double(bytes) / medianSeconds / 1e9 }
    public var gigaweightsPerSecond: Double { Double(rows * cols) / medianSeconds / 1e9 }
}

/// A `rows × cols` matrix of `dtype` with random values (FP8 with 128×128 block scales) and an
/// activation vector, ready to time `matmul` with one token.
public final class MatVecBench: @unchecked Sendable {
    public let w: WeightMatrix
    /// Bytes of weights (and FP8 scales) one product reads.
    public let bytes: Int
    private let owners: [AnyObject]
    private let x: UnsafeMutablePointer<Float>
    private let y: UnsafeMutablePointer<Float>

    public init(dtype: DType, rows: Int, cols: Int, activations: ActivationFormat = .q8) {
        let n = rows * cols
        let weights = OwnedBuffer(byteCount: dtype.bytes(elements: n)!, zeroed: false)   // every byte is written below
        var state: UInt32 = 12345
        func next() -> UInt32 { state = state &* 1_664_525 &+ 1_013_904_223; return state }
        switch dtype {
        case .f32:
            let p = weights.pointer.assumingMemoryBound(to: Float.self)
            for i in 0..<n { p[i] = Float(Int32(bitPattern: next()) >> 16) / 32768 }
        case .bf16, .f16:
            let p = weights.pointer.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n {
                let v = Float(Int32(bitPattern: next()) >> 16) / 32768
                p[i] = dtype == .bf16 ? floatToBF16(v) : floatToHalf(v)
            }
        case _ where dtype.isBlockQuantized:
            let p = weights.pointer.assumingMemoryBound(to: UInt8.self)
            let bytes = dtype.bytes(elements: n)!
            for i in 0..<bytes { p[i] = UInt8(truncatingIfNeeded: next() >> 24) }
            // Valid scales (and mins) in every block.
            for b in 0..<(n / dtype.blockSize) {
                let o = b * dtype.blockBytes
                for (field, value) in blockScaleFields(dtype) {
                    weights.pointer.storeBytes(of: floatToHalf(value), toByteOffset: o + field, as: UInt16.self)
                }
                if dtype == .mxfp4 { p[o] = 120 }
            }
        default:
            let p = weights.pointer.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { p[i] = UInt8(truncatingIfNeeded: next() >> 24) & 0x7E }   // no NaN codes
        }
        let block = 128
        let grid = ((rows + block - 1) / block) * ((cols + block - 1) / block)
        let scales = OwnedBuffer(byteCount: grid * 4)
        for i in 0..<grid { scales.pointer.storeBytes(of: Float(0.01), toByteOffset: i * 4, as: Float.self) }
        var m = dtype == .f8e4m3
            ? WeightMatrix(fp8: weights.pointer, rows: rows, cols: cols, scales: scales.pointer, blockRows: block, blockCols: block, owner: weights)
            : WeightMatrix(base: weights.pointer, dtype: dtype, rows: rows, cols: cols, owner: weights)
        m.activations = activations
        w = m.packedForKernels()
        bytes = w.bytesRead + w.scaleByteCount
        owners = [weights, scales]
        x = .allocate(capacity: cols)
        y = .allocate(capacity: rows)
        for i in 0..<cols { x[i] = Float(i % 7) * 0.1 }
    }

    deinit { x.deallocate(); y.deallocate() }

    /// Seconds for one product.
    public func time(pool: ThreadPool) -> Double {
        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        matmul(w, x, y, tokens: 1, pool: pool)
        clock_gettime(CLOCK_MONOTONIC, &t1)
        return Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9
    }
}

/// Times `matmul` with one token for `dtype` weights of `rows × cols` (random values; FP8 with
/// 128×128 block scales) over `repetitions` runs after a warm-up, activations prepared as `activations`.
public func benchmarkMatVec(dtype: DType, rows: Int, cols: Int, repetitions: Int, pool: ThreadPool,
                            activations: ActivationFormat = .q8) -> KernelBenchmarkResult {
    benchmarkMatVec(MatVecBench(dtype: dtype, rows: rows, cols: cols, activations: activations), repetitions: repetitions, pool: pool)
}

/// The same with matrices already built (one build serves every thread count).
public func benchmarkMatVec(_ bench: MatVecBench, repetitions: Int, pool: ThreadPool) -> KernelBenchmarkResult {
    let dtype = bench.w.dtype, rows = bench.w.rows, cols = bench.w.cols
    _ = bench.time(pool: pool)   // warm-up
    let times = (0..<max(1, repetitions)).map { _ in bench.time(pool: pool) }.sorted()
    return KernelBenchmarkResult(dtype: dtype, threads: pool.threadCount, rows: rows, cols: cols,
                                 medianSeconds: times[times.count / 2], minSeconds: times.first!, maxSeconds: times.last!,
                                 bytes: bench.bytes)
}

/// Bytes per second of two matrices timed alternately (one product of each per round, after a
/// warm-up), so that the machine's noise falls on both alike: the medians of `rounds` rounds.
public func compareMatVec(_ a: MatVecBench, _ b: MatVecBench, rounds: Int, pool: ThreadPool) -> (Double, Double) {
    _ = a.time(pool: pool)
    _ = b.time(pool: pool)
    var ta: [Double] = [], tb: [Double] = []
    for _ in 0..<max(1, rounds) {
        ta.append(a.time(pool: pool))
        tb.append(b.time(pool: pool))
    }
    ta.sort()
    tb.sort()
    return (Double(a.bytes) / ta[ta.count / 2], Double(b.bytes) / tb[tb.count / 2])
}

/// Byte offsets of the f16 scale fields in a block of `dtype`, with a harmless value for each.
func blockScaleFields(_ dtype: DType) -> [(Int, Float)] {
    switch dtype {
    case .q8_0, .q4_0, .q5_0: return [(0, 0.01)]
    case .q4_1, .q5_1, .q4_K, .q5_K: return [(0, 0.01), (2, -0.05)]
    case .q2_K: return [(80, 0.01), (82, 0.01)]
    case .q3_K: return [(108, 0.01)]
    case .q6_K: return [(208, 0.01)]
    default: return []
    }
}
