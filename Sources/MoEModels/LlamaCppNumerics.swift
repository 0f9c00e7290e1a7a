#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoETensor

/// How a forward pass rounds.
public enum Numerics: String, Sendable, CaseIterable {
    /// MoEKit's own kernels (the default).
    case moekit
    /// llama.cpp's CPU arithmetic, reproduced operation for operation: every float32 of a dense
    /// llama-family model with Q4_1, Q8_0 or F16 matrices comes out as llama.cpp's x86-64 AVX-512
    /// build computes it in one batch (flash attention off, F32 KV cache), whether MoEKit runs the
    /// tokens in one batch or one at a time; the logits too when the output layer is of those types. A correctness instrument, not a fast
    /// path: the matrices are read in their file layout, one row and token at a time.
    case llamacpp
}

extension TransformerModel {
    /// Why `numerics` cannot run this model on this machine, or nil if it can.
    public func unsupported(_ numerics: Numerics) -> String? {
        guard numerics == .llamacpp else { return nil }
        guard LlamaCppKernels.supported else {
            return "llama.cpp numerics need an x86-64 CPU with AVX-512F/DQ/VL (they reproduce llama.cpp's AVX-512 build)"
        }
        let c = config
        var why: [String] = []
        if c.mla != nil || c.dsa != nil { why.append("latent attention (MLA/DSA)") }
        if c.headDim % 64 != 0 || c.headDim > 1024 { why.append("head_dim \(c.headDim) (a multiple of 64 up to 1024 is reproduced)") }
        if c.rotaryDims != c.headDim || !c.ropeInterleaved || c.ropeScaled || c.ropeAttentionFactor != 1 {
            why.append("RoPE other than llama.cpp's plain adjacent-pair mode over the whole head")
        }
        if c.qkNorm != .none || c.clipQKV != nil || c.slidingWindow != nil { why.append("q/k norms, clipping or a sliding window") }
        if c.embeddingMultiplier != 1 || c.residualMultiplier != 1 || c.logitMultiplier != 1 { why.append("Granite's multipliers") }
        if c.attentionScale != 1 / sqrtf(Float(c.headDim)) { why.append("an attention scale other than 1/sqrt(head_dim)") }
        if c.hidden % 32 != 0 { why.append("hidden size \(c.hidden) (a multiple of 32 is reproduced)") }
        if ![.q8_0, .f16, .f32].contains(embedding.dtype) { why.append("token embeddings of type \(embedding.dtype.rawValue) (Q8_0, F16 and F32 are reproduced)") }
        for (l, layer) in layers.enumerated() {
            guard case .gqa(let a) = layer.attention, case .dense(let m) = layer.feedForward else {
                why.append("layer \(l): only dense layers with grouped-query attention are reproduced")
                break
            }
            if a.qBias != nil || a.kBias != nil || a.vBias != nil || a.oBias != nil || m.gateBias != nil || m.upBias != nil || m.downBias != nil {
                why.append("layer \(l): biases")
                break
            }
            let named = [("attn_q", a.q), ("attn_k", a.k), ("attn_v", a.v), ("attn_output", a.o), ("ffn_gate", m.gate), ("ffn_up", m.up), ("ffn_down", m.down)]
            if let (name, w) = named.first(where: { $0.1.cols % 32 != 0 }) {
                why.append("blk.\(l).\(name) has \(w.cols) columns (a multiple of 32 is reproduced)")
                break
            }
            if let (name, w) = named.first(where: { !LlamaCppKernels.types.contains($0.1.dtype) }) {
                why.append("blk.\(l).\(name) is \(w.dtype.rawValue); llama.cpp's arithmetic is reproduced for Q4_1, Q8_0 and F16 matrices")
                break
            }
        }
        return why.isEmpty ? nil : "llama.cpp numerics do not cover this model: " + why.joined(separator: "; ")
    }

    /// `forward` with llama.cpp's arithmetic (see `Numerics.llamacpp`); `unsupported(.llamacpp)`
    /// must be nil. The output layer is llama.cpp's product too when it is Q4_1, Q8_0 or F16 (the
    /// layers' types); in another type (Q6_K, say) it is MoEKit's, and only the logits' last bits
    /// can differ.
    func forwardLlamaCpp(_ tokens: [Int32], state: InferenceState, logits which: LogitPositions) throws -> [Float] {
        let c = config
        let T = tokens.count
        let cache = state.cache
        let start = cache.length
        cache.reserve(start + T)
        let s = state.scratch
        s.reserve(tokens: T, config: c, layers: layers, context: start + T)
        let H = c.hidden, hd = c.headDim
        let qWidth = c.heads * hd, kvWidth = c.kvHeads * hd
        let group = c.heads / c.kvHeads
        let widest = layers.reduce(max(H, qWidth)) { w, layer in
            guard case .dense(let m) = layer.feedForward else { return w }
            return max(w, m.intermediate)
        }
        let activationBytes = (LlamaCppKernels.activationBytes(cols: widest, tokens: T) + 63) & ~63
        let perThread = LlamaCppKernels.attendScratch(positions: start + T, headDim: hd)
        s.reserveLlamaCpp(bytes: activationBytes + perThread * pool.threadCount * MemoryLayout<Float>.size)
        let xq = s.llamaCpp
        let attendScratch = (s.llamaCpp + activationBytes).assumingMemoryBound(to: Float.self)

        // What the pass reads and computes, counted as `forward` counts it (`generate --stats`).
        let k = state.counters

        /// y [tokens, w.rows] = w · x for x [tokens, w.cols], for each (w, y) of `ws`; the activations are
        /// prepared once per run of matrices of one type (a file may mix types, q in Q4_1 and v in Q8_0).
        func products(_ ws: [(WeightMatrix, UnsafeMutablePointer<Float>)], _ x: UnsafePointer<Float>, tokens: Int = T) {
            var prepared: DType?
            for (w, y) in ws {
                k?.matmul(w, tokens: tokens)
                if prepared != w.dtype {
                    LlamaCppKernels.quantize(x, for: w, tokens: tokens, into: xq)
                    prepared = w.dtype
                }
                pool.parallelFor(w.rows) { range in LlamaCppKernels.rows(w, xq, tokens: tokens, range: range, y: y, ystride: w.rows) }
            }
        }

        for t in 0..<T { embedding.copyRow(Int(tokens[t]), to: s.x + t * H) }
        k?.gather(bytes: T * embedding.rowBytes, dtype: embedding.dtype)
        for (l, layer) in layers.enumerated() {
            guard case .gqa(let a) = layer.attention, case .dense(let m) = layer.feedForward else {
                throw ModelError.invalidInput("llama.cpp numerics: layer \(l) is not a dense grouped-query layer")
            }
            layer.inputNorm.withUnsafeBufferPointer { w in
                for t in 0..<T { LlamaCppKernels.rmsNorm(s.x + t * H, weight: w.baseAddress!, eps: c.normEps, n: H, out: s.h + t * H) }
            }
            // q, k and v share one quantisation of the normed input (llama.cpp's three products each
            // quantise the same rows to the same blocks).
            k?.vector(count: H, tokens: T)
            products([(a.q, s.q), (a.k, s.newKeys), (a.v, s.newValues)], s.h)
            for t in 0..<T {
                LlamaCppKernels.rope(s.q + t * qWidth, heads: c.heads, headDim: hd, dims: c.rotaryDims, position: start + t, base: c.ropeTheta)
                LlamaCppKernels.rope(s.newKeys + t * kvWidth, heads: c.kvHeads, headDim: hd, dims: c.rotaryDims, position: start + t,
                                     base: c.ropeTheta)
            }
            storeKeysValues(s.newKeys, s.newValues, tokens: T, start: start, layer: l, cache: cache)
            pool.parallelFor(T * c.heads) { range, thread in
                for item in range {
                    let t = item / c.heads, h = item % c.heads, kv = h / group
                    LlamaCppKernels.attend(query: s.q + t * qWidth + h * hd, keys: cache.head(kv, layer: l, values: false),
                                           values: cache.head(kv, layer: l, values: true), stride: hd, headDim: hd,
                                           positions: start + t + 1, scale: c.attentionScale,
                                           scratch: attendScratch + thread * perThread, out: s.att + t * qWidth + h * hd)
                }
            }
            if let k { countAttention(tokens: T, positions: { start + $0 + 1 }, counters: k) }
            products([(a.o, s.tmp)], s.att)
            addScaled(s.x, s.tmp, 1, T * H)   // x + 1·t: exactly x + t

            layer.postAttentionNorm.withUnsafeBufferPointer { w in
                for t in 0..<T { LlamaCppKernels.rmsNorm(s.x + t * H, weight: w.baseAddress!, eps: c.normEps, n: H, out: s.h + t * H) }
            }
            k?.vector(count: H, tokens: T)
            products([(m.gate, s.gate), (m.up, s.up)], s.h)
            // Over all rows at once: llama.cpp's per-row pass has no scalar tail, since the intermediate
            // width (ffn_down's columns) is a multiple of 32.
            LlamaCppKernels.swiglu(s.gate, s.up, into: s.gate, count: T * m.intermediate)
            products([(m.down, s.tmp)], s.gate)
            addScaled(s.x, s.tmp, 1, T * H)   // x + 1·t: exactly x + t
        }
        cache.length = start + T

        let first = which == .all ? 0 : T - 1
        let n = T - first
        finalNorm.withUnsafeBufferPointer { w in
            for t in 0..<n {
                LlamaCppKernels.rmsNorm(s.x + (first + t) * H, weight: w.baseAddress!, eps: c.normEps, n: H, out: s.h + t * H)
            }
        }
        k?.vector(count: H, tokens: n)
        var out = [Float](repeating: 0, count: n * c.vocabSize)
        out.withUnsafeMutableBufferPointer { o in
            if LlamaCppKernels.types.contains(lmHead.dtype) {
                products([(lmHead, o.baseAddress!)], s.h, tokens: n)
            } else {
                matmul(lmHead, s.h, o.baseAddress!, tokens: n, pool: pool, counters: k)
            }
        }
        return out
    }
}
