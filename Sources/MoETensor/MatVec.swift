// Dot products and matrix products over f32 / f16 / bf16 weights with f32 activations.
// Every fast kernel has a plain reference twin below it; MoETensorTests compares them.
// No Foundation here: this file is hot.

// MARK: - Dot products (fast)

@inline(__always)
private func loadF(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
    p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
}

@inline(__always)
private func loadBF16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
    let h = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt16>.self)
    let w = SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16
    return unsafeBitCast(w, to: SIMD8<Float>.self)
}

@inline(__always)
private func loadF16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
    #if !(os(macOS) && arch(x86_64))
    let h = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self)
    return SIMD8<Float>(h)
    #else
    var r = SIMD8<Float>()
    for k in 0..<8 { r[k] = halfToFloat(p.loadUnaligned(fromByteOffset: (i + k) * 2, as: UInt16.self)) }
    return r
    #endif
}

/// Σ w[i]·x[i] for f32 weights at `w` (any alignment).
public func dotF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let xr = UnsafeRawPointer(x)
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i &+ 32 <= n {
        a0.addProduct(loadF(w, i), loadF(xr, i))
        a1.addProduct(loadF(w, i &+ 8), loadF(xr, i &+ 8))
        a2.addProduct(loadF(w, i &+ 16), loadF(xr, i &+ 16))
        a3.addProduct(loadF(w, i &+ 24), loadF(xr, i &+ 24))
        i &+= 32
    }
    while i &+ 8 <= n {
        a0.addProduct(loadF(w, i), loadF(xr, i))
        i &+= 8
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        s += w.loadUnaligned(fromByteOffset: i &* 4, as: Float.self) * x[i]
        i &+= 1
    }
    return s
}

/// Σ w[i]·x[i] for bf16 weights.
public func dotBF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let xr = UnsafeRawPointer(x)
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i &+ 32 <= n {
        a0.addProduct(loadBF16(w, i), loadF(xr, i))
        a1.addProduct(loadBF16(w, i &+ 8), loadF(xr, i &+ 8))
        a2.addProduct(loadBF16(w, i &+ 16), loadF(xr, i &+ 16))
        a3.addProduct(loadBF16(w, i &+ 24), loadF(xr, i &+ 24))
        i &+= 32
    }
    while i &+ 8 <= n {
        a0.addProduct(loadBF16(w, i), loadF(xr, i))
        i &+= 8
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        s += bf16ToFloat(w.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) * x[i]
        i &+= 1
    }
    return s
}

/// Σ w[i]·x[i] for IEEE f16 weights.
public func dotF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let xr = UnsafeRawPointer(x)
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i &+ 32 <= n {
        a0.addProduct(loadF16(w, i), loadF(xr, i))
        a1.addProduct(loadF16(w, i &+ 8), loadF(xr, i &+ 8))
        a2.addProduct(loadF16(w, i &+ 16), loadF(xr, i &+ 16))
        a3.addProduct(loadF16(w, i &+ 24), loadF(xr, i &+ 24))
        i &+= 32
    }
    while i &+ 8 <= n {
        a0.addProduct(loadF16(w, i), loadF(xr, i))
        i &+= 8
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        s += halfToFloat(w.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) * x[i]
        i &+= 1
    }
    return s
}

/// Row `r` of `w` dotted with `x`.
@inline(__always)
public func dotRow(_ w: WeightMatrix, _ r: Int, _ x: UnsafePointer<Float>) -> Float {
    let p = w.base + r &* w.rowBytes
    switch w.dtype {
    case .f32: return dotF32(p, x, w.cols)
    case .bf16: return dotBF16(p, x, w.cols)
    case .f16: return dotF16(p, x, w.cols)
    default: preconditionFailure("dotRow: unsupported dtype \(w.dtype)")
    }
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
                   tokens: Int, pool: ThreadPool) {
    let rows = w.rows
    // Small problems are not worth waking the pool for.
    if rows &* w.cols &* tokens < 16_384 || pool.threadCount == 1 {
        matmulRows(w, x, y, tokens: tokens, range: 0..<rows)
        return
    }
    pool.parallelFor(rows) { range in
        matmulRows(w, x, y, tokens: tokens, range: range)
    }
}

/// The rows `range` of `matmul`, on the calling thread.
public func matmulRows(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                       tokens: Int, range: Range<Int>) {
    let rows = w.rows, cols = w.cols, rb = w.rowBytes
    switch w.dtype {
    case .f32:
        for r in range {
            let p = w.base + r &* rb
            for t in 0..<tokens { y[t &* rows &+ r] = dotF32(p, x + t &* cols, cols) }
        }
    case .bf16:
        for r in range {
            let p = w.base + r &* rb
            for t in 0..<tokens { y[t &* rows &+ r] = dotBF16(p, x + t &* cols, cols) }
        }
    case .f16:
        for r in range {
            let p = w.base + r &* rb
            for t in 0..<tokens { y[t &* rows &+ r] = dotF16(p, x + t &* cols, cols) }
        }
    default:
        preconditionFailure("matmul: unsupported dtype \(w.dtype)")
    }
}

/// Reference twin of `matmul`: scalar, single-threaded.
public func matmulReference(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            tokens: Int) {
    for t in 0..<tokens {
        for r in 0..<w.rows {
            y[t * w.rows + r] = dotReference(w.base + r * w.rowBytes, dtype: w.dtype, x + t * w.cols, w.cols)
        }
    }
}
