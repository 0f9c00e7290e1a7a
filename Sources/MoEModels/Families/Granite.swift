import MoEFormats
import MoETensor

/// `granite` and `granitemoe`: Llama-shaped, with four multipliers (embeddings, attention scale,
/// residual branches, logits). GraniteMoE stores experts stacked: `input_linear [E, 2*inter, hidden]`
/// (gate rows first, then up) and `output_linear [E, hidden, inter]`; GGUF files hold the two halves
/// of `input_linear` as separate stacks, bound here as `gate_linear` and `up_linear`.
enum Granite {
    static func build(_ r: ConfigReader, _ tensors: TensorDirectory, _ pool: ThreadPool, moe: Bool) throws -> TransformerModel {
        var c = try commonConfig(r, modelType: moe ? "granitemoe" : "granite")
        c.embeddingMultiplier = Float(try r.double("embedding_multiplier", default: 1))
        c.residualMultiplier = Float(try r.double("residual_multiplier", default: 1))
        c.attentionScale = Float(try r.double("attention_multiplier", default: 1 / Double(c.headDim).squareRoot()))
        let logitsScaling = try r.double("logits_scaling", default: 1)
        guard logitsScaling != 0 else { throw ModelError.config(file: r.file, key: "logits_scaling", message: "must not be 0") }
        c.logitMultiplier = Float(1 / logitsScaling)
        let bias = try r.bool("attention_bias", default: false)
        let mlpBias = try r.bool("mlp_bias", default: false)
        let inter = try r.int("intermediate_size", min: 1)
        let layout = DecoderLayout(qkvBias: bias, outputBias: bias)
        guard moe else {
            return try buildDecoder(r, c, tensors, layout: layout, pool: pool) { i, w in
                .dense(try bindMLP(w, "model.layers.\(i).mlp.", hidden: c.hidden, intermediate: inter, bias: mlpBias))
            }
        }
        let (experts, topK) = try r.expertCounts()
        // softmax over the top-k logits equals softmax-then-top-k renormalised.
        let router = Router(topK: topK, normalize: true)
        return try buildDecoder(r, c, tensors, layout: layout, pool: pool) { i, w in
            let p = "model.layers.\(i).block_sparse_moe."
            let gate: [WeightMatrix], up: [WeightMatrix]
            if w.has(p + "input_linear.weight") || !w.has(p + "gate_linear.weight") {
                let input = try w.stacked(p + "input_linear.weight", count: experts, rows: 2 * inter, cols: c.hidden)
                gate = input.map { $0.rows(0, count: inter) }
                up = input.map { $0.rows(inter, count: inter) }
            } else {
                // GGUF splits input_linear into its halves (ffn_gate_exps, ffn_up_exps), each stacked.
                gate = try w.stacked(p + "gate_linear.weight", count: experts, rows: inter, cols: c.hidden)
                up = try w.stacked(p + "up_linear.weight", count: experts, rows: inter, cols: c.hidden)
            }
            let output = try w.stacked(p + "output_linear.weight", count: experts, rows: c.hidden, cols: inter)
            return .moe(MoEWeights(
                router: try w.matrix(p + "router.layer.weight", rows: experts, cols: c.hidden), routing: router,
                experts: (0..<experts).map { MLPWeights(gate: gate[$0], up: up[$0], down: output[$0]) }))
        }
    }
}
