// GGML block quantisation: Q8_0, Q4_0, Q4_1 (32 weights per block). Each format has a plain
// dequantiser (the reference) and a SIMD dot product with f32 activations; MoETensorTests checks
// both against values from the `gguf` Python package's quantisers. No Foundation: hot file.

/// Reference dequantisation of `count` elements (whole blocks) at `src`.
public func dequantizeBlocks(_ src: UnsafeRawPointer, dtype: DType, count: Int, into out: UnsafeMutablePointer<Float>) {
    let blocks = count / 32
    for b in 0..<blocks {
        let p = src + b * dtype.blockBytes
        let o = out + b * 32
        let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
        switch dtype {
        case .q8_0:
            for j in 0..<32 { o[j] = d * Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) }
        case .q4_0:
            for j in 0..<16 {
                let q = p.load(fromByteOffset: 2 + j, as: UInt8.self)
                o[j] = d * Float(Int(q & 0xF) - 8)
                o[j + 16] = d * Float(Int(q >> 4) - 8)
            }
        case .q4_1:
            let m = halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            for j in 0..<16 {
                let q = p.load(fromByteOffset: 4 + j, as: UInt8.self)
                o[j] = d * Float(q & 0xF) + m
                o[j + 16] = d * Float(q >> 4) + m
            }
        default:
            preconditionFailure("dequantizeBlocks: \(dtype) is not block-quantised")
        }
    }
}

@inline(__always)
private func loadX(_ x: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(x).loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
}

/// Eight unsigned bytes widened to float lanes, as their low and high nibbles.
@inline(__always)
private func nibbles(_ p: UnsafeRawPointer) -> (low: SIMD8<Float>, high: SIMD8<Float>) {
    let u = SIMD8<UInt32>(truncatingIfNeeded: p.loadUnaligned(as: SIMD8<UInt8>.self))
    let lo = SIMD8<Int32>(truncatingIfNeeded: u & 0xF)
    let hi = SIMD8<Int32>(truncatingIfNeeded: u &>> 4)
    return (SIMD8<Float>(lo), SIMD8<Float>(hi))
}

/// Σ w·x over `blocks` Q8_0 blocks.
public func dotQ8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
    var acc = SIMD8<Float>(), acc2 = SIMD8<Float>()
    for b in 0..<blocks {
        let p = w + b &* 34
        let d = SIMD8<Float>(repeating: halfToFloat(p.loadUnaligned(as: UInt16.self)))
        let xb = x + b &* 32
        var s = SIMD8<Float>()
        for k in 0..<4 {
            let q = SIMD8<Int32>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 2 &+ k &* 8, as: SIMD8<Int8>.self))
            s.addProduct(SIMD8<Float>(q), loadX(xb, k &* 8))
        }
        if b & 1 == 0 { acc.addProduct(s, d) } else { acc2.addProduct(s, d) }
    }
    return (acc + acc2).sum()
}

/// For one block of 16 nibble bytes at `q` and its 32 activations: (Σ q·x, Σ x) in lanes.
@inline(__always)
private func nibbleBlock(_ q: UnsafeRawPointer, _ xb: UnsafePointer<Float>) -> (qx: SIMD8<Float>, x: SIMD8<Float>) {
    let n0 = nibbles(q), n1 = nibbles(q + 8)
    let x0 = loadX(xb, 0), x1 = loadX(xb, 8), x2 = loadX(xb, 16), x3 = loadX(xb, 24)
    var s = n0.low * x0
    s.addProduct(n1.low, x1)
    s.addProduct(n0.high, x2)
    s.addProduct(n1.high, x3)
    return (s, (x0 + x1) + (x2 + x3))
}

/// Σ w·x over `blocks` Q4_0 blocks: d·Σ(q−8)·x = d·(Σq·x − 8·Σx).
public func dotQ4_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
    var acc = SIMD8<Float>()
    for b in 0..<blocks {
        let p = w + b &* 18
        let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
        let (s, xs) = nibbleBlock(p + 2, x + b &* 32)
        acc.addProduct(SIMD8<Float>(repeating: d), s - 8 * xs)
    }
    return acc.sum()
}

/// Σ w·x over `blocks` Q4_1 blocks: d·Σq·x + m·Σx.
public func dotQ4_1(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
    var acc = SIMD8<Float>()
    for b in 0..<blocks {
        let p = w + b &* 20
        let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
        let m = halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        let (s, xs) = nibbleBlock(p + 4, x + b &* 32)
        acc.addProduct(SIMD8<Float>(repeating: d), s)
        acc.addProduct(SIMD8<Float>(repeating: m), xs)
    }
    return acc.sum()
}
