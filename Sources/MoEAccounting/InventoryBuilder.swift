import MoEModels

/// Collects the tensors of a checkpoint, layer by layer, under their hub names.
struct InventoryBuilder {
    var tensors: [TensorSpec] = []

    mutating func add(_ name: String, _ shape: [Int], _ role: TensorRole, layer: Int? = nil, expert: Int? = nil) {
        tensors.append(TensorSpec(name, shape, role, layer: layer, expert: expert))
    }

    /// `name.weight [out, in]` and, with `bias`, `name.bias [out]`.
    mutating func linear(_ name: String, out: Int, in inDim: Int, _ role: TensorRole, layer: Int?,
                         bias: Bool = false, expert: Int? = nil) {
        add(name + ".weight", [out, inDim], role, layer: layer, expert: expert)
        if bias { add(name + ".bias", [out], role, layer: layer, expert: expert) }
    }

    /// A SwiGLU MLP under `prefix` with the three projection names given.
    mutating func mlp(_ prefix: String, hidden: Int, inter: Int, _ role: TensorRole, layer: Int, expert: Int? = nil,
                      bias: Bool = false, names: (String, String, String) = ("gate_proj", "up_proj", "down_proj")) {
        linear(prefix + names.0, out: inter, in: hidden, role, layer: layer, bias: bias, expert: expert)
        linear(prefix + names.1, out: inter, in: hidden, role, layer: layer, bias: bias, expert: expert)
        linear(prefix + names.2, out: hidden, in: inter, role, layer: layer, bias: bias, expert: expert)
    }

    mutating func norm(_ name: String, _ n: Int, layer: Int?) {
        add(name, [n], .norm, layer: layer)
    }
}

/// The hyperparameters of a GQA decoder, read from a config under its various spellings.
struct GQAHyper {
    var hidden, heads, kvHeads, headDim, vocab, layers: Int
    var window: Int?
    var tied: Bool

    init(_ r: ConfigReader, tieDefault: Bool = false) throws {
        hidden = try r.int("hidden_size", min: 1)
        heads = try r.int("num_attention_heads", min: 1)
        kvHeads = try r.int("num_key_value_heads", default: heads, min: 1)
        headDim = try r.int("head_dim", default: hidden / heads, min: 1)
        vocab = try r.int("vocab_size", min: 1)
        layers = try r.int("num_hidden_layers", min: 1)
        tied = try r.bool("tie_word_embeddings", default: tieDefault)
        window = nil
    }

    var attention: AttentionShape { .gqa(heads: heads, kvHeads: kvHeads, headDim: headDim, valueDim: headDim, window: window) }
}

/// The parts of a Llama-named GQA decoder: embeddings, attention, norms and head; `ffn` adds each
/// layer's MLP or MoE tensors and says how many routed experts it has and how many fire.
struct GQALayout {
    var qkvBias = false
    var outputBias = false
    /// Per-head q/k RMSNorm weights `[headDim]` (Qwen3) or full-width ones (OLMoE).
    enum QKNorm { case none, perHead, fullWidth }
    var qkNorm = QKNorm.none
}

func gqaInventory(modelType: String, _ h: GQAHyper, layout: GQALayout,
                  ffn: (Int, inout InventoryBuilder) throws -> (experts: Int, active: Int)) rethrows -> ModelInventory {
    var b = InventoryBuilder()
    b.add("model.embed_tokens.weight", [h.vocab, h.hidden], .embedding)
    var shapes: [LayerShape] = []
    let qw = h.heads * h.headDim, kvw = h.kvHeads * h.headDim
    for l in 0..<h.layers {
        let p = "model.layers.\(l)."
        b.norm(p + "input_layernorm.weight", h.hidden, layer: l)
        b.norm(p + "post_attention_layernorm.weight", h.hidden, layer: l)
        b.linear(p + "self_attn.q_proj", out: qw, in: h.hidden, .attention, layer: l, bias: layout.qkvBias)
        b.linear(p + "self_attn.k_proj", out: kvw, in: h.hidden, .attention, layer: l, bias: layout.qkvBias)
        b.linear(p + "self_attn.v_proj", out: kvw, in: h.hidden, .attention, layer: l, bias: layout.qkvBias)
        b.linear(p + "self_attn.o_proj", out: h.hidden, in: qw, .attention, layer: l, bias: layout.outputBias)
        switch layout.qkNorm {
        case .none: break
        case .perHead:
            b.norm(p + "self_attn.q_norm.weight", h.headDim, layer: l)
            b.norm(p + "self_attn.k_norm.weight", h.headDim, layer: l)
        case .fullWidth:
            b.norm(p + "self_attn.q_norm.weight", qw, layer: l)
            b.norm(p + "self_attn.k_norm.weight", kvw, layer: l)
        }
        let (e, k) = try ffn(l, &b)
        shapes.append(LayerShape(attention: h.attention, indexer: nil, routedExperts: e, activeExperts: k))
    }
    b.norm("model.norm.weight", h.hidden, layer: nil)
    if !h.tied { b.add("lm_head.weight", [h.vocab, h.hidden], .lmHead) }
    return ModelInventory(modelType: modelType, hidden: h.hidden, vocabSize: h.vocab, tensors: b.tensors, mtpTensors: [],
                          layers: shapes, tiedEmbeddings: h.tied, storedPrecision: nil)
}
