import MoEFormats
import MoETensor

/// The DeepSeek family and its GLM descendants:
/// - `deepseek_v3` (and `kimi_k2`, the same architecture): MLA, YaRN, dense-first layers, a sigmoid
///   router with a correction bias and group-limited choice, shared experts;
/// - `deepseek_v32`: the same plus DSA sparse attention (an indexer on every layer);
/// - `glm_moe_dsa` (GLM-5.x): MLA with interleaved RoPE, DSA with "shared" layers that reuse the
///   previous indexer's choice;
/// - `glm4_moe` (GLM-4.5..4.7): GQA with q/k/v bias, partial rotary and optional q/k norm, with the
///   DeepSeek MoE block.
/// Multi-token-prediction layers (`num_nextn_predict_layers`) sit after the last decoder layer in
/// the checkpoint; plain decoding never binds them.
enum DeepSeek {
    /// Everything the config decides, before any weight is bound.
    struct Plan {
        var config: TransformerConfig
        var layout: DecoderLayout
        var mla: Bool
        var isMoE: [Bool]
        var indexerLayers: [Bool]
        var experts, topK, expertInter, denseInter, shared, groups, topKGroups: Int
        var scoring: String
        var normalize: Bool
        var scale: Float
        var attentionBias: Bool
    }

    static func plan(_ r: ConfigReader, type: String) throws -> Plan {
        let mla = type != "glm4_moe"
        let dsa = type == "deepseek_v32" || type == "glm_moe_dsa"
        var c = try commonConfig(r, modelType: type)
        let L = try r.int("num_hidden_layers", min: 1)
        let rope = try r.rope()
        var layout = DecoderLayout()
        if mla {
            let shape = MLAShape(heads: c.heads, nopeDim: try r.int("qk_nope_head_dim", min: 0),
                                 ropeDim: try r.int("qk_rope_head_dim", min: 2), valueDim: try r.int("v_head_dim", min: 1),
                                 kvLoraRank: try r.int("kv_lora_rank", min: 1), qLoraRank: try r.optionalInt("q_lora_rank"))
            guard shape.ropeDim % 2 == 0 else { throw r.fail("qk_rope_head_dim", "must be even") }
            c.mla = shape
            c.headDim = shape.nopeDim + shape.ropeDim
            c.rotaryDims = shape.ropeDim
            c.inverseFrequencies = rope.inverseFrequencies(dims: shape.ropeDim)
            c.attentionScale = Float(1 / Double(c.headDim).squareRoot() * rope.mlaScaleMultiplier)
            c.ropeInterleaved = type == "glm_moe_dsa" ? true : try r.bool("rope_interleave", default: true)
        } else {
            layout.qkvBias = try r.bool("attention_bias", default: false)
            if try r.bool("use_qk_norm", default: false) { c.qkNorm = .perHead }
        }
        if dsa {
            guard c.mla?.qLoraRank != nil else { throw r.fail("q_lora_rank", "the DSA indexer needs a q_lora_rank") }
            // Bounded (as the GGUF reader bounds its keys) so that products of them and the per-token
            // top-k buffers cannot overflow.
            let d = DSAShape(heads: try r.int("index_n_heads", min: 1, max: 1 << 16),
                             headDim: try r.int("index_head_dim", min: 2, max: 1 << 16),
                             topK: try r.int("index_topk", min: 1, max: 1 << 20), ropeInterleaved: type == "glm_moe_dsa")
            guard d.headDim >= c.rotaryDims else { throw r.fail("index_head_dim", "is smaller than qk_rope_head_dim") }
            c.dsa = d
        }
        let isMoE = try r.deepSeekMoELayers(type: type, layers: L)
        let indexerLayers = dsa ? try r.dsaIndexerLayers(type: type, layers: L) : Array(repeating: false, count: L)
        if dsa && indexerLayers.first != true {
            throw r.fail("indexer_types", "layer 0 must run its own indexer before later layers can share its choice")
        }
        let (experts, topK) = try r.expertCounts()
        let expertInter = try r.int("moe_intermediate_size", min: 1)
        let denseInter = try r.int("intermediate_size", min: 1)
        let shared = try r.int("n_shared_experts", default: 0)
        let groups = try r.int("n_group", default: 1, min: 1)
        let topKGroups = try r.int("topk_group", default: 1, min: 1)
        guard experts % groups == 0, topKGroups <= groups, topK <= topKGroups * (experts / groups) else {
            throw r.fail("n_group", "\(experts) experts in \(groups) groups with top-\(topKGroups) groups cannot give \(topK) experts")
        }
        let scoring = try r.string("scoring_func", default: "sigmoid")
        guard scoring == "sigmoid" || scoring == "softmax" else { throw r.fail("scoring_func", "'\(scoring)' is not supported (sigmoid, softmax are)") }
        let normalize = try r.bool("norm_topk_prob", default: true)
        let scale = Float(try r.double("routed_scaling_factor", default: 1))
        return Plan(config: c, layout: layout, mla: mla, isMoE: isMoE, indexerLayers: indexerLayers, experts: experts,
                    topK: topK, expertInter: expertInter, denseInter: denseInter, shared: shared, groups: groups,
                    topKGroups: topKGroups, scoring: scoring, normalize: normalize, scale: scale,
                    attentionBias: try r.bool("attention_bias", default: false))
    }

    static func build(_ r: ConfigReader, _ tensors: TensorDirectory, _ pool: ThreadPool, type: String) throws -> TransformerModel {
        let p = try plan(r, type: type)
        let c = p.config
        let (experts, topK, expertInter, denseInter, shared) = (p.experts, p.topK, p.expertInter, p.denseInter, p.shared)
        let (groups, topKGroups, scoring, normalize, scale) = (p.groups, p.topKGroups, p.scoring, p.normalize, p.scale)
        let (isMoE, indexerLayers, layout, mla) = (p.isMoE, p.indexerLayers, p.layout, p.mla)
        let H = c.hidden
        let config = c

        let attention: ((Int, WeightBinder) throws -> Attention)? = mla ? { i, w in
            .mla(try bindMLA(w, config, layer: i, attentionBias: p.attentionBias, indexer: indexerLayers[i]))
        } : nil
        return try buildDecoder(r, c, tensors, layout: layout, pool: pool, attention: attention) { i, w in
            let p = "model.layers.\(i).mlp."
            guard isMoE[i] else { return .dense(try bindMLP(w, p, hidden: H, intermediate: denseInter)) }
            let biasName = p + "gate.e_score_correction_bias"
            let router = Router(scoring: scoring == "sigmoid" ? .sigmoid : .softmax, topK: topK, normalize: normalize,
                                normalizeEpsilon: 1e-20, scale: scale,
                                correctionBias: w.has(biasName) ? try w.vector(biasName, count: experts) : nil,
                                groups: groups, topKGroups: topKGroups)
            var block = MoEWeights(
                router: try w.matrix(p + "gate.weight", rows: experts, cols: H), routing: router,
                experts: try (0..<experts).map { try bindMLP(w, p + "experts.\($0).", hidden: H, intermediate: expertInter) })
            if shared > 0 {
                block.shared = try bindMLP(w, p + "shared_experts.", hidden: H, intermediate: expertInter * shared)
            }
            return .moe(block)
        }
    }

    static func bindMLA(_ w: WeightBinder, _ c: TransformerConfig, layer i: Int, attentionBias: Bool, indexer: Bool) throws -> MLAWeights {
        let m = c.mla!
        let H = c.hidden
        let a = "model.layers.\(i).self_attn."
        let qOut = m.heads * (m.nopeDim + m.ropeDim)
        var qA: WeightMatrix?, qB: WeightMatrix?, q: WeightMatrix?, qABias: [Float]?, qANorm: [Float]?
        if let rq = m.qLoraRank {
            qA = try w.matrix(a + "q_a_proj.weight", rows: rq, cols: H)
            if attentionBias { qABias = try w.vector(a + "q_a_proj.bias", count: rq) }
            qANorm = try w.vector(a + "q_a_layernorm.weight", count: rq)
            qB = try w.matrix(a + "q_b_proj.weight", rows: qOut, cols: rq)
        } else {
            q = try w.matrix(a + "q_proj.weight", rows: qOut, cols: H)
        }
        var weights = MLAWeights(
            qA: qA, qABias: qABias, qANorm: qANorm, qB: qB, q: q,
            kvA: try w.matrix(a + "kv_a_proj_with_mqa.weight", rows: m.kvLoraRank + m.ropeDim, cols: H),
            kvABias: attentionBias ? try w.vector(a + "kv_a_proj_with_mqa.bias", count: m.kvLoraRank + m.ropeDim) : nil,
            kvANorm: try w.vector(a + "kv_a_layernorm.weight", count: m.kvLoraRank),
            kvB: try bindKVUp(w, a, m),
            o: try w.matrix(a + "o_proj.weight", rows: H, cols: m.heads * m.valueDim),
            oBias: attentionBias ? try w.vector(a + "o_proj.bias", count: H) : nil,
            indexer: nil)
        if indexer, let d = c.dsa, let rq = m.qLoraRank {
            let x = a + "indexer."
            weights.indexer = IndexerWeights(
                wqB: try w.matrix(x + "wq_b.weight", rows: d.heads * d.headDim, cols: rq),
                wk: try w.matrix(x + "wk.weight", rows: d.headDim, cols: H),
                weightsProj: try w.matrix(x + "weights_proj.weight", rows: d.heads, cols: H),
                kNormWeight: try w.vector(x + "k_norm.weight", count: d.headDim),
                kNormBias: try w.vector(x + "k_norm.bias", count: d.headDim))
        }
        return weights
    }

    /// `kv_b_proj`, or (from GGUF) llama.cpp's per-head split of it: `k_b_proj [heads, kvLoraRank, nope]`
    /// (each head's key rows transposed) and `v_b_proj [heads, v, kvLoraRank]`, both read in place.
    static func bindKVUp(_ w: WeightBinder, _ a: String, _ m: MLAShape) throws -> MLAUpProjection {
        let fused = a + "kv_b_proj.weight"
        // The absorbed form reads these in place (accumulateRow for the query fold, the f32 row tiles
        // for each head's value rows), never through the integer kernels: no repacked copy.
        if w.has(fused) || !w.has(a + "k_b_proj.weight") {
            return .fused(try w.matrix(fused, rows: m.heads * (m.nopeDim + m.valueDim), cols: m.kvLoraRank, lookupOnly: true))
        }
        return .split(keys: try w.stacked(a + "k_b_proj.weight", count: m.heads, rows: m.kvLoraRank, cols: m.nopeDim, lookupOnly: true),
                      values: try w.stacked(a + "v_b_proj.weight", count: m.heads, rows: m.valueDim, cols: m.kvLoraRank, lookupOnly: true))
    }
}
