#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoETensor

extension TransformerModel {
    /// Multi-head latent attention in the absorbed form: the cache holds only the normalised latent
    /// and the rotated shared key per position; each head's query is folded through its slice of
    /// `kvB` so scores and values are taken against the latent directly, and the value
    /// up-projection is applied once to the weighted latent.
    func mlaAttention(_ a: MLAWeights, layer l: Int, tokens T: Int, start: Int, state: InferenceState, trace: ExpertTrace?) {
        let c = config
        let m = c.mla!
        let s = state.scratch
        let k = state.counters
        let cache = state.cache
        let rkv = m.kvLoraRank, dr = m.ropeDim, dn = m.nopeDim, dv = m.valueDim, nh = m.heads
        let qk = dn + dr
        let latentWidth = rkv + dr
        let H = c.hidden

        // q: [T, heads*(nope+rope)], via the low-rank path when there is one.
        if let qA = a.qA, let qB = a.qB, let qANorm = a.qANorm {
            project(qA, bias: a.qABias, s.h, s.qResid, tokens: T, counters: k)
            // The latent norms use eps 1e-6 whatever rms_norm_eps says (as transformers builds them).
            for t in 0..<T { rmsNorm(s.qResid + t * qA.rows, weight: qANorm, eps: 1e-6, n: qA.rows, out: s.qResid + t * qA.rows) }
            k?.vector(count: qANorm.count, tokens: T)
            project(qB, bias: nil, s.qResid, s.mlaQ, tokens: T, counters: k)
        } else {
            project(a.q!, bias: nil, s.h, s.mlaQ, tokens: T, counters: k)
        }
        // Latent rows [T, rkv+rope] straight into the cache: RMS-normalise the latent, rotate the key.
        let rows = cache.keys[l] + start * latentWidth
        project(a.kvA, bias: a.kvABias, s.h, rows, tokens: T, counters: k)
        for t in 0..<T { rmsNorm(rows + t * latentWidth, weight: a.kvANorm, eps: 1e-6, n: rkv, out: rows + t * latentWidth) }
        k?.vector(count: a.kvANorm.count, tokens: T)
        for t in 0..<T {
            setRotaryAngles(position: start + t, scratch: s)
            rotate(rows + t * latentWidth + rkv, half: dr / 2, scratch: s, interleaved: c.ropeInterleaved)
            for h in 0..<nh { rotate(s.mlaQ + t * nh * qk + h * qk + dn, half: dr / 2, scratch: s, interleaved: c.ropeInterleaved) }
        }

        // Which positions each token attends: all earlier ones, or the DSA top-k.
        if let ix = a.indexer {
            runIndexer(ix, layer: l, tokens: T, start: start, state: state)
        }
        let sparse = c.dsa != nil
        if sparse, let trace {
            let k = c.dsa!.topK
            for t in 0..<T {
                trace.sparseAttention[l, default: []].append((0..<s.selectedCount[t]).map { Int(s.selected[t * k + $0]) }.sorted())
            }
        }

        let latent = cache.keys[l]
        let scale = c.attentionScale
        let stride = s.mlaPerThreadStride
        let scoresStride = s.scoresStride
        let topK = c.dsa?.topK ?? 0
        let body = { (range: Range<Int>, thread: Int) in
            let qAbs = s.mlaPerThread + thread * stride          // [rkv]
            let outLatent = qAbs + rkv                          // [rkv]
            let scores = s.scores + thread * scoresStride
            for item in range {
                let t = causalOrder(item / nh, of: T), h = item % nh
                let pos = start + t
                let qh = s.mlaQ + t * nh * qk + h * qk
                // Fold the no-rope query through this head's key up-projection rows.
                switch a.kvB {
                case .fused(let kvB):
                    qAbs.update(repeating: 0, count: rkv)
                    for i in 0..<dn { accumulateRow(kvB, h * (dn + dv) + i, scale: qh[i], into: qAbs) }
                case .split(let keys, _):
                    for r in 0..<rkv { qAbs[r] = dotRow(keys[h], r, qh) }
                }
                let n = sparse ? s.selectedCount[t] : pos + 1
                for j in 0..<n {
                    let p = sparse ? Int(s.selected[t * topK + j]) : j
                    let row = latent + p * latentWidth
                    scores[j] = (dotF32(UnsafeRawPointer(row), qAbs, rkv) + dotF32(UnsafeRawPointer(row + rkv), qh + dn, dr)) * scale
                }
                softmaxInPlace(scores, n)
                outLatent.update(repeating: 0, count: rkv)
                for j in 0..<n {
                    let p = sparse ? Int(s.selected[t * topK + j]) : j
                    addScaled(outLatent, latent + p * latentWidth, scores[j], rkv)
                }
                // v = kvB[value rows of head h] · latent output: contiguous rows, so the row tiles
                // (wide.c, fp8.c: four rows per activation load) serve them.
                let out = s.att + t * nh * dv + h * dv
                switch a.kvB {
                case .fused(let kvB): matmulRows(kvB.rows(h * (dn + dv) + dn, count: dv), outLatent, out, tokens: 1, range: 0..<dv)
                case .split(_, let values): matmulRows(values[h], outLatent, out, tokens: 1, range: 0..<dv)
                }
            }
        }
        let work = T * nh
        if work * (start + T) * rkv < 32_768 {
            body(0..<work, 0)
        } else {
            pool.parallelFor(work, body)
        }
        if let k {
            // kvB is read once per token (key rows for the query fold, value rows for the output).
            for w in a.kvB.matrices { k.matmul(w, tokens: T) }
            var macs = 0, positions = 0
            for t in 0..<T {
                let n = sparse ? s.selectedCount[t] : start + t + 1
                macs += nh * n * (2 * rkv + dr)
                positions += n
            }
            // Every head reads the same latent rows: each counted once per token.
            k.attention(macs: macs, cacheBytes: positions * latentWidth * MemoryLayout<Float>.size)
        }
        project(a.o, bias: a.oBias, s.att, s.tmp, tokens: T, counters: k)
        _ = H
    }

    /// The DSA lightning indexer: for each token, score every earlier position with
    /// `Σ_h w_h · relu(q_h · k_j / sqrt(d))` and keep the `topK` best (all of them while there are
    /// no more than `topK`). Leaves the choice in the scratch for this and the following "shared" layers.
    func runIndexer(_ ix: IndexerWeights, layer l: Int, tokens T: Int, start: Int, state: InferenceState) {
        let c = config
        let d = c.dsa!
        let s = state.scratch
        let k = state.counters
        let cache = state.cache
        let D = d.headDim, nh = d.heads
        let dr = c.mla!.ropeDim
        // q: [T, heads*D] from the query latent; k: [T, D] into the indexer cache.
        project(ix.wqB, bias: nil, s.qResid, s.indexQ, tokens: T, counters: k)
        let keys = cache.indexKeys[l]
        project(ix.wk, bias: nil, s.h, keys + start * D, tokens: T, counters: k)
        project(ix.weightsProj, bias: nil, s.h, s.indexWeights, tokens: T, counters: k)
        k?.vector(count: 2 * D, tokens: T)
        for t in 0..<T {
            let kr = keys + (start + t) * D
            layerNorm(kr, weight: ix.kNormWeight, bias: ix.kNormBias, eps: 1e-6, n: D, out: kr)
            // The indexer's rope dims come first in each head.
            setRotaryAngles(position: start + t, scratch: s)
            rotate(kr, half: dr / 2, scratch: s, interleaved: d.ropeInterleaved)
            for h in 0..<nh { rotate(s.indexQ + t * nh * D + h * D, half: dr / 2, scratch: s, interleaved: d.ropeInterleaved) }
        }
        let headScale = 1 / Float(D).squareRoot()
        let weightScale = 1 / Float(nh).squareRoot()
        let scoresStride = s.indexScoresStride
        let body = { (range: Range<Int>, thread: Int) in
            let scores = s.indexScores + thread * scoresStride
            for k in range {
                let t = causalOrder(k, of: T)
                let n = start + t + 1
                let out = s.selected + t * d.topK
                if n <= d.topK {
                    for j in 0..<n { out[j] = Int32(j) }
                    s.selectedCount[t] = n
                    continue
                }
                let q = s.indexQ + t * nh * D
                let w = s.indexWeights + t * nh
                for j in 0..<n {
                    let kj = UnsafeRawPointer(keys + j * D)
                    var total: Float = 0
                    for h in 0..<nh {
                        total += w[h] * weightScale * max(dotF32(kj, q + h * D, D) * headScale, 0)
                    }
                    scores[j] = total
                }
                // Top-k by score (ties to the earlier position) with a min-heap in per-thread scratch.
                let heap = s.indexHeap + thread * d.topK
                let k = d.topK
                func better(_ a: Int32, _ b: Int32) -> Bool {
                    scores[Int(a)] > scores[Int(b)] || (scores[Int(a)] == scores[Int(b)] && a < b)
                }
                func siftDown(_ start: Int, _ count: Int) {
                    var i = start
                    while true {
                        let l = 2 * i + 1, r = l + 1
                        var worst = i
                        if l < count && better(heap[worst], heap[l]) { worst = l }
                        if r < count && better(heap[worst], heap[r]) { worst = r }
                        if worst == i { return }
                        let tmp = heap[i]; heap[i] = heap[worst]; heap[worst] = tmp
                        i = worst
                    }
                }
                for j in 0..<k { heap[j] = Int32(j) }
                for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i, k) }
                for j in k..<n where better(Int32(j), heap[0]) {
                    heap[0] = Int32(j)
                    siftDown(0, k)
                }
                for j in 0..<k { out[j] = heap[j] }
                s.selectedCount[t] = d.topK
            }
        }
        if T * (start + T) * nh * D < 32_768 {
            body(0..<T, 0)
        } else {
            pool.parallelFor(T, body)
        }
        // Per token: every head scores the positions so far; the cached keys (D floats a position)
        // are read once.
        var positions = 0
        for t in 0..<T { positions += start + t + 1 }
        k?.attention(macs: nh * D * positions, cacheBytes: positions * D * MemoryLayout<Float>.size)
    }
}
