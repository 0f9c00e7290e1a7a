import Dispatch
import MoEKernelsC
/// A row-major matrix `[rows, cols]` of weights read in place (from a mapping or owned storage),
/// in PyTorch `Linear` layout: row `r` holds the input weights of output `r`.
public struct WeightMatrix: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let dtype: DType
    public let rows: Int
    public let cols: Int
    /// Keeps the memory that `base` points into alive.
    public let owner: AnyObject
    /// Block scales of FP8 weights: f32 `[ceil(allRows/blockRows), ceil(cols/blockCols)]`, multiplied
    /// in (DeepSeek's `weight_scale_inv`). Block (i, j) covers rows i·b…min((i+1)·b, rows) and the same
    /// for columns, so edge blocks may be partial.
    public let scales: UnsafeRawPointer?
    public let blockRows: Int
    public let blockCols: Int
    /// Index of row 0 in the scale grid's rows (non-zero for a row view).
    public let firstRow: Int
    /// How block-quantised, BF16 and FP8 weights meet their activations (F32 and F16 ignore it).
    public var activations: ActivationFormat = .q8
    /// The rows repacked eight at a time for the integer kernels (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K;
    /// see x8.c), or nil.
    /// `base` keeps the original layout for row lookups (embeddings).
    public private(set) var packed: UnsafeRawPointer?
    private var packedOwner: AnyObject?

    public init(base: UnsafeRawPointer, dtype: DType, rows: Int, cols: Int, owner: AnyObject) {
        precondition(dtype.isComputable && dtype != .f8e4m3, "WeightMatrix needs a computable dtype, got \(dtype)")
        precondition(cols % dtype.blockSize == 0, "rows of \(dtype) must hold whole blocks")
        self.base = base
        self.dtype = dtype
        self.rows = rows
        self.cols = cols
        self.owner = owner
        scales = nil
        blockRows = 1
        blockCols = 1
        firstRow = 0
    }

    /// A block-scaled FP8 (e4m3) matrix.
    public init(fp8 base: UnsafeRawPointer, rows: Int, cols: Int, scales: UnsafeRawPointer, blockRows: Int, blockCols: Int,
                firstRow: Int = 0, owner: AnyObject) {
        precondition(blockRows > 0 && blockCols > 0)
        self.base = base
        dtype = .f8e4m3
        self.rows = rows
        self.cols = cols
        self.owner = owner
        self.scales = scales
        self.blockRows = blockRows
        self.blockCols = blockCols
        self.firstRow = firstRow
    }

    /// Bytes of one row (whole blocks for quantised types).
    public var rowBytes: Int { dtype.blockSize == 1 ? cols * dtype.size : cols / dtype.blockSize * dtype.blockBytes }
    public var byteCount: Int { rows * rowBytes }
    /// Scale columns per block row.
    public var scaleColumns: Int { (cols + blockCols - 1) / blockCols }
    /// Bytes of the scales these rows use.
    public var scaleByteCount: Int {
        guard scales != nil, rows > 0 else { return 0 }
        let firstBlock = firstRow / blockRows, lastBlock = (firstRow + rows - 1) / blockRows
        return (lastBlock - firstBlock + 1) * scaleColumns * 4
    }

    /// The block scales of row `r` (one per column block).
    @inline(__always) public func scaleRow(_ r: Int) -> UnsafePointer<Float> {
        (scales! + ((firstRow &+ r) / blockRows) &* scaleColumns &* 4).assumingMemoryBound(to: Float.self)
    }

    /// The scale of row `r`'s column block `j`.
    @inline(__always) public func scale(row r: Int, block j: Int) -> Float {
        scales!.loadUnaligned(fromByteOffset: (((firstRow &+ r) / blockRows) &* scaleColumns &+ j) &* 4, as: Float.self)
    }

    /// Rows `[start, start+count)` as a matrix of their own (a view, no copy).
    public func rows(_ start: Int, count: Int) -> WeightMatrix {
        precondition(start >= 0 && count >= 0 && start + count <= rows)
        if let scales {
            var v = WeightMatrix(fp8: base + start * rowBytes, rows: count, cols: cols, scales: scales,
                                 blockRows: blockRows, blockCols: blockCols, firstRow: firstRow + start, owner: owner)
            v.activations = activations
            return v
        }
        var v = WeightMatrix(base: base + start * rowBytes, dtype: dtype, rows: count, cols: cols, owner: owner)
        v.activations = activations
        if let packed, start % 8 == 0, count % 8 == 0 {
            v.packed = packed + start / 8 * packedGroupBytes
            v.packedOwner = packedOwner
        }
        return v
    }

    /// Whether `packedForKernels()` would repack this matrix.
    public var canPack: Bool {
        moe_x8_block_bytes(dtype.ggmlCode) > 0 && cols % Int(moe_x8_row_block(dtype.ggmlCode)) == 0 && rows % 8 == 0 && rows > 0 && activations == .q8 && moe_q8_supported() != 0
    }

    /// Weight bytes a product reads: the packed copy's when there is one (Q4_K's is 2.8% larger).
    public var bytesRead: Int { packed != nil ? rows / 8 * packedGroupBytes : byteCount }

    /// Bytes of one packed group of eight rows.
    public var packedGroupBytes: Int {
        let code = dtype.ggmlCode
        return cols / Int(moe_x8_row_block(code)) * Int(moe_x8_block_bytes(code))
    }

    /// This matrix with an eight-row interleaved copy for the integer kernels (when `canPack`): each
    /// group of eight rows takes about the bytes of eight rows (Q4_K: 2.8% more). The original's
    /// pages in a mapped file are handed back (`MappedFile.release`).
    public func packedForKernels() -> WeightMatrix {
        guard canPack, packed == nil else { return self }
        let groupBytes = packedGroupBytes, groups = rows / 8
        // moe_x8_pack writes every byte of a group: no zero-fill first.
        let buf = OwnedBuffer(byteCount: groups * groupBytes, zeroed: false)
        let code = dtype.ggmlCode, rowBytes = rowBytes, cols = cols
        let src = Int(bitPattern: base), dst = Int(bitPattern: buf.pointer)   // addresses: Sendable
        // Large matrices are packed on every core: most of a load's time is the kernel handing out
        // (and zeroing) the new pages, which then happens on all cores at once.
        let parts = groups * groupBytes >= 1 << 20 ? min(groups, ThreadPool.processorCount * 4) : 1
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for g in (groups * part / parts)..<(groups * (part + 1) / parts) {
                _ = moe_x8_pack(code, UnsafeRawPointer(bitPattern: src + g * 8 * rowBytes), rowBytes, cols,
                                UnsafeMutableRawPointer(bitPattern: dst + g * groupBytes))
            }
        }
        // The original rows are still read for row lookups (a tied embedding), rarely: hand their
        // pages back so the process does not hold the matrix twice (they fault in again if read).
        (owner as? MappedFile)?.release(base, count: byteCount)
        var m = self
        m.packed = UnsafeRawPointer(buf.pointer)
        m.packedOwner = buf
        return m
    }

    /// Writes row `r` converted to f32 (scales applied) into `out[0..<cols]`.
    public func copyRow(_ r: Int, to out: UnsafeMutablePointer<Float>) {
        convertToFloat(base + r * rowBytes, dtype: dtype, count: cols, into: out)
        if scales != nil {
            for c in 0..<cols { out[c] *= scale(row: r, block: c / blockCols) }
        }
    }
}

/// How the kernels multiply block-quantised (GGML) weights.
public enum ActivationFormat: String, Sendable {
    /// Activations quantised to int8 once per product exactly as llama.cpp quantises them for the
    /// weight type (Q8_0, Q8_1 or Q8_K), and integer dot products: llama.cpp's arithmetic, and fast.
    /// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q4_K matrices are repacked at load (a copy in memory; the
    /// original's pages in the mapped file are handed back).
    case q8
    /// The same arithmetic on the weights where they lie in the mapped file, without repacking: no
    /// copy, slower for the repackable types.
    case q8Mapped = "q8-mapped"
    /// f32 activations against dequantised weights: exact against a reference that dequantises the
    /// weights (transformers), slower.
    case f32

    /// Whether activations are prepared (int8 or bf16) rather than used in f32.
    public var preparesActivations: Bool { self != .f32 }
}

/// Storage owned by the process, for weights built in memory (tests, synthetic models).
public final class OwnedBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int
    /// Zero-filled unless `zeroed` is false (the caller writes every byte).
    public init(byteCount: Int, zeroed: Bool = true) {
        count = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        if zeroed { pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1)) }
    }
    deinit { pointer.deallocate() }
}

/// Converts `count` elements of `dtype` at `src` (any alignment) to f32.
public func convertToFloat(_ src: UnsafeRawPointer, dtype: DType, count: Int, into out: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        for i in 0..<count { out[i] = src.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
    case .f16:
        for i in 0..<count { out[i] = halfToFloat(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
    case .bf16:
        for i in 0..<count { out[i] = bf16ToFloat(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
    case .f8e4m3:
        for i in 0..<count { out[i] = e4m3ToFloat(src.load(fromByteOffset: i, as: UInt8.self)) }
    case _ where dtype.isBlockQuantized:
        dequantizeBlocks(src, dtype: dtype, count: count, into: out)
    default:
        preconditionFailure("convertToFloat: no conversion from \(dtype)")
    }
}

/// FP8 e4m3 (OCP "fn": no infinities, 0x7F/0xFF are NaN) -> f32.
@inline(__always) public func e4m3ToFloat(_ b: UInt8) -> Float {
    let sign: Float = b & 0x80 != 0 ? -1 : 1
    let exp = Int((b >> 3) & 0xF), mant = Float(b & 7)
    if exp == 15 && b & 7 == 7 { return .nan }
    if exp == 0 { return sign * mant * (1.0 / 512) }        // subnormal: mant · 2^-9
    return sign * (1 + mant / 8) * Float(sign: .plus, exponent: exp - 7, significand: 1)
}

/// f32 -> FP8 e4m3 with round-to-nearest-even and saturation to ±448 (tests, synthetic models).
public func floatToE4M3(_ x: Float) -> UInt8 {
    if x.isNaN { return 0x7F }
    let sign: UInt8 = x.sign == .minus ? 0x80 : 0
    let a = min(abs(x), 448)
    var best: UInt8 = 0
    var bestErr = Float.infinity
    for code in UInt8(0)...UInt8(0x7E) {
        let v = e4m3ToFloat(code)
        let err = abs(v - a)
        if err < bestErr || (err == bestErr && code & 1 == 0) {
            best = code
            bestErr = err
        }
    }
    return sign | best
}

@inline(__always) public func bf16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Round-to-nearest-even f32 -> bf16, as PyTorch does (NaN kept quiet).
@inline(__always) public func floatToBF16(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
    let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

/// IEEE half -> f32 done with integer arithmetic, so it needs no Float16 support from the platform.
@inline(__always) public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int32((h >> 10) & 0x1F)
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        // Subnormal half: value = mant * 2^-24.
        let v = Float(mant) * (1.0 / 16_777_216.0)
        return sign != 0 ? -v : v
    }
    if exp == 31 {
        return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
    }
    return Float(bitPattern: sign | (UInt32(exp - 15 + 127) << 23) | (mant << 13))
}

/// f32 -> IEEE half with round-to-nearest-even (tests and synthetic models).
public func floatToHalf(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exp = Int32((bits >> 23) & 0xFF)
    var mant = bits & 0x7F_FFFF
    if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
    let e = exp - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }
        mant |= 0x80_0000
        let shift = UInt32(14 - e)
        var half = mant >> shift
        let rem = mant & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        if rem > halfway || (rem == halfway && (half & 1) == 1) { half += 1 }
        return sign | UInt16(half)
    }
    var half = UInt32(e) << 10 | (mant >> 13)
    let rem = mant & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1) { half += 1 }
    return sign | UInt16(truncatingIfNeeded: half)
}
