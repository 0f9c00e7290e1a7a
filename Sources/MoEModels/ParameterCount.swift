import MoETensor

/// Parameter counts of a bound model, from the weights it actually holds.
public struct ParameterCounts: Sendable, Equatable {
    /// Every parameter held (a tied embedding/head counted once).
    public var total: Int
    /// Parameters multiplied for one token: everything but the routed experts that do not fire,
    /// the input embedding included (one row is read, but the convention of Qwen/Mistral/Meta counts it whole).
    public var activePerToken: Int
    /// Bytes of weights held.
    public var weightBytes: Int
}

extension TransformerModel {
    /// Every weight matrix the model multiplies with (the embedding once if tied).
    public func weightMatrices() -> [WeightMatrix] {
        var out = [embedding]
        if lmHead.base != embedding.base { out.append(lmHead) }
        for l in layers {
            switch l.attention {
            case .gqa(let a): out += [a.q, a.k, a.v, a.o]
            case .mla(let m):
                out += [m.qA, m.qB, m.q].compactMap { $0 } + [m.kvA] + m.kvB.matrices + [m.o]
                if let ix = m.indexer { out += [ix.wqB, ix.wk, ix.weightsProj] }
            }
            switch l.feedForward {
            case .dense(let m): out += [m.gate, m.up, m.down]
            case .moe(let e):
                out.append(e.router)
                if let g = e.sharedGate { out.append(g) }
                for m in e.experts + (e.shared.map { [$0] } ?? []) { out += [m.gate, m.up, m.down] }
            }
        }
        return out
    }

    /// Routed experts per MoE layer (the largest, if layers differ); 0 for a dense model.
    public var routedExpertCount: Int {
        layers.map { if case .moe(let m) = $0.feedForward { return m.experts.count } else { return 0 } }.max() ?? 0
    }

    /// The mapped files the weights are read from.
    public func mappedFiles() -> [MappedFile] {
        var seen: [ObjectIdentifier: MappedFile] = [:]
        for w in weightMatrices() {
            if let f = w.owner as? MappedFile { seen[ObjectIdentifier(f)] = f }
        }
        return seen.values.sorted { $0.path < $1.path }
    }

    public func parameterCounts() -> ParameterCounts {
        var total = 0, active = 0, bytes = 0
        func m(_ w: WeightMatrix, active a: Bool = true) {
            total += w.rows * w.cols
            bytes += w.byteCount
            if a { active += w.rows * w.cols }
        }
        func v(_ x: [Float]?) {
            guard let x else { return }
            total += x.count
            active += x.count
            bytes += x.count * 4
        }
        func mlp(_ w: MLPWeights, active a: Bool) {
            m(w.gate, active: a); m(w.up, active: a); m(w.down, active: a)
            for b in [w.gateBias, w.upBias, w.downBias] { if let b { total += b.count; if a { active += b.count } } }
        }
        m(embedding)
        if lmHead.base != embedding.base { m(lmHead) }
        v(finalNorm)
        for l in layers {
            v(l.inputNorm); v(l.postAttentionNorm)
            switch l.attention {
            case .gqa(let a):
                m(a.q); m(a.k); m(a.v); m(a.o)
                v(a.qBias); v(a.kBias); v(a.vBias); v(a.oBias); v(a.qNorm); v(a.kNorm)
            case .mla(let a):
                for x in [a.qA, a.qB, a.q].compactMap({ $0 }) + [a.kvA] + a.kvB.matrices + [a.o] { m(x) }
                v(a.qABias); v(a.qANorm); v(a.kvABias); v(a.kvANorm); v(a.oBias)
                if let ix = a.indexer { m(ix.wqB); m(ix.wk); m(ix.weightsProj); v(ix.kNormWeight); v(ix.kNormBias) }
            }
            switch l.feedForward {
            case .dense(let w): mlp(w, active: true)
            case .moe(let e):
                m(e.router)
                if let s = e.shared { mlp(s, active: true) }
                if let g = e.sharedGate { m(g) }
                for x in e.experts { mlp(x, active: false) }
                if let first = e.experts.first {
                    active += e.routing.topK * (first.gate.rows * first.gate.cols + first.up.rows * first.up.cols + first.down.rows * first.down.cols)
                }
            }
        }
        return ParameterCounts(total: total, activePerToken: active, weightBytes: bytes)
    }
}
