import MoEModels

/// Inventories of the Llama-named GQA families (the ones the engine runs today).
enum GQAFamilies {
    static func llamaLike(_ r: ConfigReader, type: String) throws -> ModelInventory {
        let h = try GQAHyper(r)
        var layout = GQALayout()
        switch type {
        case "qwen2":
            layout.qkvBias = true
        case "qwen3":
            layout.qkNorm = .perHead
            layout.qkvBias = try r.bool("attention_bias", default: false)
            layout.outputBias = layout.qkvBias
        default:   // llama, granite
            layout.qkvBias = try r.bool("attention_bias", default: false)
            layout.outputBias = layout.qkvBias
        }
        let mlpBias = try r.bool("mlp_bias", default: false)
        let inter = try r.int("intermediate_size", min: 1)
        return gqaInventory(modelType: type, h, layout: layout) { l, b in
            b.mlp("model.layers.\(l).mlp.", hidden: h.hidden, inter: inter, .denseMLP, layer: l, bias: mlpBias)
            return (0, 0)
        }
    }

    static func mixtral(_ r: ConfigReader) throws -> ModelInventory {
        var h = try GQAHyper(r)
        h.window = try r.optionalInt("sliding_window").flatMap { $0 > 0 ? $0 : nil }
        let (e, k) = try r.expertCounts()
        let inter = try r.int("intermediate_size", min: 1)
        return gqaInventory(modelType: "mixtral", h, layout: GQALayout()) { l, b in
            let p = "model.layers.\(l).block_sparse_moe."
            b.linear(p + "gate", out: e, in: h.hidden, .router, layer: l)
            for x in 0..<e {
                b.mlp(p + "experts.\(x).", hidden: h.hidden, inter: inter, .routedExpert, layer: l, expert: x, names: ("w1", "w3", "w2"))
            }
            return (e, k)
        }
    }

    static func qwenMoE(_ r: ConfigReader, type: String) throws -> ModelInventory {
        let h = try GQAHyper(r)
        var layout = GQALayout()
        let qwen3 = type == "qwen3_moe"
        if qwen3 {
            layout.qkNorm = .perHead
            layout.qkvBias = try r.bool("attention_bias", default: false)
            layout.outputBias = layout.qkvBias
        } else {
            layout.qkvBias = try r.bool("qkv_bias", "attention_bias", default: true)
        }
        let (e, k) = try r.expertCounts()
        let inter = try r.int("intermediate_size", min: 1)
        let expertInter = try r.int("moe_intermediate_size", min: 1)
        let step = try r.int("decoder_sparse_step", default: 1, min: 1)
        let mlpOnly = Set(try r.intList("mlp_only_layers"))
        let shared = qwen3 ? 0 : try r.int("shared_expert_intermediate_size", default: 0)
        return gqaInventory(modelType: type, h, layout: layout) { l, b in
            let p = "model.layers.\(l).mlp."
            guard !mlpOnly.contains(l), (l + 1) % step == 0 else {
                b.mlp(p, hidden: h.hidden, inter: inter, .denseMLP, layer: l)
                return (0, 0)
            }
            b.linear(p + "gate", out: e, in: h.hidden, .router, layer: l)
            for x in 0..<e {
                b.mlp(p + "experts.\(x).", hidden: h.hidden, inter: expertInter, .routedExpert, layer: l, expert: x)
            }
            if shared > 0 {
                b.mlp(p + "shared_expert.", hidden: h.hidden, inter: shared, .sharedExpert, layer: l)
                b.linear(p + "shared_expert_gate", out: 1, in: h.hidden, .sharedExpert, layer: l)
            }
            return (e, k)
        }
    }

    static func olmoe(_ r: ConfigReader) throws -> ModelInventory {
        let h = try GQAHyper(r)
        let bias = try r.bool("attention_bias", default: false)
        let layout = GQALayout(qkvBias: bias, outputBias: bias, qkNorm: .fullWidth)
        let (e, k) = try r.expertCounts()
        let inter = try r.int("intermediate_size", min: 1)
        return gqaInventory(modelType: "olmoe", h, layout: layout) { l, b in
            let p = "model.layers.\(l).mlp."
            b.linear(p + "gate", out: e, in: h.hidden, .router, layer: l)
            for x in 0..<e {
                b.mlp(p + "experts.\(x).", hidden: h.hidden, inter: inter, .routedExpert, layer: l, expert: x)
            }
            return (e, k)
        }
    }

    static func granitemoe(_ r: ConfigReader) throws -> ModelInventory {
        let h = try GQAHyper(r)
        let bias = try r.bool("attention_bias", default: false)
        let (e, k) = try r.expertCounts()
        let inter = try r.int("intermediate_size", min: 1)
        return gqaInventory(modelType: "granitemoe", h, layout: GQALayout(qkvBias: bias, outputBias: bias)) { l, b in
            let p = "model.layers.\(l).block_sparse_moe."
            b.linear(p + "router.layer", out: e, in: h.hidden, .router, layer: l)
            b.add(p + "input_linear.weight", [e, 2 * inter, h.hidden], .routedExpert, layer: l)
            b.add(p + "output_linear.weight", [e, h.hidden, inter], .routedExpert, layer: l)
            return (e, k)
        }
    }
}
