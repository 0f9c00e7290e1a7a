// GGML block quantisation: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4 (32 weights per block) and the
// K-quants Q2_K … Q6_K (256 per super-block). This file holds the plain dequantisers (the reference,
// written from the layouts as ggml defines them); the fast kernels are in the MoEKernelsC target.
// MoETensorTests checks both against the `gguf` Python package (its quantisers where it has them,
// its dequantisers on random blocks otherwise).

/// Reference dequantisation of `count` elements (whole blocks) at `src`.
public func dequantizeBlocks(_ src: UnsafeRawPointer, dtype: DType, count: Int, into out: UnsafeMutablePointer<Float>) {
    let bs = dtype.blockSize
    precondition(bs > 1 && count % bs == 0, "dequantizeBlocks: \(count) elements of \(dtype) are not whole blocks")
    for b in 0..<(count / bs) {
        dequantizeBlock(src + b * dtype.blockBytes, dtype: dtype, into: out + b * bs)
    }
}

@inline(__always) private func u8(_ p: UnsafeRawPointer, _ i: Int) -> UInt8 { p.load(fromByteOffset: i, as: UInt8.self) }
@inline(__always) private func half(_ p: UnsafeRawPointer, _ i: Int) -> Float { halfToFloat(p.loadUnaligned(fromByteOffset: i, as: UInt16.self)) }

/// The 6-bit scale and min of sub-block `j` (0..<8) of a Q4_K / Q5_K super-block's 12 scale bytes.
@inline(__always) public func kQuantScaleMin(_ s: UnsafeRawPointer, _ j: Int) -> (UInt8, UInt8) {
    if j < 4 { return (u8(s, j) & 63, u8(s, j + 4) & 63) }
    return ((u8(s, j + 4) & 0xF) | ((u8(s, j - 4) >> 6) << 4), (u8(s, j + 4) >> 4) | ((u8(s, j) >> 6) << 4))
}

/// The signed 6-bit scale of sub-block `j` (0..<16) of a Q3_K super-block's 12 scale bytes.
@inline(__always) public func q3KScale(_ s: UnsafeRawPointer, _ j: Int) -> Int {
    let low = j < 8 ? u8(s, j) & 0xF : u8(s, j - 8) >> 4
    let high = (u8(s, 8 + j % 4) >> (2 * (j / 4))) & 3
    return Int(low | high << 4) - 32
}

/// E2M1 values of MXFP4 nibbles, doubled (the e8m0 scale is halved to match, as ggml does).
public let mxfp4Values: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

/// Half the value of an e8m0 exponent byte: 2^(e-128).
@inline(__always) public func e8m0Half(_ e: UInt8) -> Float {
    e < 2 ? Float(bitPattern: UInt32(0x0020_0000) << UInt32(e)) : Float(bitPattern: UInt32(e - 1) << 23)
}

private func dequantizeBlock(_ p: UnsafeRawPointer, dtype: DType, into o: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .q8_0:
        let d = half(p, 0)
        for j in 0..<32 { o[j] = d * Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) }
    case .q4_0, .q4_1:
        let d = half(p, 0)
        let m: Float = dtype == .q4_1 ? half(p, 2) : -8 * d
        let qs = dtype == .q4_1 ? 4 : 2
        for j in 0..<16 {
            let q = u8(p, qs + j)
            o[j] = d * Float(q & 0xF) + m
            o[j + 16] = d * Float(q >> 4) + m
        }
    case .q5_0, .q5_1:
        let d = half(p, 0)
        let m: Float = dtype == .q5_1 ? half(p, 2) : -16 * d
        let hOff = dtype == .q5_1 ? 4 : 2
        let qh = p.loadUnaligned(fromByteOffset: hOff, as: UInt32.self)
        for j in 0..<16 {
            let q = u8(p, hOff + 4 + j)
            let lo = UInt32(q & 0xF) | ((qh >> UInt32(j)) & 1) << 4
            let hi = UInt32(q >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
            o[j] = d * Float(lo) + m
            o[j + 16] = d * Float(hi) + m
        }
    case .mxfp4:
        let d = e8m0Half(u8(p, 0))
        for j in 0..<16 {
            let q = u8(p, 1 + j)
            o[j] = d * Float(mxfp4Values[Int(q & 0xF)])
            o[j + 16] = d * Float(mxfp4Values[Int(q >> 4)])
        }
    case .q2_K:
        // scales[16] | qs[64] | d | dmin. Element 128h + 32j + l is bits 2j of qs[32h + l].
        let d = half(p, 80), dmin = half(p, 82)
        for e in 0..<256 {
            let (h, j, l) = (e / 128, (e % 128) / 32, e % 32)
            let q = (u8(p, 16 + 32 * h + l) >> UInt8(2 * j)) & 3
            let sc = u8(p, e / 16)
            o[e] = d * Float(sc & 0xF) * Float(q) - dmin * Float(sc >> 4)
        }
    case .q3_K:
        // hmask[32] | qs[64] | scales[12] | d. High bit of element 32i + l is bit i of hmask[l];
        // a clear bit subtracts 4.
        let d = half(p, 108)
        for e in 0..<256 {
            let (h, j, l) = (e / 128, (e % 128) / 32, e % 32)
            let low = Int((u8(p, 32 + 32 * h + l) >> UInt8(2 * j)) & 3)
            let hbit = (u8(p, e % 32) >> UInt8(e / 32)) & 1
            o[e] = d * Float(q3KScale(p + 96, e / 16)) * Float(low - (hbit == 0 ? 4 : 0))
        }
    case .q4_K, .q5_K:
        // d | dmin | scales[12] | (Q5_K: qh[32]) | qs[128]. Element 64g + 32s + l is nibble s of qs[32g + l].
        let d = half(p, 0), dmin = half(p, 2)
        let five = dtype == .q5_K
        let qs = five ? 48 : 16
        for e in 0..<256 {
            let b = e / 32, l = e % 32
            var q = (u8(p, qs + 32 * (b / 2) + l) >> UInt8(4 * (b % 2))) & 0xF
            if five { q |= ((u8(p, 16 + l) >> UInt8(b)) & 1) << 4 }
            let (sc, m) = kQuantScaleMin(p + 4, b)
            o[e] = d * Float(sc) * Float(q) - dmin * Float(m)
        }
    case .q6_K:
        // ql[128] | qh[64] | scales[16] (int8) | d. Element 128h + 64s + l' has nibble s of
        // ql[64h + l']; element 128h + 32j + l has bits 2j of qh[32h + l]; value minus 32.
        let d = half(p, 208)
        for e in 0..<256 {
            let h = e / 128, r = e % 128
            let low = (u8(p, 64 * h + r % 64) >> UInt8(4 * (r / 64))) & 0xF
            let high = (u8(p, 128 + 32 * h + r % 32) >> UInt8(2 * (r / 32))) & 3
            let sc = Float(p.load(fromByteOffset: 192 + e / 16, as: Int8.self))
            o[e] = d * sc * Float(Int(low | high << 4) - 32)
        }
    default:
        preconditionFailure("dequantizeBlocks: \(dtype) is not block-quantised")
    }
}
