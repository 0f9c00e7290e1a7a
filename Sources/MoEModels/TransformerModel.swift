#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoETensor

/// Experts chosen per MoE layer per position, `[moeLayer][position][k]`, ids ascending, with the
/// routing weight of each in `weights` (same layout).
/// For DSA models, also the positions each query attended, `sparseAttention[layer][position]`
/// (ascending; decoder-layer index; "shared" layers repeat the choice they reuse).
public final class ExpertTrace: @unchecked Sendable {
    public internal(set) var experts: [[[Int]]]
    public internal(set) var weights: [[[Float]]]
    public internal(set) var sparseAttention: [Int: [[Int]]] = [:]
    public init(moeLayers: Int) {
        experts = Array(repeating: [], count: moeLayers)
        weights = Array(repeating: [], count: moeLayers)
    }
}

/// Which positions of a forward pass produce logits.
public enum LogitPositions: Sendable {
    case all
    case last
}

/// A decoder-only transformer, dense or MoE, bound to weights that stay where they are (usually a
/// mapped file). One instance serves any number of `InferenceState`s, one at a time.
public final class TransformerModel: @unchecked Sendable {
    public let config: TransformerConfig
    /// `[vocab, hidden]`
    public let embedding: WeightMatrix
    public let layers: [DecoderLayer]
    public let finalNorm: [Float]
    /// `[vocab, hidden]`; the embedding itself when tied.
    public let lmHead: WeightMatrix
    public let pool: ThreadPool
    /// Decoder-layer indices of the MoE layers, in order.
    public let moeLayerIndices: [Int]
    /// Checkpoint tensors the model does not use (multi-token-prediction layers, for one).
    public internal(set) var unusedTensors: [String] = []
    /// Multi-token-prediction layers the checkpoint declares (`num_nextn_predict_layers`); they are
    /// never run for plain decoding.
    public internal(set) var mtpLayers = 0
    /// How forward passes round (see `Numerics`); chosen with `use(_:)`.
    public private(set) var numerics: Numerics = .moekit

    /// Makes forward passes round as `numerics` says; throws, naming what is not covered, if this
    /// model or this CPU cannot (`unsupported(_:)`).
    public func use(_ numerics: Numerics) throws {
        if let why = unsupported(numerics) { throw ModelError.invalidInput(why) }
        self.numerics = numerics
    }

    public init(config: TransformerConfig, embedding: WeightMatrix, layers: [DecoderLayer], finalNorm: [Float],
                lmHead: WeightMatrix, pool: ThreadPool) {
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
        self.pool = pool
        moeLayerIndices = layers.indices.filter { if case .moe = layers[$0].feedForward { return true } else { return false } }
    }

    /// What each layer caches per position.
    public var cacheWidths: [KVCache.Widths] {
        layers.map { layer in
            switch layer.attention {
            case .gqa:
                let w = config.kvHeads * config.headDim
                return KVCache.Widths(keys: w, values: w, heads: config.kvHeads)
            case .mla(let m):
                let shape = config.mla!
                return KVCache.Widths(keys: shape.kvLoraRank + shape.ropeDim, values: 0,
                                      index: m.indexer == nil ? 0 : config.dsa!.headDim)
            }
        }
    }

    public func makeState(capacity: Int = 256) -> InferenceState {
        InferenceState(cache: KVCache(widths: cacheWidths, capacity: capacity), threads: pool.threadCount)
    }

    /// Runs `tokens` at the next positions of `state`, appends their keys and values to its cache,
    /// and returns logits `[positions, vocab]` for the positions asked for.
    public func forward(_ tokens: [Int32], state: InferenceState, logits which: LogitPositions = .last,
                        trace: ExpertTrace? = nil) throws -> [Float] {
        let c = config
        let T = tokens.count
        guard T > 0 else { return [] }
        for (i, t) in tokens.enumerated() where t < 0 || Int(t) >= c.vocabSize {
            throw ModelError.invalidInput("token \(t) at position \(i) is outside the vocabulary (0..<\(c.vocabSize))")
        }
        if numerics == .llamacpp { return try forwardLlamaCpp(tokens, state: state, logits: which) }
        let cache = state.cache
        let start = cache.length
        cache.reserve(start + T)
        let s = state.scratch
        s.reserve(tokens: T, config: c, layers: layers, context: start + T)
        let H = c.hidden

        // x: [T, hidden] embeddings
        for t in 0..<T {
            embedding.copyRow(Int(tokens[t]), to: s.x + t * H)
        }
        let k = state.counters
        k?.gather(bytes: T * embedding.rowBytes, dtype: embedding.dtype)
        if c.embeddingMultiplier != 1 {
            for i in 0..<(T * H) { s.x[i] *= c.embeddingMultiplier }
        }

        var moeOrdinal = 0
        for (l, layer) in layers.enumerated() {
            for t in 0..<T {
                rmsNorm(s.x + t * H, weight: layer.inputNorm, eps: c.normEps, n: H, out: s.h + t * H)
            }
            k?.vector(count: H, tokens: T)
            switch layer.attention {
            case .gqa(let a): attention(a, layer: l, tokens: T, start: start, state: state)
            case .mla(let m): mlaAttention(m, layer: l, tokens: T, start: start, state: state, trace: trace)
            }
            addScaled(s.x, s.tmp, c.residualMultiplier, T * H)

            for t in 0..<T {
                rmsNorm(s.x + t * H, weight: layer.postAttentionNorm, eps: c.normEps, n: H, out: s.h + t * H)
            }
            k?.vector(count: H, tokens: T)
            switch layer.feedForward {
            case .dense(let mlp):
                denseMLP(mlp, input: s.h, tokens: T, out: s.tmp, scratch: s, counters: k)
            case .moe(let moe):
                mixture(moe, tokens: T, scratch: s, trace: trace, ordinal: moeOrdinal, counters: k)
                moeOrdinal += 1
            }
            addScaled(s.x, s.tmp, c.residualMultiplier, T * H)
        }
        cache.length = start + T

        let first = which == .all ? 0 : T - 1
        let n = T - first
        for t in 0..<n {
            rmsNorm(s.x + (first + t) * H, weight: finalNorm, eps: c.normEps, n: H, out: s.h + t * H)
        }
        k?.vector(count: H, tokens: n)
        var out = [Float](repeating: 0, count: n * c.vocabSize)
        out.withUnsafeMutableBufferPointer { o in
            matmul(lmHead, s.h, o.baseAddress!, tokens: n, pool: pool, counters: k)
            if c.logitMultiplier != 1 {
                for i in 0..<o.count { o[i] *= c.logitMultiplier }
            }
        }
        return out
    }

    // MARK: - Attention

    func project(_ w: WeightMatrix, bias: [Float]?, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                         tokens: Int, counters k: KernelCounters?) {
        matmul(w, x, y, tokens: tokens, pool: pool, counters: k)
        addBias(bias, y, rows: w.rows, tokens: tokens, counters: k)
    }

    /// Adds `bias` to each of `tokens` rows of `rows` outputs.
    func addBias(_ bias: [Float]?, _ y: UnsafeMutablePointer<Float>, rows: Int, tokens: Int, counters k: KernelCounters?) {
        guard let bias else { return }
        for t in 0..<tokens { addScaled(y + t * rows, bias, 1, rows) }
        k?.vector(count: bias.count, tokens: tokens)
    }

    private func attention(_ a: AttentionWeights, layer l: Int, tokens T: Int, start: Int, state: InferenceState) {
        let c = config
        let s = state.scratch
        let cache = state.cache
        let hd = c.headDim
        let qWidth = c.heads * hd
        let kvWidth = c.kvHeads * hd
        // q: [T, heads*hd], k/v: [T, kvHeads*hd] (moved into the head-major cache below).
        let kRows = s.newKeys, vRows = s.newValues
        let k = state.counters
        // q, k and v in one parallel region, sharing the quantised input.
        s.batch.add(a.q, s.h, s.q, tokens: T)
        s.batch.add(a.k, s.h, kRows, tokens: T)
        s.batch.add(a.v, s.h, vRows, tokens: T)
        s.batch.run(pool: pool, counters: k)
        addBias(a.qBias, s.q, rows: a.q.rows, tokens: T, counters: k)
        addBias(a.kBias, kRows, rows: a.k.rows, tokens: T, counters: k)
        addBias(a.vBias, vRows, rows: a.v.rows, tokens: T, counters: k)
        if let qn = a.qNorm, let kn = a.kNorm { k?.vector(count: qn.count + kn.count, tokens: T) }
        switch c.qkNorm {
        case .none: break
        case .perHead:
            for t in 0..<T {
                for h in 0..<c.heads { let p = s.q + t * qWidth + h * hd; rmsNorm(p, weight: a.qNorm!, eps: c.normEps, n: hd, out: p) }
                for h in 0..<c.kvHeads { let p = kRows + t * kvWidth + h * hd; rmsNorm(p, weight: a.kNorm!, eps: c.normEps, n: hd, out: p) }
            }
        case .fullWidth:
            for t in 0..<T {
                rmsNorm(s.q + t * qWidth, weight: a.qNorm!, eps: c.normEps, n: qWidth, out: s.q + t * qWidth)
                rmsNorm(kRows + t * kvWidth, weight: a.kNorm!, eps: c.normEps, n: kvWidth, out: kRows + t * kvWidth)
            }
        }
        // OLMoE clamps after the q/k norms.
        if let clip = c.clipQKV {
            for i in 0..<(T * qWidth) { s.q[i] = min(max(s.q[i], -clip), clip) }
            for i in 0..<(T * kvWidth) {
                kRows[i] = min(max(kRows[i], -clip), clip)
                vRows[i] = min(max(vRows[i], -clip), clip)
            }
        }
        // RoPE at absolute positions start..<start+T.
        let half = c.rotaryDims / 2
        for t in 0..<T {
            setRotaryAngles(position: start + t, scratch: s)
            for h in 0..<c.heads { rotate(s.q + t * qWidth + h * hd, half: half, scratch: s, interleaved: c.ropeInterleaved) }
            for h in 0..<c.kvHeads { rotate(kRows + t * kvWidth + h * hd, half: half, scratch: s, interleaved: c.ropeInterleaved) }
        }
        storeKeysValues(kRows, vRows, tokens: T, start: start, layer: l, cache: cache)
        // Scores and weighted values, one (token, key/value head) per work item: the group of query
        // heads that share a key/value head reads its keys and values once. Decoding one token, the
        // positions are split into chunks too (combined below), so both threads have work and a
        // chunk's values stay in cache across the group.
        let group = c.heads / c.kvHeads
        let scoresStride = s.scoresStride
        let span = { (t: Int) -> (first: Int, count: Int) in
            let pos = start + t
            let first = c.slidingWindow.map { max(0, pos - $0 + 1) } ?? 0
            return (first, pos - first + 1)
        }
        let chunks = T == 1 ? Scratch.decodeChunks(positions: span(0).count, kvHeads: c.kvHeads, threads: pool.threadCount) : 1
        let work = T * c.kvHeads * chunks
        let scale = c.attentionScale
        /// Decoding: the partial results of chunk `chunk` of key/value head `kv` (maxima, sums, outputs).
        let partial = { (kv: Int, chunk: Int) in s.partials + (kv * chunks + chunk) * group * (hd + 2) }
        let body = { (range: Range<Int>, thread: Int) in
            let scores = s.scores + thread * scoresStride
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * group) { ml in
                let m = ml.baseAddress!, lsum = m + group
                for item in range {
                    let t = causalOrder(item / (chunks * c.kvHeads), of: T)
                    let chunk = item % chunks, kv = (item / chunks) % c.kvHeads
                    let (first, n) = span(t)
                    let lo = first + n * chunk / chunks, hi = first + n * (chunk + 1) / chunks - 1
                    // One chunk: straight into the output (the group's heads are adjacent there too),
                    // normalised below; several: into the partials, combined after the region.
                    let out, mp, lp: UnsafeMutablePointer<Float>
                    if chunks == 1 {
                        (out, mp, lp) = (s.att + t * qWidth + kv * group * hd, m, lsum)
                    } else {
                        let p = partial(kv, chunk)
                        (out, mp, lp) = (p + 2 * group, p, p + group)
                    }
                    attendGroup(query: s.q + t * qWidth + kv * group * hd, qStride: hd, group: group,
                                keys: cache.head(kv, layer: l, values: false), values: cache.head(kv, layer: l, values: true),
                                stride: hd, headDim: hd, first: lo, last: hi, scale: scale, scores: scores, m: mp, l: lp, o: out)
                    if chunks == 1 {
                        for g in 0..<group where lsum[g] > 0 {
                            let inv = 1 / lsum[g]
                            for d in 0..<hd { out[g * hd + d] *= inv }
                        }
                    }
                }
            }
        }
        if work * group * (start + T) * hd < 32_768 {
            body(0..<work, 0)
        } else {
            pool.parallelFor(work, body)
        }
        if chunks > 1 {
            // Chunks of one query head: rescale each to the largest maximum, then normalise.
            for kv in 0..<c.kvHeads {
                for g in 0..<group {
                    // The largest chunk maximum; a NaN score anywhere makes the head's output NaN, as
                    // in one pass.
                    var top = -Float.infinity
                    for chunk in 0..<chunks {
                        let m = partial(kv, chunk)[g]
                        top = m.isNaN || top.isNaN ? .nan : max(top, m)
                    }
                    let out = s.att + (kv * group + g) * hd
                    for d in 0..<hd { out[d] = 0 }
                    var total: Float = 0
                    for chunk in 0..<chunks {
                        let p = partial(kv, chunk)
                        guard p[group + g] != 0 else { continue }   // no positions (a NaN sum goes on)
                        let w = top.isNaN ? Float.nan : expf(p[g] - top)
                        total += p[group + g] * w
                        addScaled(out, p + 2 * group + g * hd, w, hd)
                    }
                    if total != 0 {
                        let inv = 1 / total
                        for d in 0..<hd { out[d] *= inv }
                    }
                }
            }
        }
        if let k { countAttention(tokens: T, positions: { span($0).count }, counters: k) }
        project(a.o, bias: a.oBias, s.att, s.tmp, tokens: T, counters: k)
    }

    /// Reports a GQA attention: each (token, head) scores `positions(t)` keys and sums as many values
    /// of headDim; each key/value head's rows are read once for its group.
    func countAttention(tokens T: Int, positions: (Int) -> Int, counters k: KernelCounters) {
        let c = config
        var macs = 0, bytes = 0
        for t in 0..<T {
            let n = positions(t)
            macs += c.heads * n * 2 * c.headDim
            bytes += c.kvHeads * n * 2 * c.headDim * MemoryLayout<Float>.size
        }
        k.attention(macs: macs, cacheBytes: bytes)
    }

    /// Copies the new keys and values of `T` tokens (`[T, kvHeads * headDim]` rows) into layer `l`'s
    /// cache at positions `start...`, where each key/value head's rows are contiguous.
    func storeKeysValues(_ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>, tokens T: Int, start: Int, layer l: Int,
                         cache: KVCache) {
        let hd = config.headDim, width = config.kvHeads * hd
        for g in 0..<config.kvHeads {
            let kh = cache.head(g, layer: l, values: false), vh = cache.head(g, layer: l, values: true)
            for t in 0..<T {
                (kh + (start + t) * hd).update(from: keys + t * width + g * hd, count: hd)
                (vh + (start + t) * hd).update(from: values + t * width + g * hd, count: hd)
            }
        }
    }

    /// cos/sin of every rotary frequency at `position` into the scratch (times the YaRN factor).
    func setRotaryAngles(position: Int, scratch s: Scratch) {
        let c = config
        let pos = Float(position)
        for i in 0..<(c.rotaryDims / 2) {
            let angle = pos * c.inverseFrequencies[i]
            s.cos[i] = cosf(angle) * c.ropeAttentionFactor
            s.sin[i] = sinf(angle) * c.ropeAttentionFactor
        }
    }

    /// Rotates the first `2*half` dims at `x` by the angles in the scratch.
    func rotate(_ x: UnsafeMutablePointer<Float>, half: Int, scratch s: Scratch, interleaved: Bool) {
        if interleaved {
            applyRotaryInterleaved(x, cos: s.cos, sin: s.sin, half: half, scratch: s.ropeTmp)
        } else {
            applyRotaryHalf(x, cos: s.cos, sin: s.sin, half: half)
        }
    }

    // MARK: - Feed-forward

    /// `out [T, hidden] = down(silu(gate·x) * up·x)` for `input [T, hidden]`.
    func denseMLP(_ m: MLPWeights, input: UnsafePointer<Float>, tokens T: Int, out: UnsafeMutablePointer<Float>,
                          scratch s: Scratch, counters k: KernelCounters?) {
        let I = m.intermediate
        s.batch.add(m.gate, input, s.gate, tokens: T)
        s.batch.add(m.up, input, s.up, tokens: T)
        s.batch.run(pool: pool, counters: k)
        addBias(m.gateBias, s.gate, rows: I, tokens: T, counters: k)
        addBias(m.upBias, s.up, rows: I, tokens: T, counters: k)
        swiglu(s.gate, s.up, T * I)
        project(m.down, bias: m.downBias, s.gate, out, tokens: T, counters: k)
    }

    private func mixture(_ m: MoEWeights, tokens T: Int, scratch s: Scratch, trace: ExpertTrace?, ordinal: Int,
                         counters k: KernelCounters?) {
        let H = config.hidden
        let E = m.experts.count
        let K = m.routing.topK
        // router logits: [T, hidden] x [experts, hidden]ᵀ -> [T, experts]
        matmul(m.router, s.h, s.routerLogits, tokens: T, pool: pool, counters: k)
        if let bias = m.routing.correctionBias { k?.gather(bytes: bias.count * 4, dtype: .f32) }
        for t in 0..<T {
            m.routing.route(logits: s.routerLogits + t * E, count: E, scratch: s.routeScores,
                            ids: s.routeIds + t * K, weights: s.routeWeights + t * K)
        }
        if let trace {
            for t in 0..<T {
                let chosen = (0..<K).map { (Int(s.routeIds[t * K + $0]), s.routeWeights[t * K + $0]) }.sorted { $0.0 < $1.0 }
                trace.experts[ordinal].append(chosen.map(\.0))
                trace.weights[ordinal].append(chosen.map(\.1))
            }
        }
        // Tokens grouped per expert (a counting sort), so each expert's weights are read once per
        // batch: rows [start[e], start[e+1]) of `gathered` hold expert e's tokens.
        let start = s.expertStart
        start.update(repeating: 0, count: E + 1)
        for i in 0..<(T * K) { start[Int(s.routeIds[i]) + 1] += 1 }
        for e in 0..<E { start[e + 1] += start[e] }
        let fill = s.expertFill
        fill.update(from: start, count: E)
        for t in 0..<T {
            for j in 0..<K {
                let e = Int(s.routeIds[t * K + j])
                let r = fill[e]
                fill[e] += 1
                s.groupTokens[r] = t
                s.groupWeights[r] = s.routeWeights[t * K + j]
                if T > 1 { (s.gathered + r * H).update(from: s.h + t * H, count: H) }
            }
        }
        // Gate and up projections of the shared expert and every active expert in one parallel
        // region; then every down projection in a second one. `gate`/`up` rows: the shared
        // expert's T rows first, then the routed rows in expert order.
        let offsets = s.expertOffsets   // float offset of each expert's rows in gate/up
        var used = 0
        if let sh = m.shared {
            s.batch.add(sh.gate, s.h, s.gate, tokens: T)
            s.batch.add(sh.up, s.h, s.up, tokens: T)
            used = T * sh.intermediate
        }
        if let g = m.sharedGate { s.batch.add(g, s.h, s.routerLogits, tokens: T) }   // [T, 1]
        for e in 0..<E {
            let n = start[e + 1] - start[e]
            offsets[e] = used
            if n == 0 { continue }
            let x = m.experts[e]
            // One token (decode): every expert reads `h` itself, so the batch prepares it once.
            let input = T == 1 ? UnsafePointer(s.h) : UnsafePointer(s.gathered + start[e] * H)
            s.batch.add(x.gate, input, s.gate + used, tokens: n)
            s.batch.add(x.up, input, s.up + used, tokens: n)
            used += n * x.intermediate
        }
        s.batch.run(pool: pool, counters: k)
        if let sh = m.shared {
            addBias(sh.gateBias, s.gate, rows: sh.intermediate, tokens: T, counters: k)
            addBias(sh.upBias, s.up, rows: sh.intermediate, tokens: T, counters: k)
        }
        for e in 0..<E where start[e + 1] > start[e] {
            let x = m.experts[e], n = start[e + 1] - start[e]
            addBias(x.gateBias, s.gate + offsets[e], rows: x.intermediate, tokens: n, counters: k)
            addBias(x.upBias, s.up + offsets[e], rows: x.intermediate, tokens: n, counters: k)
        }
        swiglu(s.gate, s.up, used)
        if let sh = m.shared {
            s.batch.add(sh.down, s.gate, s.tmp, tokens: T)
        }
        for e in 0..<E where start[e + 1] > start[e] {
            s.batch.add(m.experts[e].down, s.gate + offsets[e], s.expertOut + start[e] * H, tokens: start[e + 1] - start[e])
        }
        s.batch.run(pool: pool, counters: k)
        // out starts as the shared expert's contribution (or zero), then gets each routed row.
        if let sh = m.shared {
            addBias(sh.downBias, s.tmp, rows: H, tokens: T, counters: k)
            if m.sharedGate != nil {
                for t in 0..<T {
                    let w = sigmoid(s.routerLogits[t])
                    for i in 0..<H { s.tmp[t * H + i] *= w }
                }
            }
        } else {
            s.tmp.update(repeating: 0, count: T * H)
        }
        for e in 0..<E where start[e + 1] > start[e] {
            addBias(m.experts[e].downBias, s.expertOut + start[e] * H, rows: H, tokens: start[e + 1] - start[e], counters: k)
        }
        for r in 0..<(T * K) {
            addScaled(s.tmp + s.groupTokens[r] * H, s.expertOut + r * H, s.groupWeights[r], H)
        }
    }
}

/// Per-sequence state: the KV cache and the scratch buffers the forward pass reuses, so a
/// steady decode loop allocates nothing.
public final class InferenceState: @unchecked Sendable {
    public let cache: KVCache
    let scratch: Scratch
    /// When set, every kernel of a forward pass reports what it did here.
    public var counters: KernelCounters?

    init(cache: KVCache, threads: Int) {
        self.cache = cache
        scratch = Scratch(threads: threads)
    }

    /// Positions processed so far.
    public var position: Int { cache.length }

    /// Forgets all positions.
    public func reset() { cache.truncate(to: 0) }
}

/// Reusable buffers, grown when a larger batch or context arrives.
final class Scratch {
    let threads: Int
    private(set) var tokens = 0
    private(set) var context = 0
    private var storage: [UnsafeMutablePointer<Float>] = []
    var x, h, q, att, tmp, gate, up, routerLogits, routeWeights, gathered, expertOut, groupWeights: UnsafeMutablePointer<Float>
    var cos, sin, routeScores, scores, ropeTmp: UnsafeMutablePointer<Float>
    // MLA and DSA buffers (one-element placeholders for other models).
    var qResid, mlaQ, mlaPerThread, indexQ, indexWeights, indexScores: UnsafeMutablePointer<Float>
    /// The new positions' keys and values `[T, kvHeads*headDim]`, before they move into the cache.
    var newKeys, newValues: UnsafeMutablePointer<Float>
    var selected: UnsafeMutablePointer<Int32>
    var selectedCount: UnsafeMutablePointer<Int>
    /// Per-thread heap for the DSA top-k (`topK` ids per thread).
    var indexHeap: UnsafeMutablePointer<Int32>
    /// Buffers sized by the context (freed when the context outgrows them).
    private var contextStorage: [UnsafeMutablePointer<Float>] = []
    /// Floats of per-thread MLA scratch: absorbed query and latent output, `2 * kvLoraRank`.
    var mlaPerThreadStride = 0
    var routeIds: UnsafeMutablePointer<Int32>
    var groupTokens: UnsafeMutablePointer<Int>
    /// Per expert: first gathered row (E+1 prefix sums), fill cursor, offset in gate/up.
    var expertStart, expertFill, expertOffsets: UnsafeMutablePointer<Int>
    /// Matrix products run together (one parallel region each).
    let batch = MatmulBatch()
    /// `--numerics llamacpp`'s buffer (prepared activations, then each thread's attention scratch),
    /// grown on demand and kept, so a decode loop allocates nothing.
    private(set) var llamaCpp = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    private var llamaCppBytes = 64

    func reserveLlamaCpp(bytes: Int) {
        guard bytes > llamaCppBytes else { return }
        llamaCpp.deallocate()
        llamaCpp = .allocate(byteCount: bytes, alignment: 64)
        llamaCppBytes = bytes
    }
    /// Floats of `scores` per thread: a group of query heads (heads / kvHeads) × the context.
    var scoresStride = 0
    /// Floats of `indexScores` per thread (the DSA indexer scores one query: the context).
    var indexScoresStride = 0
    /// Decode attention's per-chunk partial results: per (key/value head, chunk), the group's maxima,
    /// sums and unnormalised outputs (`group · (headDim + 2)` floats).
    var partials: UnsafeMutablePointer<Float>

    /// Chunks the positions of one decoded token are split into, per key/value head: at least four
    /// work items per thread, at most 512 positions a chunk (its values then stay in cache while the
    /// group reads them), at least 64.
    static func decodeChunks(positions n: Int, kvHeads: Int, threads: Int) -> Int {
        let wanted = max((4 * threads + kvHeads - 1) / kvHeads, (n + 511) / 512)
        return max(1, min(wanted, (n + 63) / 64))
    }

    init(threads: Int) {
        self.threads = threads
        let empty = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        x = empty; h = empty; q = empty; att = empty; tmp = empty; gate = empty; up = empty
        routerLogits = empty; routeWeights = empty; gathered = empty; expertOut = empty; groupWeights = empty
        cos = empty; sin = empty; routeScores = empty; scores = empty; ropeTmp = empty; partials = empty
        qResid = empty; mlaQ = empty; mlaPerThread = empty; indexQ = empty; indexWeights = empty; indexScores = empty
        newKeys = empty; newValues = empty
        routeIds = .allocate(capacity: 1)
        groupTokens = .allocate(capacity: 1)
        expertStart = .allocate(capacity: 1)
        expertFill = .allocate(capacity: 1)
        expertOffsets = .allocate(capacity: 1)
        selected = .allocate(capacity: 1)
        selectedCount = .allocate(capacity: 1)
        indexHeap = .allocate(capacity: 1)
        storage = [empty]
    }

    deinit {
        for p in storage { p.deallocate() }
        llamaCpp.deallocate()
        routeIds.deallocate()
        groupTokens.deallocate()
        expertStart.deallocate()
        expertFill.deallocate()
        expertOffsets.deallocate()
        selected.deallocate()
        selectedCount.deallocate()
        indexHeap.deallocate()
        for p in contextStorage { p.deallocate() }
    }

    private func alloc(_ n: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        p.initialize(repeating: 0, count: max(n, 1))
        storage.append(p)
        return p
    }

    func reserve(tokens T: Int, config c: TransformerConfig, layers: [DecoderLayer], context: Int) {
        if T > tokens {
            for p in storage { p.deallocate() }
            storage = []
            // gate/up floats per token: a dense layer's width, or an MoE layer's shared expert plus
            // its topK routed experts (at most the widest each).
            var perToken = 1, experts = 1, topK = 1
            for l in layers {
                switch l.feedForward {
                case .dense(let m): perToken = max(perToken, m.intermediate)
                case .moe(let m):
                    experts = max(experts, m.experts.count)
                    topK = max(topK, m.routing.topK)
                    let widest = m.experts.map(\.intermediate).max() ?? 0
                    perToken = max(perToken, (m.shared?.intermediate ?? 0) + m.routing.topK * widest)
                }
            }
            let H = c.hidden, qw = c.heads * c.headDim
            x = alloc(T * H); h = alloc(T * H); tmp = alloc(T * H)
            q = alloc(T * qw); att = alloc(T * qw)
            if c.mla == nil { newKeys = alloc(T * c.kvHeads * c.headDim); newValues = alloc(T * c.kvHeads * c.headDim) }
            // MoE layers keep every routed row (T·topK) plus the shared expert's T rows at once.
            gate = alloc(T * perToken); up = alloc(T * perToken)
            routerLogits = alloc(T * max(experts, 1)); routeWeights = alloc(T * topK)
            gathered = alloc(T * topK * H); expertOut = alloc(T * topK * H); groupWeights = alloc(T * topK)
            cos = alloc(c.headDim); sin = alloc(c.headDim); ropeTmp = alloc(c.headDim)
            routeScores = alloc(Router.scratchCount(experts: experts))
            if let m = c.mla {
                qResid = alloc(T * (m.qLoraRank ?? 1))
                mlaQ = alloc(T * m.heads * (m.nopeDim + m.ropeDim))
                mlaPerThreadStride = 2 * m.kvLoraRank + m.ropeDim
                mlaPerThread = alloc(threads * mlaPerThreadStride)
                // attention output [T, heads*valueDim] may be wider than heads*headDim
                att = alloc(T * max(qw, m.heads * m.valueDim))
            }
            if let d = c.dsa {
                indexQ = alloc(T * d.heads * d.headDim)
                indexWeights = alloc(T * d.heads)
                selected.deallocate(); selected = .allocate(capacity: T * d.topK)
                selectedCount.deallocate(); selectedCount = .allocate(capacity: T)
                indexHeap.deallocate(); indexHeap = .allocate(capacity: threads * d.topK)
            }
            routeIds.deallocate(); routeIds = .allocate(capacity: T * topK)
            groupTokens.deallocate(); groupTokens = .allocate(capacity: T * topK)
            expertStart.deallocate(); expertStart = .allocate(capacity: experts + 1)
            expertFill.deallocate(); expertFill = .allocate(capacity: experts)
            expertOffsets.deallocate(); expertOffsets = .allocate(capacity: experts)
            tokens = T
        }
        if context > self.context {
            var cap = max(self.context, 256)
            while cap < context { cap *= 2 }
            for p in contextStorage { p.deallocate() }
            func contextAlloc(_ n: Int) -> UnsafeMutablePointer<Float> {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
                p.initialize(repeating: 0, count: n)
                contextStorage.append(p)
                return p
            }
            contextStorage = []
            // A GQA work item scores a group of query heads (heads / kvHeads) at once; MLA one head.
            let group = c.mla == nil ? max(1, c.heads / max(c.kvHeads, 1)) : 1
            scores = contextAlloc(cap * group * threads)
            scoresStride = cap * group
            if c.mla == nil {
                partials = contextAlloc(c.heads * Scratch.decodeChunks(positions: cap, kvHeads: max(c.kvHeads, 1), threads: threads)
                                        * (c.headDim + 2))
            }
            if c.dsa != nil { indexScores = contextAlloc(cap * threads) }
            indexScoresStride = cap
            self.context = cap
        }
    }
}

/// The token the `k`-th work item of a prompt's attention takes: causal cost grows with the token,
/// so tokens are taken from both ends in turn (0, T-1, 1, T-2, ...) and each thread's contiguous
/// share of the work items costs about the same.
func causalOrder(_ k: Int, of T: Int) -> Int { k % 2 == 0 ? k / 2 : T - 1 - k / 2 }
