// Element-wise and small reductions used by the forward pass. No Foundation: hot file.
import MoEKernelsC
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `out = x / sqrt(mean(x²) + eps) * weight` over `n` elements (in place allowed).
public func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float, n: Int,
                    out: UnsafeMutablePointer<Float>) {
    var acc = SIMD8<Float>()
    var i = 0
    let xr = UnsafeRawPointer(x)
    while i &+ 8 <= n {
        let v = xr.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        acc.addProduct(v, v)
        i &+= 8
    }
    var ss = acc.sum()
    while i < n { ss += x[i] * x[i]; i &+= 1 }
    let inv = 1 / (ss / Float(n) + eps).squareRoot()
    for j in 0..<n { out[j] = weight[j] * (x[j] * inv) }
}

/// Plain twin of `rmsNorm`.
public func rmsNormReference(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float, n: Int,
                             out: UnsafeMutablePointer<Float>) {
    var ss = 0.0
    for j in 0..<n { ss += Double(x[j]) * Double(x[j]) }
    let inv = 1 / (ss / Double(n) + Double(eps)).squareRoot()
    for j in 0..<n { out[j] = Float(Double(weight[j]) * Double(x[j]) * inv) }
}

/// Numerically stable softmax over `n` elements, in place.
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    guard n > 0 else { return }
    var m = -Float.infinity
    for i in 0..<n where x[i] > m { m = x[i] }
    var s: Float = 0
    for i in 0..<n {
        let e = expf(x[i] - m)
        x[i] = e
        s += e
    }
    let inv = 1 / s
    for i in 0..<n { x[i] *= inv }
}

/// `gate[i] = silu(gate[i]) * up[i]` (SwiGLU), in place in `gate`.
public func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
    moe_swiglu(gate, up, n)
}

/// `y[i] += a * x[i]`.
public func addScaled(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ a: Float, _ n: Int) {
    for i in 0..<n { y[i] += a * x[i] }
}

public func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

/// Rotary embedding in the "rotate half" layout on the first `2*half` dims of one head vector:
/// `(x[i], x[i+half]) ← (x[i]·cos − x[i+half]·sin, x[i+half]·cos + x[i]·sin)`.
public func applyRotaryHalf(_ x: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                            half: Int) {
    for i in 0..<half {
        let a = x[i], b = x[i &+ half]
        x[i] = a * cos[i] - b * sin[i]
        x[i &+ half] = b * cos[i] + a * sin[i]
    }
}

/// Rotary embedding on interleaved pairs `(x[2i], x[2i+1])`, written back de-interleaved as
/// transformers does (`[rotated evens, rotated odds]`); q and k get the same layout, so their dot
/// product equals that of the interleaved rotation. `scratch` holds `2*half` floats.
public func applyRotaryInterleaved(_ x: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                                   half: Int, scratch: UnsafeMutablePointer<Float>) {
    for i in 0..<half {
        let a = x[2 &* i], b = x[2 &* i &+ 1]
        scratch[i] = a * cos[i] - b * sin[i]
        scratch[i &+ half] = b * cos[i] + a * sin[i]
    }
    for i in 0..<(2 &* half) { x[i] = scratch[i] }
}

/// LayerNorm with weight and bias (biased variance), in place allowed.
public func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                      n: Int, out: UnsafeMutablePointer<Float>) {
    var mean: Float = 0
    for i in 0..<n { mean += x[i] }
    mean /= Float(n)
    var v: Float = 0
    for i in 0..<n { v += (x[i] - mean) * (x[i] - mean) }
    let inv = 1 / (v / Float(n) + eps).squareRoot()
    for i in 0..<n { out[i] = (x[i] - mean) * inv * weight[i] + bias[i] }
}

/// Causal attention of one query head over cached positions `[first, last]`:
/// `out = softmax(scale · q·Kⱼ) · Vⱼ`. Keys and values are rows of `stride` floats starting at
/// `keys`/`values` (already offset to the head's slice). `scores` has room for `last-first+1` floats.
public func attendHead(query q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                       stride: Int, headDim: Int, first: Int, last: Int, scale: Float,
                       scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    moe_attend_head(q, keys, values, stride, headDim, first, last, scale, scores, out)
}

/// Attention of `group` query heads that share one key/value head (rows `qStride` apart), over
/// positions `[first, last]`, unnormalised so that chunks of positions combine: per query g, `m[g]`
/// the largest score, `l[g]` = Σ e^(s - m[g]) and `o[g·headDim...]` = Σ e^(s - m[g]) · v. Each key row
/// is read once for the group. `scores` has room for `group · (last-first+1)` floats.
public func attendGroup(query q: UnsafePointer<Float>, qStride: Int, group: Int, keys: UnsafePointer<Float>,
                        values: UnsafePointer<Float>, stride: Int, headDim: Int, first: Int, last: Int, scale: Float,
                        scores: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, l: UnsafeMutablePointer<Float>,
                        o: UnsafeMutablePointer<Float>) {
    moe_attend_partial(q, qStride, group, keys, values, stride, headDim, first, last, scale, scores, m, l, o)
}
