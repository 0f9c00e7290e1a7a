import MoEModels

/// gpt-oss, Llama 4 (text) and MiniMax-M2 inventories (shapes as in scripts/oracle/PARAM_COUNTS.md).
enum OtherFamilies {
    static let modelTypes = ["gpt_oss", "llama4", "llama4_text", "minimax_m2"]

    static func build(_ r: ConfigReader, type: String) throws -> ModelInventory {
        switch type {
        case "gpt_oss": return try gptOSS(r)
        case "minimax_m2": return try minimax(r)
        default:
            // Llama 4 checkpoints nest the language model's config under text_config.
            if let text = r.json["text_config"], text.objectMembers != nil {
                return try llama4(ConfigReader(json: text, file: r.file + " (text_config)"))
            }
            return try llama4(r)
        }
    }

    /// gpt-oss: biased attention with sinks, alternating sliding/full attention, a biased router,
    /// and stacked input-major experts with biases (stored as MXFP4 blocks; counted dequantised).
    static func gptOSS(_ r: ConfigReader) throws -> ModelInventory {
        var h = try GQAHyper(r)
        let window = try r.optionalInt("sliding_window")
        let (E, k) = try r.expertCounts()
        let I = try r.int("intermediate_size", min: 1)
        let types = (r.json["layer_types"]?.arrayValue ?? []).compactMap(\.stringValue)
        let layout = GQALayout(qkvBias: true, outputBias: true)
        h.window = nil
        var inv = gqaInventory(modelType: "gpt_oss", h, layout: layout) { l, b in
            let p = "model.layers.\(l)."
            b.add(p + "self_attn.sinks", [h.heads], .attention, layer: l)
            b.linear(p + "mlp.router", out: E, in: h.hidden, .router, layer: l, bias: true)
            b.add(p + "mlp.experts.gate_up_proj", [E, h.hidden, 2 * I], .routedExpert, layer: l)
            b.add(p + "mlp.experts.gate_up_proj_bias", [E, 2 * I], .routedExpert, layer: l)
            b.add(p + "mlp.experts.down_proj", [E, I, h.hidden], .routedExpert, layer: l)
            b.add(p + "mlp.experts.down_proj_bias", [E, h.hidden], .routedExpert, layer: l)
            return (E, k)
        }
        for l in inv.layers.indices where l < types.count && types[l] == "sliding_attention" {
            inv.layers[l].attention = .gqa(heads: h.heads, kvHeads: h.kvHeads, headDim: h.headDim, valueDim: h.headDim, window: window)
        }
        inv.storedPrecision = .mxfp4
        return inv
    }

    /// Llama 4: MoE layers (router, stacked input-major experts, a shared expert) interleaved with
    /// dense ones; weightless q/k norm; chunked attention on RoPE layers.
    static func llama4(_ r: ConfigReader) throws -> ModelInventory {
        var h = try GQAHyper(r)
        let (E, k) = try r.expertCounts()
        let I = try r.int("intermediate_size", min: 1)
        let denseI = try r.int("intermediate_size_mlp", default: I)
        let step = try r.int("interleave_moe_layer_step", default: 1, min: 1)
        var moeLayers = Set(try r.intList("moe_layers"))
        if moeLayers.isEmpty { moeLayers = Set(stride(from: step - 1, to: h.layers, by: step)) }
        let bias = try r.bool("attention_bias", default: false)
        let chunk = try r.optionalInt("attention_chunk_size")
        h.window = nil
        var inv = gqaInventory(modelType: "llama4", h, layout: GQALayout(qkvBias: bias, outputBias: bias)) { l, b in
            let p = "model.layers.\(l).feed_forward."
            guard moeLayers.contains(l) else {
                b.mlp(p, hidden: h.hidden, inter: denseI, .denseMLP, layer: l)
                return (0, 0)
            }
            b.linear(p + "router", out: E, in: h.hidden, .router, layer: l)
            b.add(p + "experts.gate_up_proj", [E, h.hidden, 2 * I], .routedExpert, layer: l)
            b.add(p + "experts.down_proj", [E, I, h.hidden], .routedExpert, layer: l)
            b.mlp(p + "shared_expert.", hidden: h.hidden, inter: I, .sharedExpert, layer: l)
            return (E, k)
        }
        // RoPE layers attend within chunks; every fourth layer (no RoPE) attends globally.
        if let chunk {
            for l in inv.layers.indices where (l + 1) % 4 != 0 {
                inv.layers[l].attention = .gqa(heads: h.heads, kvHeads: h.kvHeads, headDim: h.headDim, valueDim: h.headDim, window: chunk)
            }
        }
        return inv
    }

    /// MiniMax-M2: full-width q/k norms, a sigmoid router with a correction bias on the MoE block,
    /// Mixtral-named experts. Its MTP modules are declared but not published.
    static func minimax(_ r: ConfigReader) throws -> ModelInventory {
        let h = try GQAHyper(r)
        let (E, k) = try r.expertCounts()
        let I = try r.int("intermediate_size", min: 1)
        return gqaInventory(modelType: "minimax_m2", h, layout: GQALayout(qkNorm: .fullWidth)) { l, b in
            let p = "model.layers.\(l).block_sparse_moe."
            b.linear(p + "gate", out: E, in: h.hidden, .router, layer: l)
            b.tensors.append(TensorSpec(p + "e_score_correction_bias", [E], .router, layer: l, isBuffer: true))
            for e in 0..<E {
                b.mlp(p + "experts.\(e).", hidden: h.hidden, inter: I, .routedExpert, layer: l, expert: e, names: ("w1", "w3", "w2"))
            }
            return (E, k)
        }
    }
}
