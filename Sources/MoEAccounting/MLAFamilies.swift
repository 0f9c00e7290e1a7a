import MoEModels

/// DeepSeek-V3 / Kimi-K2 (`deepseek_v3`, `kimi_k2`), DeepSeek-V3.2 (`deepseek_v32`), GLM-5.x
/// (`glm_moe_dsa`) with multi-head latent attention, and GLM-4.5..4.7 (`glm4_moe`) with GQA; all
/// with the DeepSeek MoE block (sigmoid router + correction bias, shared experts, dense-first
/// layers) and multi-token-prediction layers in the checkpoint.
/// Shapes follow scripts/oracle/PARAM_COUNTS.md.
enum MLAFamilies {
    static let modelTypes = ["deepseek_v3", "kimi_k2", "deepseek_v32", "glm_moe_dsa", "glm4_moe"]

    struct Hyper {
        var H, V, L, heads, E, topK, expertInter, denseInter, shared: Int
        var tied: Bool
        // MLA
        var qLoraRank: Int?
        var kvLoraRank = 0, nope = 0, rope = 0, vDim = 0
        var attentionBias = false
        // GQA (glm4_moe)
        var kvHeads = 0, headDim = 0, qkNorm = false
        // DSA
        var indexHeads = 0, indexHeadDim = 0, indexTopK = 0
    }

    static func build(_ r: ConfigReader, type: String) throws -> ModelInventory {
        let mla = type != "glm4_moe"
        let dsa = type == "deepseek_v32" || type == "glm_moe_dsa"
        let (E, k) = try r.expertCounts()
        var h = Hyper(H: try r.int("hidden_size", min: 1), V: try r.int("vocab_size", min: 1),
                      L: try r.int("num_hidden_layers", min: 1), heads: try r.int("num_attention_heads", min: 1),
                      E: E, topK: k, expertInter: try r.int("moe_intermediate_size", min: 1),
                      denseInter: try r.int("intermediate_size", min: 1),
                      shared: try r.int("n_shared_experts", default: 0), tied: try r.bool("tie_word_embeddings", default: false))
        h.attentionBias = try r.bool("attention_bias", default: false)
        if mla {
            h.qLoraRank = try r.optionalInt("q_lora_rank")
            h.kvLoraRank = try r.int("kv_lora_rank", min: 1)
            h.nope = try r.int("qk_nope_head_dim", min: 0)
            h.rope = try r.int("qk_rope_head_dim", min: 1)
            h.vDim = try r.int("v_head_dim", min: 1)
        } else {
            h.kvHeads = try r.int("num_key_value_heads", default: h.heads, min: 1)
            h.headDim = try r.int("head_dim", default: h.H / h.heads, min: 1)
            h.qkNorm = try r.bool("use_qk_norm", default: false)
        }
        if dsa {
            h.indexHeads = try r.int("index_n_heads", min: 1)
            h.indexHeadDim = try r.int("index_head_dim", min: 1)
            h.indexTopK = try r.int("index_topk", min: 1)
            guard h.qLoraRank != nil else {
                throw ModelError.config(file: r.file, key: "q_lora_rank", message: "the DSA indexer needs a q_lora_rank")
            }
        }

        let isMoE = try r.deepSeekMoELayers(type: type, layers: h.L)
        // Which layers compute their own DSA top-k ("full") rather than reuse the previous one.
        let indexerFull = dsa ? try r.dsaIndexerLayers(type: type, layers: h.L) : Array(repeating: false, count: h.L)

        var b = InventoryBuilder()
        b.add("model.embed_tokens.weight", [h.V, h.H], .embedding)
        var shapes: [LayerShape] = []
        for l in 0..<h.L {
            decoderLayer(&b, h, layer: l, mla: mla, indexer: dsa ? indexerFull[l] : nil, moe: isMoE[l])
            shapes.append(layerShape(h, mla: mla, dsa: dsa, full: indexerFull[l], moe: isMoE[l]))
        }
        b.norm("model.norm.weight", h.H, layer: nil)
        if !h.tied { b.add("lm_head.weight", [h.V, h.H], .lmHead) }

        // Multi-token prediction: full MoE layers after the last decoder layer, with their own
        // projections; DeepSeek releases also store copies of the embedding and head there, which
        // are not unique parameters and are left out.
        let mtpLayers = try r.int("num_nextn_predict_layers", "num_mtp_layers", default: 0)
        var m = InventoryBuilder()
        for i in 0..<mtpLayers {
            let l = h.L + i
            let p = "model.layers.\(l)."
            decoderLayer(&m, h, layer: l, mla: mla, indexer: dsa ? true : nil, moe: true)
            m.norm(p + "enorm.weight", h.H, layer: l)
            m.norm(p + "hnorm.weight", h.H, layer: l)
            m.linear(p + "eh_proj", out: h.H, in: 2 * h.H, .attention, layer: l)
            m.norm(p + "shared_head.norm.weight", h.H, layer: l)
        }
        return ModelInventory(modelType: type, hidden: h.H, vocabSize: h.V, tensors: b.tensors, mtpTensors: m.tensors,
                              layers: shapes, tiedEmbeddings: h.tied, storedPrecision: nil)
    }

    static func layerShape(_ h: Hyper, mla: Bool, dsa: Bool, full: Bool, moe: Bool) -> LayerShape {
        let attention: AttentionShape = mla
            ? .mla(heads: h.heads, nopeDim: h.nope, ropeDim: h.rope, valueDim: h.vDim, kvLoraRank: h.kvLoraRank)
            : .gqa(heads: h.heads, kvHeads: h.kvHeads, headDim: h.headDim, valueDim: h.headDim, window: nil)
        let indexer = dsa ? IndexerShape(heads: h.indexHeads, headDim: h.indexHeadDim, topK: h.indexTopK, computes: full) : nil
        return LayerShape(attention: attention, indexer: indexer, routedExperts: moe ? h.E : 0, activeExperts: moe ? h.topK : 0)
    }

    static func decoderLayer(_ b: inout InventoryBuilder, _ h: Hyper, layer l: Int, mla: Bool, indexer: Bool?, moe: Bool) {
        let p = "model.layers.\(l)."
        let a = p + "self_attn."
        b.norm(p + "input_layernorm.weight", h.H, layer: l)
        b.norm(p + "post_attention_layernorm.weight", h.H, layer: l)
        if mla {
            let qOut = h.heads * (h.nope + h.rope)
            if let rq = h.qLoraRank {
                b.linear(a + "q_a_proj", out: rq, in: h.H, .attention, layer: l, bias: h.attentionBias)
                b.norm(a + "q_a_layernorm.weight", rq, layer: l)
                b.linear(a + "q_b_proj", out: qOut, in: rq, .attention, layer: l)
            } else {
                b.linear(a + "q_proj", out: qOut, in: h.H, .attention, layer: l)
            }
            b.linear(a + "kv_a_proj_with_mqa", out: h.kvLoraRank + h.rope, in: h.H, .attention, layer: l, bias: h.attentionBias)
            b.norm(a + "kv_a_layernorm.weight", h.kvLoraRank, layer: l)
            b.linear(a + "kv_b_proj", out: h.heads * (h.nope + h.vDim), in: h.kvLoraRank, .attention, layer: l)
            b.linear(a + "o_proj", out: h.H, in: h.heads * h.vDim, .attention, layer: l, bias: h.attentionBias)
        } else {
            let qw = h.heads * h.headDim, kvw = h.kvHeads * h.headDim
            b.linear(a + "q_proj", out: qw, in: h.H, .attention, layer: l, bias: h.attentionBias)
            b.linear(a + "k_proj", out: kvw, in: h.H, .attention, layer: l, bias: h.attentionBias)
            b.linear(a + "v_proj", out: kvw, in: h.H, .attention, layer: l, bias: h.attentionBias)
            b.linear(a + "o_proj", out: h.H, in: qw, .attention, layer: l)   // GLM-4 never biases o_proj
            if h.qkNorm {
                b.norm(a + "q_norm.weight", h.headDim, layer: l)
                b.norm(a + "k_norm.weight", h.headDim, layer: l)
            }
        }
        if indexer == true, let rq = h.qLoraRank {
            let ix = a + "indexer."
            b.linear(ix + "wq_b", out: h.indexHeads * h.indexHeadDim, in: rq, .indexer, layer: l)
            b.linear(ix + "wk", out: h.indexHeadDim, in: h.H, .indexer, layer: l)
            b.add(ix + "k_norm.weight", [h.indexHeadDim], .indexer, layer: l)
            b.add(ix + "k_norm.bias", [h.indexHeadDim], .indexer, layer: l)
            b.linear(ix + "weights_proj", out: h.indexHeads, in: h.H, .indexer, layer: l)
        }
        let m = p + "mlp."
        if moe {
            b.linear(m + "gate", out: h.E, in: h.H, .router, layer: l)
            b.tensors.append(TensorSpec(m + "gate.e_score_correction_bias", [h.E], .router, layer: l, isBuffer: true))
            for e in 0..<h.E {
                b.mlp(m + "experts.\(e).", hidden: h.H, inter: h.expertInter, .routedExpert, layer: l, expert: e)
            }
            if h.shared > 0 {
                b.mlp(m + "shared_experts.", hidden: h.H, inter: h.expertInter * h.shared, .sharedExpert, layer: l)
            }
        } else {
            b.mlp(m, hidden: h.H, inter: h.denseInter, .denseMLP, layer: l)
        }
    }
}
