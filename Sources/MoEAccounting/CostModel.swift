/// An accelerator the GPU count is priced for.
public struct Accelerator: Sendable, Equatable {
    public var name: String
    public var memoryBytes: Int
    public static let common: [Accelerator] = [
        .init(name: "H100 80GB", memoryBytes: 80_000_000_000),
        .init(name: "H200 141GB", memoryBytes: 141_000_000_000),
        .init(name: "B200 192GB", memoryBytes: 192_000_000_000),
        .init(name: "MI300X 192GB", memoryBytes: 192_000_000_000),
    ]
    /// Share of an accelerator's memory usable for weights and KV (the rest: activations, runtime).
    public static let usableFraction = 0.9
}

/// Inputs of a report beyond the model itself.
public struct CostOptions: Sendable {
    /// Context length for attention FLOPs and the KV cache.
    public var context: Int = 0
    /// Sequences served at once (KV room when counting GPUs).
    public var concurrency: Int = 1
    /// Memory bandwidth in bytes/s for the decode roofline (nil: per GB/s only).
    public var bandwidth: Double?
    /// Bytes per KV-cache element (2: BF16).
    public var kvElementBytes: Int = 2
    public init() {}
}

/// The predicted costs of a model: parameters under each convention, FLOPs, bytes, KV, GPUs.
public struct CostReport: Sendable {
    public var modelType: String
    public var totalParams: Int
    public var checkpointParams: Int
    public var mtpParams: Int
    public var activeParamsCore: Int
    public var activeParamsCompute: Int
    public var activeParamsAll: Int
    public var routedExpertParams: Int
    public var embeddingParams: Int
    public var lmHeadParams: Int
    public var layers: Int
    public var moeLayers: Int
    public var routedExperts: Int
    public var activeExperts: Int
    public var context: Int
    /// Attention FLOPs of one decoded token at `context`.
    public var attentionFlopsPerToken: Double
    /// 2 × active_params_compute + attention terms, for one token decoded at `context`.
    public var flopsPerToken: Double
    /// Average FLOPs per token of a prefill of `context` tokens (equals decode at context 0).
    public var prefillFlopsPerToken: Double
    /// Bytes of the main model's weights by precision.
    public var weightBytes: [(Precision, Int)]
    /// Weight bytes read to decode one token, by precision.
    public var activeWeightBytes: [(Precision, Int)]
    public var storedPrecision: Precision?
    public var kvBytesPerToken: Int
    public var kvBytesAtContext: Int
    public var concurrency: Int
    /// GPUs needed per accelerator and precision.
    public var gpusNeeded: [(Accelerator, [(Precision, Int)])]
    public var bandwidth: Double?

    /// Decode tokens/s per GB/s of memory bandwidth at `precision` (weights + KV read per token).
    public func tokensPerSecondPerGBps(_ p: Precision) -> Double {
        let bytes = Double(activeWeightBytes.first { $0.0 == p }!.1 + kvBytesAtContext)
        return 1e9 / bytes
    }
}

/// Computes reports from an inventory.
public enum CostModel {
    public static func report(_ inv: ModelInventory, options o: CostOptions = CostOptions()) -> CostReport {
        let all = inv.tensors
        func sum(_ ts: [TensorSpec]) -> Int { ts.reduce(0) { $0 + ($1.isBuffer ? 0 : $1.count) } }
        let total = sum(all)
        let mtp = sum(inv.mtpTensors)
        let embedding = sum(all.filter { $0.role == .embedding })
        let head = sum(all.filter { $0.role == .lmHead })
        let routed = sum(all.filter { $0.role == .routedExpert })

        // Routed experts that fire, layer by layer: the layer's routed params × active / experts.
        var activeRouted = 0
        var routedByLayer: [Int: Int] = [:]
        for t in all where t.role == .routedExpert && !t.isBuffer { routedByLayer[t.layer ?? -1, default: 0] += t.count }
        for (l, n) in routedByLayer {
            let shape = inv.layers[l]
            activeRouted += n / max(shape.routedExperts, 1) * shape.activeExperts
        }
        let core = total - embedding - head - routed + activeRouted
        let headCompute = inv.tiedEmbeddings ? inv.vocabSize * inv.hidden : head
        let compute = core + headCompute
        let activeAll = compute + (inv.tiedEmbeddings ? 0 : embedding)

        let L = max(0, o.context)
        let attnDecode = attentionFlops(inv, positions: L)
        var prefillAttn = 0.0
        if L > 0 {
            // Position i (1-based) attends over i positions; the per-position cost is piecewise
            // linear, so sum it exactly in O(layers) through the closed form per layer.
            prefillAttn = attentionFlopsSum(inv, upTo: L) / Double(L)
        }
        let matrix = 2 * Double(compute)

        var weightBytes: [(Precision, Int)] = []
        var activeBytes: [(Precision, Int)] = []
        var precisions = Precision.reported
        if let s = inv.storedPrecision, !precisions.contains(s) { precisions.append(s) }
        for p in precisions {
            weightBytes.append((p, all.reduce(0) { $0 + p.bytes($1) }))
            activeBytes.append((p, activeWeightBytes(inv, p)))
        }

        let kvPerToken = kvBytes(inv, positions: 1, elementBytes: o.kvElementBytes, windowed: false)
        let kvAtL = kvBytes(inv, positions: L, elementBytes: o.kvElementBytes, windowed: true)
        var gpus: [(Accelerator, [(Precision, Int)])] = []
        for a in Accelerator.common {
            let usable = Double(a.memoryBytes) * Accelerator.usableFraction
            gpus.append((a, weightBytes.map { p, w in
                (p, Int((Double(w + max(1, o.concurrency) * kvAtL) / usable).rounded(.up)))
            }))
        }
        let moeShapes = inv.layers.filter { $0.routedExperts > 0 }
        return CostReport(
            modelType: inv.modelType, totalParams: total, checkpointParams: total + mtp, mtpParams: mtp,
            activeParamsCore: core, activeParamsCompute: compute, activeParamsAll: activeAll,
            routedExpertParams: routed, embeddingParams: embedding, lmHeadParams: head,
            layers: inv.layers.count, moeLayers: moeShapes.count,
            routedExperts: moeShapes.map(\.routedExperts).max() ?? 0, activeExperts: moeShapes.map(\.activeExperts).max() ?? 0,
            context: L, attentionFlopsPerToken: attnDecode, flopsPerToken: matrix + attnDecode,
            prefillFlopsPerToken: matrix + prefillAttn,
            weightBytes: weightBytes, activeWeightBytes: activeBytes, storedPrecision: inv.storedPrecision,
            kvBytesPerToken: kvPerToken, kvBytesAtContext: kvAtL, concurrency: max(1, o.concurrency),
            gpusNeeded: gpus, bandwidth: o.bandwidth)
    }

    /// The same model if it were dense: every parameter active.
    public static func denseEquivalent(_ r: CostReport) -> CostReport {
        var d = r
        d.activeParamsCore = r.totalParams - r.embeddingParams - r.lmHeadParams
        d.activeParamsCompute = d.activeParamsCore + (r.activeParamsCompute - r.activeParamsCore)
        d.activeParamsAll = r.totalParams
        d.flopsPerToken = 2 * Double(d.activeParamsCompute) + r.attentionFlopsPerToken
        d.prefillFlopsPerToken = r.prefillFlopsPerToken - 2 * Double(r.activeParamsCompute) + 2 * Double(d.activeParamsCompute)
        d.activeWeightBytes = r.weightBytes
        d.activeExperts = r.routedExperts
        return d
    }

    /// Attention score and value FLOPs of one token that attends over `positions` positions.
    static func attentionFlops(_ inv: ModelInventory, positions n: Int) -> Double {
        var f = 0.0
        for layer in inv.layers {
            switch layer.attention {
            case let .gqa(heads, _, headDim, valueDim, window):
                let m = min(n, window ?? n)
                f += 2 * Double(heads * (headDim + valueDim) * m)
            case let .mla(heads, _, rope, _, rank):
                // Absorbed form, as decoded: scores against the cached latent and its rotated key,
                // values as a weighted sum of latents.
                let m = min(n, layer.indexer?.topK ?? n)
                f += 2 * Double(heads * (2 * rank + rope) * m)
            }
            if let ix = layer.indexer, ix.computes {
                f += 2 * Double(ix.heads * ix.headDim * n)
            }
        }
        return f
    }

    /// Σ over positions 1...L of `attentionFlops(positions: i)`.
    static func attentionFlopsSum(_ inv: ModelInventory, upTo L: Int) -> Double {
        // Σ_{i=1..L} min(i, w) = w(w+1)/2 + (L-w)·w for L > w, else L(L+1)/2.
        func capped(_ w: Int?) -> Double {
            let L = Double(L)
            guard let w, Double(w) < L else { return L * (L + 1) / 2 }
            let W = Double(w)
            return W * (W + 1) / 2 + (L - W) * W
        }
        var f = 0.0
        for layer in inv.layers {
            switch layer.attention {
            case let .gqa(heads, _, headDim, valueDim, window):
                f += 2 * Double(heads * (headDim + valueDim)) * capped(window)
            case let .mla(heads, _, rope, _, rank):
                f += 2 * Double(heads * (2 * rank + rope)) * capped(layer.indexer?.topK)
            }
            if let ix = layer.indexer, ix.computes {
                f += 2 * Double(ix.heads * ix.headDim) * capped(nil)
            }
        }
        return f
    }

    /// Weight bytes one decoded token reads at precision `p`: every active tensor, the routed
    /// experts in proportion to those that fire, and one row of the input embedding.
    static func activeWeightBytes(_ inv: ModelInventory, _ p: Precision) -> Int {
        activeWeightBytes(inv, bytes: p.bytes)
    }

    /// `activeWeightBytes` with any rule for a tensor's stored size.
    static func activeWeightBytes(_ inv: ModelInventory, bytes size: (TensorSpec) -> Int) -> Int {
        var bytes = 0
        var routedByLayer: [Int: Int] = [:]
        for t in inv.tensors {
            switch t.role {
            case .embedding:
                bytes += size(t) / max(inv.vocabSize, 1)   // one row
                if inv.tiedEmbeddings { bytes += size(TensorSpec(t.name, t.shape, .lmHead)) }
            case .routedExpert:
                routedByLayer[t.layer ?? -1, default: 0] += size(t)
            default:
                bytes += size(t)
            }
        }
        for (l, n) in routedByLayer {
            let s = inv.layers[l]
            bytes += n / max(s.routedExperts, 1) * s.activeExperts
        }
        return bytes
    }

    /// KV-cache bytes for `positions` positions (windowed layers hold at most their window).
    static func kvBytes(_ inv: ModelInventory, positions n: Int, elementBytes e: Int, windowed: Bool) -> Int {
        var b = 0
        for layer in inv.layers {
            switch layer.attention {
            case let .gqa(_, kvHeads, headDim, valueDim, window):
                let m = windowed ? min(n, window ?? n) : n
                b += kvHeads * (headDim + valueDim) * e * m
            case let .mla(_, _, rope, _, rank):
                b += (rank + rope) * e * n
            }
            if let ix = layer.indexer, ix.computes {
                b += ix.headDim * e * n
            }
        }
        return b
    }
}
