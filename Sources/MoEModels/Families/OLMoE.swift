import MoEFormats
import MoETensor

/// `olmoe`: q/k RMSNorm over the full projection width, optional q/k/v clipping, every layer MoE.
enum OLMoE {
    static func build(_ r: ConfigReader, _ tensors: TensorDirectory, _ pool: ThreadPool) throws -> TransformerModel {
        var c = try commonConfig(r, modelType: "olmoe")
        c.qkNorm = .fullWidth
        c.clipQKV = try r.optionalDouble("clip_qkv").map { Float($0) }
        let bias = try r.bool("attention_bias", default: false)
        let (experts, topK) = try r.expertCounts()
        let inter = try r.int("intermediate_size", min: 1)
        let router = Router(topK: topK, normalize: try r.bool("norm_topk_prob", default: false))
        let layout = DecoderLayout(qkvBias: bias, outputBias: bias)
        return try buildDecoder(r, c, tensors, layout: layout, pool: pool) { i, w in
            let p = "model.layers.\(i).mlp."
            return .moe(MoEWeights(
                router: try w.matrix(p + "gate.weight", rows: experts, cols: c.hidden), routing: router,
                experts: try (0..<experts).map { try bindMLP(w, p + "experts.\($0).", hidden: c.hidden, intermediate: inter) }))
        }
    }
}
