import MoEFormats
import MoETensor

/// The parts of a config that every supported family reads the same way.
func commonConfig(_ r: ConfigReader, modelType: String) throws -> TransformerConfig {
    let act = try r.string("hidden_act", "hidden_activation", default: "silu")
    guard act == "silu" || act == "swish" else {
        throw ModelError.config(file: r.file, key: "hidden_act", message: "activation '\(act)' is not supported (silu is)")
    }
    let hidden = try r.int("hidden_size", "d_model", min: 1)
    let heads = try r.int("num_attention_heads", min: 1)
    let kvHeads = try r.int("num_key_value_heads", "num_kv_heads", default: heads, min: 1)
    guard heads % kvHeads == 0 else {
        throw ModelError.config(file: r.file, key: "num_key_value_heads", message: "\(kvHeads) does not divide num_attention_heads \(heads)")
    }
    let headDim = try r.int("head_dim", default: hidden / heads, min: 1)
    let rope = try r.rope()
    var rotary = Int((Double(headDim) * rope.partialRotaryFactor).rounded(.down))
    rotary -= rotary % 2
    guard rotary >= 2 else { throw ModelError.config(file: r.file, key: "head_dim", message: "rotary width \(rotary) is too small") }
    let vocab = try r.int("vocab_size", min: 1)
    var c = TransformerConfig(
        modelType: modelType, vocabSize: vocab, hidden: hidden, heads: heads, kvHeads: kvHeads, headDim: headDim,
        rotaryDims: rotary, inverseFrequencies: rope.inverseFrequencies(dims: rotary),
        attentionScale: 1 / Float(headDim).squareRoot(), qkNorm: .none, slidingWindow: nil,
        normEps: Float(try r.double("rms_norm_eps", "layer_norm_eps", default: 1e-6)),
        maxPositions: try r.int("max_position_embeddings", default: 4096, min: 1))
    c.ropeAttentionFactor = Float(rope.attentionFactor)
    c.ropeInterleaved = try r.bool("rope_interleave", default: false)
    c.ropeTheta = Float(rope.theta)
    c.ropeScaled = rope.scaling != .none
    // GGUF's per-frequency divisors (`rope_freqs.weight`), passed on by the GGUF loader.
    if let factors = r.json["rope_freq_factors"]?.arrayValue {
        guard factors.count == rotary / 2 else {
            throw ModelError.config(file: r.file, key: "rope_freqs.weight", message: "\(factors.count) factors for \(rotary / 2) frequencies")
        }
        for (i, f) in factors.enumerated() {
            guard let d = f.doubleValue, d > 0, d.isFinite else {
                throw ModelError.config(file: r.file, key: "rope_freqs.weight", message: "factors must be positive")
            }
            c.inverseFrequencies[i] /= Float(d)
        }
        c.ropeScaled = true
    }
    return c
}

/// Options for a decoder laid out with the Llama tensor names
/// (`model.layers.N.self_attn.q_proj`, `input_layernorm`, `post_attention_layernorm`, ...).
struct DecoderLayout {
    var qkvBias = false
    var outputBias = false
    var mlpBias = false
    var tieDefault = false
}

/// Builds a decoder whose norms follow the Llama names; `attention(layer)` binds each layer's
/// attention (GQA under the Llama names unless given) and `feedForward(layer)` its MLP or MoE block.
func buildDecoder(_ r: ConfigReader, _ c: TransformerConfig, _ tensors: TensorDirectory, layout: DecoderLayout,
                  pool: ThreadPool, attention: ((Int, WeightBinder) throws -> Attention)? = nil,
                  feedForward: (Int, WeightBinder) throws -> FeedForward) throws -> TransformerModel {
    let w = WeightBinder(tensors, fp8Block: try r.fp8BlockSize())
    let layerCount = try r.int("num_hidden_layers", "num_layers", min: 1)
    let H = c.hidden
    var layers: [DecoderLayer] = []
    for i in 0..<layerCount {
        let p = "model.layers.\(i)."
        layers.append(DecoderLayer(
            inputNorm: try w.vector(p + "input_layernorm.weight", count: H),
            postAttentionNorm: try w.vector(p + "post_attention_layernorm.weight", count: H),
            attention: try attention?(i, w) ?? .gqa(try bindGQA(w, c, layer: i, layout: layout)),
            feedForward: try feedForward(i, w)))
    }
    let embedding = try w.matrix("model.embed_tokens.weight", rows: c.vocabSize, cols: H, lookupOnly: true)
    let tied = try r.bool("tie_word_embeddings", default: layout.tieDefault)
    let head = tied ? embedding.packedForKernels() : try w.matrix("lm_head.weight", rows: c.vocabSize, cols: H)
    return TransformerModel(config: c, embedding: embedding, layers: layers,
                            finalNorm: try w.vector("model.norm.weight", count: H), lmHead: head, pool: pool)
}

/// Grouped-query attention under the Llama names (`self_attn.q_proj` ...), with the biases and
/// q/k norms the layout and config ask for.
func bindGQA(_ w: WeightBinder, _ c: TransformerConfig, layer i: Int, layout: DecoderLayout) throws -> AttentionWeights {
    let H = c.hidden, hd = c.headDim, qw = c.heads * hd, kvw = c.kvHeads * hd
    let a = "model.layers.\(i).self_attn."
    var attn = AttentionWeights(
        q: try w.matrix(a + "q_proj.weight", rows: qw, cols: H),
        k: try w.matrix(a + "k_proj.weight", rows: kvw, cols: H),
        v: try w.matrix(a + "v_proj.weight", rows: kvw, cols: H),
        o: try w.matrix(a + "o_proj.weight", rows: H, cols: qw))
    if layout.qkvBias {
        attn.qBias = try w.vector(a + "q_proj.bias", count: qw)
        attn.kBias = try w.vector(a + "k_proj.bias", count: kvw)
        attn.vBias = try w.vector(a + "v_proj.bias", count: kvw)
    }
    if layout.outputBias { attn.oBias = try w.vector(a + "o_proj.bias", count: H) }
    switch c.qkNorm {
    case .none: break
    case .perHead:
        attn.qNorm = try w.vector(a + "q_norm.weight", count: hd)
        attn.kNorm = try w.vector(a + "k_norm.weight", count: hd)
    case .fullWidth:
        attn.qNorm = try w.vector(a + "q_norm.weight", count: qw)
        attn.kNorm = try w.vector(a + "k_norm.weight", count: kvw)
    }
    return attn
}

/// A SwiGLU MLP named `<prefix>gate_proj`, `up_proj`, `down_proj` (or any other three names).
func bindMLP(_ w: WeightBinder, _ prefix: String, hidden: Int, intermediate: Int, bias: Bool = false,
             names: (String, String, String) = ("gate_proj", "up_proj", "down_proj")) throws -> MLPWeights {
    var m = MLPWeights(
        gate: try w.matrix(prefix + names.0 + ".weight", rows: intermediate, cols: hidden),
        up: try w.matrix(prefix + names.1 + ".weight", rows: intermediate, cols: hidden),
        down: try w.matrix(prefix + names.2 + ".weight", rows: hidden, cols: intermediate))
    if bias {
        m.gateBias = try w.vector(prefix + names.0 + ".bias", count: intermediate)
        m.upBias = try w.vector(prefix + names.1 + ".bias", count: intermediate)
        m.downBias = try w.vector(prefix + names.2 + ".bias", count: hidden)
    }
    return m
}
