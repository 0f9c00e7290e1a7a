// Quantisers: f32 -> GGML blocks. Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and MXFP4 follow the reference
// rounding of ggml (as the `gguf` Python package reproduces it), so they give the same bytes; the
// K-quants use our own search for each sub-block's scale and minimum (least squares over a few
// candidate scales), then quantise the sub-block scales and requantise the values with them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Quantises `count` values (whole blocks of `dtype`) from `x` into `out` (`dtype.bytes(elements:)` bytes).
public func quantizeBlocks(_ x: UnsafePointer<Float>, count: Int, dtype: DType, into out: UnsafeMutableRawPointer) {
    let bs = dtype.blockSize
    precondition(bs > 1 && count % bs == 0, "quantizeBlocks: \(count) values are not whole \(dtype) blocks")
    for b in 0..<(count / bs) {
        let xb = x + b * bs, o = out + b * dtype.blockBytes
        switch dtype {
        case .q8_0: quantQ8_0(xb, o)
        case .q4_0: quantQ4or5(xb, o, bits: 4, withMin: false)
        case .q4_1: quantQ4or5(xb, o, bits: 4, withMin: true)
        case .q5_0: quantQ4or5(xb, o, bits: 5, withMin: false)
        case .q5_1: quantQ4or5(xb, o, bits: 5, withMin: true)
        case .mxfp4: quantMXFP4(xb, o)
        case .q2_K: quantQ2K(xb, o)
        case .q3_K: quantQ3K(xb, o)
        case .q4_K: quantQ45K(xb, o, five: false)
        case .q5_K: quantQ45K(xb, o, five: true)
        case .q6_K: quantQ6K(xb, o)
        default: preconditionFailure("quantizeBlocks: \(dtype) is not block-quantised")
        }
    }
}

@inline(__always) private func put16(_ o: UnsafeMutableRawPointer, _ at: Int, _ v: Float) {
    o.storeBytes(of: floatToHalf(v), toByteOffset: at, as: UInt16.self)
}
@inline(__always) private func f16round(_ v: Float) -> Float { halfToFloat(floatToHalf(v)) }
/// Round half away from zero (C's roundf).
@inline(__always) private func roundAway(_ v: Float) -> Float { v.rounded(.toNearestOrAwayFromZero) }

private func quantQ8_0(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer) {
    var amax: Float = 0
    for j in 0..<32 { amax = max(amax, abs(x[j])) }
    let d = amax / 127, id: Float = d == 0 ? 0 : 1 / d
    put16(o, 0, d)
    // Clamped, NaN to 0: finite weights never reach the clamp (|x·id| ≤ 127), but a file's NaN or
    // infinity, or a block so small that 1/d overflows, must not trap the conversion.
    for j in 0..<32 {
        let v = roundAway(x[j] * id)
        o.storeBytes(of: v.isNaN ? 0 : Int8(min(127, max(-127, v))), toByteOffset: 2 + j, as: Int8.self)
    }
}

/// Q4_0/Q5_0 (scale from the signed extreme, offset 8/16) and Q4_1/Q5_1 (scale and minimum).
private func quantQ4or5(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer, bits: Int, withMin: Bool) {
    let levels = Float((1 << bits) - 1)
    var q = [UInt8](repeating: 0, count: 32)
    var offset = 2
    if withMin {
        var lo = x[0], hi = x[0]
        for j in 1..<32 { lo = min(lo, x[j]); hi = max(hi, x[j]) }
        let d = (hi - lo) / levels, id: Float = d == 0 ? 0 : 1 / d
        for j in 0..<32 { q[j] = UInt8(min(levels, max(0, ((x[j] - lo) * id + 0.5).rounded(.towardZero)))) }
        put16(o, 0, d)
        put16(o, 2, lo)
        offset = 4
    } else {
        var amax: Float = 0, mx: Float = 0
        for j in 0..<32 where abs(x[j]) > amax { amax = abs(x[j]); mx = x[j] }
        let half = Float(1 << (bits - 1))
        let d = mx / -half, id: Float = d == 0 ? 0 : 1 / d
        for j in 0..<32 { q[j] = UInt8(min(levels, max(0, (x[j] * id + (half + 0.5)).rounded(.towardZero)))) }
        put16(o, 0, d)
    }
    if bits == 5 {
        var qh: UInt32 = 0
        for j in 0..<32 { qh |= UInt32(q[j] >> 4) << UInt32(j) }
        o.storeBytes(of: qh, toByteOffset: offset, as: UInt32.self)
        offset += 4
    }
    for j in 0..<16 { o.storeBytes(of: (q[j] & 0xF) | (q[j + 16] << 4), toByteOffset: offset + j, as: UInt8.self) }
}

private func quantMXFP4(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer) {
    var amax: Float = 0
    for j in 0..<32 { amax = max(amax, abs(x[j])) }
    let e: UInt8 = !(amax > 0) ? 0 : amax.isFinite ? UInt8(clamping: Int(log2(amax).rounded(.down)) - 2 + 127) : 254
    let d = e8m0Half(e)
    o.storeBytes(of: e, toByteOffset: 0, as: UInt8.self)
    var q = [UInt8](repeating: 0, count: 32)
    for j in 0..<32 {
        var best = 0
        var bestErr = Float.infinity
        for k in 0..<16 {
            let err = abs(d * Float(mxfp4Values[k]) - x[j])
            if err < bestErr { bestErr = err; best = k }
        }
        q[j] = UInt8(best)
    }
    for j in 0..<16 { o.storeBytes(of: q[j] | (q[j + 16] << 4), toByteOffset: 1 + j, as: UInt8.self) }
}

// MARK: - K-quants

/// Scale and minimum (x ≈ scale·L − mn, L in 0...levels) of `n` values, by least squares over a few
/// candidate scales around (max − min)/levels. `mn` ≥ 0 (the minimum is clamped to at most zero).
private func fitScaleMin(_ x: UnsafePointer<Float>, _ n: Int, levels: Int) -> (scale: Float, mn: Float) {
    var lo = x[0], hi = x[0]
    for j in 1..<n { lo = min(lo, x[j]); hi = max(hi, x[j]) }
    lo = min(lo, 0)
    if hi <= lo { return (0, -lo) }
    let L = Float(levels)
    var bestScale = (hi - lo) / L, bestMin = -lo, bestErr = Float.infinity
    for step in -4...8 {
        let iscale = (L + 0.1 * Float(step)) / (hi - lo)
        // Quantise with this scale, then refit scale and minimum by least squares.
        var sl: Float = 0, sll: Float = 0, sx: Float = 0, slx: Float = 0
        for j in 0..<n {
            let l = min(L, max(0, (iscale * (x[j] - lo)).rounded()))
            sl += l; sll += l * l; sx += x[j]; slx += l * x[j]
        }
        let N = Float(n), det = N * sll - sl * sl
        var scale = det > 0 ? (N * slx - sl * sx) / det : 1 / iscale
        var mn = det > 0 ? -(sll * sx - sl * slx) / det : -lo
        if mn < 0 { mn = 0; scale = sll > 0 ? slx / sll : scale }
        if scale <= 0 { continue }
        var err: Float = 0
        for j in 0..<n {
            let l = min(L, max(0, ((x[j] + mn) / scale).rounded()))
            let e = scale * l - mn - x[j]
            err += e * e
        }
        if err < bestErr { bestErr = err; bestScale = scale; bestMin = mn }
    }
    return (bestScale, bestMin)
}

/// Symmetric scale of `n` values for signed levels −half…half−1: the extreme value maps to −half,
/// refined by least squares.
private func fitSymmetric(_ x: UnsafePointer<Float>, _ n: Int, half: Int) -> Float {
    var amax: Float = 0, mx: Float = 0
    for j in 0..<n where abs(x[j]) > amax { amax = abs(x[j]); mx = x[j] }
    if amax == 0 { return 0 }
    let H = Float(half)
    var best = mx / -H, bestErr = Float.infinity
    for step in -6...6 {
        let iscale = -(H + 0.1 * Float(step)) / mx
        var slx: Float = 0, sll: Float = 0
        for j in 0..<n {
            let l = min(H - 1, max(-H, (iscale * x[j]).rounded()))
            slx += l * x[j]; sll += l * l
        }
        guard sll > 0 else { continue }
        let scale = slx / sll
        var err: Float = 0
        for j in 0..<n {
            let l = min(H - 1, max(-H, (x[j] / scale).rounded()))
            let e = scale * l - x[j]
            err += e * e
        }
        if err < bestErr { bestErr = err; best = scale }
    }
    return best
}

private func quantQ45K(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer, five: Bool) {
    let levels = five ? 31 : 15
    var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
    for j in 0..<8 { (scales[j], mins[j]) = fitScaleMin(x + 32 * j, 32, levels: levels) }
    let maxScale = scales.max()!, maxMin = mins.max()!
    let d = f16round(maxScale / 63), dmin = f16round(maxMin / 63)
    var ls = [UInt8](repeating: 0, count: 8), lm = [UInt8](repeating: 0, count: 8)
    for j in 0..<8 {
        ls[j] = d > 0 ? UInt8(min(63, max(0, (scales[j] / d).rounded()))) : 0
        lm[j] = dmin > 0 ? UInt8(min(63, max(0, (mins[j] / dmin).rounded()))) : 0
    }
    put16(o, 0, d)
    put16(o, 2, dmin)
    for j in 0..<4 {
        o.storeBytes(of: ls[j] | ((ls[j + 4] >> 4) << 6), toByteOffset: 4 + j, as: UInt8.self)
        o.storeBytes(of: lm[j] | ((lm[j + 4] >> 4) << 6), toByteOffset: 8 + j, as: UInt8.self)
        o.storeBytes(of: (ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4), toByteOffset: 12 + j, as: UInt8.self)
    }
    var L = [UInt8](repeating: 0, count: 256)
    for j in 0..<8 {
        let dl = d * Float(ls[j]), ml = dmin * Float(lm[j])
        for l in 0..<32 {
            L[32 * j + l] = dl > 0 ? UInt8(min(Float(levels), max(0, ((x[32 * j + l] + ml) / dl).rounded()))) : 0
        }
    }
    let qs = five ? 48 : 16
    if five {
        for l in 0..<32 {
            var h: UInt8 = 0
            for j in 0..<8 { h |= (L[32 * j + l] >> 4) << UInt8(j) }
            o.storeBytes(of: h, toByteOffset: 16 + l, as: UInt8.self)
        }
    }
    for g in 0..<4 {
        for l in 0..<32 {
            o.storeBytes(of: (L[64 * g + l] & 0xF) | ((L[64 * g + 32 + l] & 0xF) << 4), toByteOffset: qs + 32 * g + l, as: UInt8.self)
        }
    }
}

/// Scales of the 16 sub-blocks of 16 values (levels −half…half−1), themselves quantised to signed
/// integers −scaleHalf…scaleHalf−1 times a super-block scale `d` (an f16 value).
private func symmetricSubScales(_ x: UnsafePointer<Float>, half: Int, scaleHalf: Int) -> (d: Float, scales: [Int]) {
    var scales = [Float](repeating: 0, count: 16)
    for j in 0..<16 { scales[j] = fitSymmetric(x + 16 * j, 16, half: half) }
    var amax: Float = 0, mx: Float = 0
    for s in scales where abs(s) > amax { amax = abs(s); mx = s }
    let d = f16round(mx / -Float(scaleHalf))
    let H = Float(scaleHalf)
    return (d, scales.map { d != 0 ? Int(min(H - 1, max(-H, ($0 / d).rounded()))) : 0 })
}

private func quantQ6K(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer) {
    let (d, ints) = symmetricSubScales(x, half: 32, scaleHalf: 128)
    let sc = ints.map { Int8($0) }
    put16(o, 208, d)
    for j in 0..<16 { o.storeBytes(of: sc[j], toByteOffset: 192 + j, as: Int8.self) }
    var L = [UInt8](repeating: 32, count: 256)
    for j in 0..<16 {
        let dl = d * Float(sc[j])
        guard dl != 0 else { continue }
        for l in 0..<16 { L[16 * j + l] = UInt8(min(31, max(-32, (x[16 * j + l] / dl).rounded())) + 32) }
    }
    // ql: element 128h + 64s + l' is nibble s of ql[64h + l']; qh: element 128h + 32j + l is bits 2j of qh[32h + l].
    for h in 0..<2 {
        for l in 0..<64 {
            o.storeBytes(of: (L[128 * h + l] & 0xF) | ((L[128 * h + 64 + l] & 0xF) << 4), toByteOffset: 64 * h + l, as: UInt8.self)
        }
        for l in 0..<32 {
            var b: UInt8 = 0
            for j in 0..<4 { b |= (L[128 * h + 32 * j + l] >> 4) << UInt8(2 * j) }
            o.storeBytes(of: b, toByteOffset: 128 + 32 * h + l, as: UInt8.self)
        }
    }
}

private func quantQ3K(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer) {
    let (d, sc) = symmetricSubScales(x, half: 4, scaleHalf: 32)
    put16(o, 108, d)
    var sbytes = [UInt8](repeating: 0, count: 12)
    for j in 0..<16 {
        let u = UInt8(sc[j] + 32)
        if j < 8 { sbytes[j] |= u & 0xF } else { sbytes[j - 8] |= (u & 0xF) << 4 }
        sbytes[8 + j % 4] |= (u >> 4) << UInt8(2 * (j / 4))
    }
    for i in 0..<12 { o.storeBytes(of: sbytes[i], toByteOffset: 96 + i, as: UInt8.self) }
    var L = [UInt8](repeating: 4, count: 256)   // stored as value + 4 (0...7)
    for j in 0..<16 {
        let dl = d * Float(sc[j])
        guard dl != 0 else { continue }
        for l in 0..<16 { L[16 * j + l] = UInt8(min(3, max(-4, (x[16 * j + l] / dl).rounded())) + 4) }
    }
    for l in 0..<32 {
        var h: UInt8 = 0
        for i in 0..<8 { h |= (L[32 * i + l] >> 2) << UInt8(i) }
        o.storeBytes(of: h, toByteOffset: l, as: UInt8.self)
    }
    for h in 0..<2 {
        for l in 0..<32 {
            var b: UInt8 = 0
            for j in 0..<4 { b |= (L[128 * h + 32 * j + l] & 3) << UInt8(2 * j) }
            o.storeBytes(of: b, toByteOffset: 32 + 32 * h + l, as: UInt8.self)
        }
    }
}

private func quantQ2K(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer) {
    var scales = [Float](repeating: 0, count: 16), mins = [Float](repeating: 0, count: 16)
    for j in 0..<16 { (scales[j], mins[j]) = fitScaleMin(x + 16 * j, 16, levels: 3) }
    let d = f16round(scales.max()! / 15), dmin = f16round(mins.max()! / 15)
    var ls = [UInt8](repeating: 0, count: 16), lm = [UInt8](repeating: 0, count: 16)
    for j in 0..<16 {
        ls[j] = d > 0 ? UInt8(min(15, max(0, (scales[j] / d).rounded()))) : 0
        lm[j] = dmin > 0 ? UInt8(min(15, max(0, (mins[j] / dmin).rounded()))) : 0
        o.storeBytes(of: ls[j] | (lm[j] << 4), toByteOffset: j, as: UInt8.self)
    }
    put16(o, 80, d)
    put16(o, 82, dmin)
    var L = [UInt8](repeating: 0, count: 256)
    for j in 0..<16 {
        let dl = d * Float(ls[j]), ml = dmin * Float(lm[j])
        guard dl > 0 else { continue }
        for l in 0..<16 { L[16 * j + l] = UInt8(min(3, max(0, ((x[16 * j + l] + ml) / dl).rounded()))) }
    }
    for h in 0..<2 {
        for l in 0..<32 {
            var b: UInt8 = 0
            for j in 0..<4 { b |= L[128 * h + 32 * j + l] << UInt8(2 * j) }
            o.storeBytes(of: b, toByteOffset: 16 + 32 * h + l, as: UInt8.self)
        }
    }
}
