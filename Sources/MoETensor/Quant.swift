// GGML block quantisation: Q8_0, Q4_0, Q4_1 (32 weights per block). This file holds the plain
// dequantiser (the reference); the fast dot products with f32 activations are in the MoEKernelsC
// target (Swift lowered their byte widening to out-of-line calls). MoETensorTests checks both
// against values from the `gguf` Python package's quantisers.

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
