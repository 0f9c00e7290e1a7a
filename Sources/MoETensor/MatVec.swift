import MoEKernelsC
// Dot products and matrix products over f32 / f16 / bf16 weights with f32 activations.
// Every fast kernel has a plain reference twin below it; MoETensorTests compares them.
// No Foundation here: this file is hot.

// MARK: - Dot products (fast)

/// How one weight format turns its bytes into f32 lanes; `dot` is specialised for each.
private protocol LaneLoader {
    static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
    static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float
}

private enum F32Lanes: LaneLoader {
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
    }
}

private enum BF16Lanes: LaneLoader {
    // Widen to 32 bits and shift: vpmovzxwd + vpslld, no library call.
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        let h = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD8<Float>.self)
    }
    // Spelled out rather than calling bf16ToFloat: debug builds compile this module file by file
    // and cannot inline a function from another file, which left a call in dotBF16's tail.
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) << 16)
    }
}

private enum F16Lanes: LaneLoader {
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        #if !(os(macOS) && arch(x86_64))
        // vcvtph2ps with F16C.
        return SIMD8<Float>(p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self))
        #else
        var r = SIMD8<Float>()
        for k in 0..<8 { r[k] = load1(p, i &+ k) }
        return r
        #endif
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        #if !(os(macOS) && arch(x86_64))
        // vcvtph2ps, inline even in debug builds (halfToFloat, in another file, would be a call there).
        return Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
        #else
        return halfToFloat(p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
        #endif
    }
}

/// FP8 e4m3 lanes, decoded as **value · 2^-8**: the byte's sign, exponent and mantissa bits moved
/// into an IEEE half (`s eeee mmm` -> `s 0eeee mmm0000000`) give exactly that, subnormals included,
/// and F16C converts halves in one instruction. Callers multiply the 2^8 back in with the block scale.
private enum F8Lanes: LaneLoader {
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        let u = SIMD8<UInt16>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: i, as: SIMD8<UInt8>.self))
        let bits = ((u & 0x80) &<< 8) | ((u & 0x7F) &<< 7)
        #if !(os(macOS) && arch(x86_64))
        return SIMD8<Float>(unsafeBitCast(bits, to: SIMD8<Float16>.self))
        #else
        var r = SIMD8<Float>()
        for k in 0..<8 { r[k] = halfToFloat(bits[k]) }
        return r
        #endif
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        e4m3ToFloat(p.load(fromByteOffset: i, as: UInt8.self)) * (1.0 / 256)
    }
}

/// F8Lanes values are scaled by 2^-8; this undoes it.
private let fp8Unscale: Float = 256

/// Σ w[i]·x[i] with four independent FMA accumulators (hides FMA latency).
@inline(__always)
private func dot<L: LaneLoader>(_: L.Type, _ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let xr = UnsafeRawPointer(x)
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i &+ 32 <= n {
        a0.addProduct(L.load8(w, i), F32Lanes.load8(xr, i))
        a1.addProduct(L.load8(w, i &+ 8), F32Lanes.load8(xr, i &+ 8))
        a2.addProduct(L.load8(w, i &+ 16), F32Lanes.load8(xr, i &+ 16))
        a3.addProduct(L.load8(w, i &+ 24), F32Lanes.load8(xr, i &+ 24))
        i &+= 32
    }
    while i &+ 8 <= n {
        a0.addProduct(L.load8(w, i), F32Lanes.load8(xr, i))
        i &+= 8
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        s += L.load1(w, i) * x[i]
        i &+= 1
    }
    return s
}

/// Σ w[i]·x[i] for f32 weights at `w` (any alignment).
public func dotF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float { dot(F32Lanes.self, w, x, n) }

/// Σ w[i]·x[i] for bf16 weights.
public func dotBF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float { dot(BF16Lanes.self, w, x, n) }

/// Σ w[i]·x[i] for IEEE f16 weights.
public func dotF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float { dot(F16Lanes.self, w, x, n) }

/// Σ w[i]·x[i] for FP8 e4m3 weights (no scale applied).
public func dotE4M3(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var one: Float = 1, out: Float = 0
    moe_dot_fp8_tokens(w.assumingMemoryBound(to: UInt8.self), n, &one, max(n, 1), x, n, &out, 1, 1)
    return out
}

/// Row `r` of `w` dotted with `x`.
@inline(__always)
public func dotRow(_ w: WeightMatrix, _ r: Int, _ x: UnsafePointer<Float>) -> Float {
    let p = w.base + r &* w.rowBytes
    switch w.dtype {
    case .f32: return dotF32(p, x, w.cols)
    case .bf16: return dotBF16(p, x, w.cols)
    case .f16: return dotF16(p, x, w.cols)
    case .f8e4m3:
        var out: Float = 0
        moe_dot_fp8_tokens(p.assumingMemoryBound(to: UInt8.self), w.cols, w.scaleRow(r), w.blockCols, x, w.cols, &out, 1, 1)
        return out
    case .q8_0: return moe_dot_q8_0_f32(p, x, w.cols / 32)
    case .q4_0: return moe_dot_q4_0_f32(p, x, w.cols / 32)
    case .q4_1: return moe_dot_q4_1_f32(p, x, w.cols / 32)
    case _ where w.dtype.isBlockQuantized: return dotDequantized(p, w.dtype, x, w.cols)
    default: preconditionFailure("dotRow: unsupported dtype \(w.dtype)")
    }
}

/// Σ w·x for a block-quantised row without an f32-activation kernel: dequantised one block at a
/// time into a stack buffer, then an f32 dot.
@inline(__always)
private func dotDequantized(_ p: UnsafeRawPointer, _ dtype: DType, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let bs = dtype.blockSize, bb = dtype.blockBytes
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: bs) { buf in
        let tmp = buf.baseAddress!
        var s: Float = 0
        for b in 0..<(n / bs) {
            dequantizeBlocks(p + b &* bb, dtype: dtype, count: bs, into: tmp)
            s += dot(F32Lanes.self, UnsafeRawPointer(tmp), x + b &* bs, bs)
        }
        return s
    }
}

/// `y[c] += a · w[r, c]` over the row's columns: the transposed product that MLA's absorbed
/// attention needs (a query folded through the key up-projection).
public func accumulateRow(_ w: WeightMatrix, _ r: Int, scale a: Float, into y: UnsafeMutablePointer<Float>) {
    let p = w.base + r &* w.rowBytes
    switch w.dtype {
    case .f32: axpy(F32Lanes.self, p, a, y, w.cols)
    case .bf16: axpy(BF16Lanes.self, p, a, y, w.cols)
    case .f16: axpy(F16Lanes.self, p, a, y, w.cols)
    case .f8e4m3:
        var c = 0, j = 0
        while c < w.cols {
            let n = min(w.blockCols, w.cols &- c)
            axpy(F8Lanes.self, p + c, a * (w.scale(row: r, block: j) * fp8Unscale), y + c, n)
            c &+= n
            j &+= 1
        }
    default:
        // Block-quantised rows: dequantise, then accumulate (MLA's absorbed path only).
        let row = UnsafeMutablePointer<Float>.allocate(capacity: w.cols)
        defer { row.deallocate() }
        w.copyRow(r, to: row)
        for c in 0..<w.cols { y[c] += a * row[c] }
    }
}

@inline(__always)
private func axpy<L: LaneLoader>(_: L.Type, _ w: UnsafeRawPointer, _ a: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let yr = UnsafeMutableRawPointer(y)
    let av = SIMD8<Float>(repeating: a)
    var i = 0
    while i &+ 8 <= n {
        var v = yr.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        v.addProduct(av, L.load8(w, i))
        yr.storeBytes(of: v, toByteOffset: i &* 4, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < n {
        y[i] += a * L.load1(w, i)
        i &+= 1
    }
}

/// Reference twin of `accumulateRow`.
public func accumulateRowReference(_ w: WeightMatrix, _ r: Int, scale a: Float, into y: UnsafeMutablePointer<Float>) {
    let row = UnsafeMutablePointer<Float>.allocate(capacity: w.cols)
    defer { row.deallocate() }
    w.copyRow(r, to: row)
    for c in 0..<w.cols { y[c] += a * row[c] }
}

// MARK: - Dot products (reference twins)

/// Plain scalar twin of `dotF32` / `dotBF16` / `dotF16`, accumulating in Double.
public func dotReference(_ w: UnsafeRawPointer, dtype: DType, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var s = 0.0
    for i in 0..<n {
        let wi: Float
        switch dtype {
        case .f32: wi = w.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        case .bf16: wi = bf16ToFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
        case .f16: wi = halfToFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
        case .f8e4m3: wi = e4m3ToFloat(w.load(fromByteOffset: i, as: UInt8.self))
        default: preconditionFailure("dotReference: unsupported dtype \(dtype)")
        }
        s += Double(wi) * Double(x[i])
    }
    return Float(s)
}

// MARK: - Matrix products

/// `y = x · wᵀ`: `[tokens, cols] x [rows, cols]ᵀ -> [tokens, rows]`, rows split across the pool.
/// Each weight row is read once and applied to every token while it is in cache.
public func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                   tokens: Int, pool: ThreadPool, counters: KernelCounters? = nil) {
    counters?.matmul(w, tokens: tokens)
    let rows = w.rows
    // Small problems are not worth waking the pool for.
    let serial = rows &* w.cols &* tokens < 16_384 || pool.threadCount == 1
    let prep = ActivationPrep(w)
    guard prep != .none else {
        if serial { matmulRows(w, x, y, tokens: tokens, range: 0..<rows); return }
        pool.parallelFor(rows) { range in matmulRows(w, x, y, tokens: tokens, range: range) }
        return
    }
    let stride = prep.rowBytes(w.cols)
    withUnsafeTemporaryAllocation(byteCount: max(stride &* tokens, 1), alignment: 64) { buf in
        let act = UnsafeMutableRawPointer(buf.baseAddress!)
        prep.prepare(x, cols: w.cols, tokens: tokens, into: act, for: w)
        let a = UnsafeRawPointer(act)
        if serial { preparedRows(w, prep, a, stride, y, tokens: tokens, range: 0..<rows); return }
        pool.parallelFor(rows) { range in preparedRows(w, prep, a, stride, y, tokens: tokens, range: range) }
    }
}

/// How a product's activations are prepared once before every weight row meets them (see
/// `ActivationFormat`): quantised to int8 blocks of llama.cpp's kind for block-quantised weights,
/// rounded to bf16 for BF16 and FP8 weights, or left in f32.
enum ActivationPrep: Equatable {
    case none
    case q8(kind: Int32)
    case bf16

    init(_ w: WeightMatrix) {
        guard w.activations.preparesActivations else { self = .none; return }
        if w.dtype == .bf16 || w.dtype == .f8e4m3 {
            self = .bf16
        } else if w.dtype.isBlockQuantized && moe_q8_supported() != 0 {
            self = .q8(kind: moe_q8_act_kind(w.dtype.ggmlCode))
        } else {
            self = .none
        }
    }

    /// Bytes of one prepared activation row of `cols` values (bf16 rows padded to 64 bytes).
    func rowBytes(_ cols: Int) -> Int {
        switch self {
        case .none: return 0
        case .q8: return Int(moe_q8_act_bytes(cols))
        case .bf16: return (cols &* 2 &+ 63) & ~63
        }
    }

    func prepare(_ x: UnsafePointer<Float>, cols: Int, tokens: Int, into act: UnsafeMutableRawPointer, for w: WeightMatrix) {
        switch self {
        case .none: break
        case .q8: moe_quantize_q8_rows(x, cols, tokens, act, w.dtype.ggmlCode)
        case .bf16:
            let stride = rowBytes(cols)
            for t in 0..<tokens {
                moe_f32_to_bf16_rows(x + t &* cols, cols, (act + t &* stride).assumingMemoryBound(to: UInt16.self))
            }
        }
    }
}

/// Rows `range` of `y = x · wᵀ` from activations prepared as `prep` (`stride` bytes per token).
@inline(__always)
func preparedRows(_ w: WeightMatrix, _ prep: ActivationPrep, _ act: UnsafeRawPointer, _ stride: Int,
                  _ y: UnsafeMutablePointer<Float>, tokens: Int, range: Range<Int>) {
    switch prep {
    case .none: preconditionFailure("preparedRows needs prepared activations")
    case .q8: q8Rows(w, act, stride, y, tokens: tokens, range: range)
    case .bf16:
        let fp8: Int32 = w.dtype == .f8e4m3 ? 1 : 0
        moe_dot_bf16act_rows(fp8, w.base, w.cols, w.rowBytes, w.scales?.assumingMemoryBound(to: Float.self), w.scaleColumns,
                             w.blockRows, w.blockCols, w.firstRow, range.lowerBound, range.upperBound,
                             act.assumingMemoryBound(to: UInt16.self), stride / 2, y, w.rows, tokens)
    }
}

/// Rows `range` of `y = x · wᵀ` from quantised activations `act` (`stride` bytes per token). A packed
/// matrix runs whole groups of eight rows, each by the range that holds the group's first row, so
/// ranges that split a matrix anywhere still cover every row once.
@inline(__always)
func q8Rows(_ w: WeightMatrix, _ act: UnsafeRawPointer, _ stride: Int, _ y: UnsafeMutablePointer<Float>,
            tokens: Int, range: Range<Int>) {
    let rows = w.rows, cols = w.cols, rb = w.rowBytes, code = w.dtype.ggmlCode
    if let pk = w.packed {
        let gb = w.packedGroupBytes
        var g = (range.lowerBound + 7) / 8 * 8
        while g < range.upperBound {
            _ = moe_dot_q8_x8_tokens(code, pk + g / 8 &* gb, cols, act, stride, y + g, rows, tokens)
            g &+= 8
        }
        return
    }
    for r in range { _ = moe_dot_q8_tokens(code, w.base + r &* rb, cols, act, stride, y + r, rows, tokens) }
}

/// The rows `range` of `matmul` with f32 activations, on the calling thread.
public func matmulRows(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                       tokens: Int, range: Range<Int>) {
    switch w.dtype {
    case .f32, .bf16, .f16:
        // wide.c: four-row tiles (decode), AVX-512 four-token tiles and packed panels (prompts).
        _ = moe_dot_wide_rows(w.dtype.ggmlCode, w.base, w.cols, w.rowBytes, range.lowerBound, range.upperBound,
                              x, w.cols, y, w.rows, tokens)
    case .q8_0, .q4_0, .q4_1:
        // Several tokens per weight row: each block is unpacked once per four tokens.
        let rows = w.rows, cols = w.cols, blocks = cols / 32, rb = w.rowBytes
        for r in range {
            let p = w.base + r &* rb
            switch w.dtype {
            case .q4_0: moe_dot_q4_0_f32_tokens(p, x, cols, y + r, rows, tokens, blocks)
            case .q4_1: moe_dot_q4_1_f32_tokens(p, x, cols, y + r, rows, tokens, blocks)
            default: moe_dot_q8_0_f32_tokens(p, x, cols, y + r, rows, tokens, blocks)
            }
        }
    case .f8e4m3:
        // Four rows per activation load for one token, each sixteen weights decoded once per four tokens otherwise (fp8.c).
        moe_dot_fp8_rows(w.base.assumingMemoryBound(to: UInt8.self), w.cols, w.rowBytes, w.scales!.assumingMemoryBound(to: Float.self),
                         w.scaleColumns, w.blockRows, w.blockCols, w.firstRow, range.lowerBound, range.upperBound, x, w.cols, y, w.rows, tokens)
    case _ where w.dtype.isBlockQuantized:
        let rows = w.rows, cols = w.cols
        for r in range {
            for t in 0..<tokens { y[t &* rows &+ r] = dotRow(w, r, x + t &* cols) }
        }
    default: preconditionFailure("matmul: unsupported dtype \(w.dtype)")
    }
}

/// Reference twin of `matmul`: scalar, single-threaded.
public func matmulReference(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            tokens: Int) {
    let row = UnsafeMutablePointer<Float>.allocate(capacity: max(w.cols, 1))
    defer { row.deallocate() }
    for r in 0..<w.rows {
        w.copyRow(r, to: row)   // scales applied
        for t in 0..<tokens {
            var s = 0.0
            for c in 0..<w.cols { s += Double(row[c]) * Double(x[t * w.cols + c]) }
            y[t * w.rows + r] = Float(s)
        }
    }
}
