import MoEFormats
import MoETensor

/// The Qwen family: `qwen2` (q/k/v bias), `qwen3` (per-head q/k RMSNorm), and their MoE forms
/// `qwen2_moe` (shared expert behind a sigmoid gate) and `qwen3_moe`.
enum Qwen {
    static func build(_ r: ConfigReader, _ tensors: TensorDirectory, _ pool: ThreadPool, type: String) throws -> TransformerModel {
        var c = try commonConfig(r, modelType: type)
        if try r.bool("use_sliding_window", default: false) {
            throw ModelError.config(file: r.file, key: "use_sliding_window", message: "sliding-window Qwen layers are not supported yet")
        }
        let isQwen3 = type.hasPrefix("qwen3")
        let moe = type.hasSuffix("_moe")
        var layout = DecoderLayout()
        if isQwen3 {
            c.qkNorm = .perHead
            let bias = try r.bool("attention_bias", default: false)
            layout.qkvBias = bias
            layout.outputBias = bias
        } else {
            layout.qkvBias = try r.bool("qkv_bias", "attention_bias", default: true)
        }
        let inter = try r.int("intermediate_size", min: 1)
        guard moe else {
            return try buildDecoder(r, c, tensors, layout: layout, pool: pool) { i, w in
                .dense(try bindMLP(w, "model.layers.\(i).mlp.", hidden: c.hidden, intermediate: inter))
            }
        }
        let (experts, topK) = try r.expertCounts()
        let expertInter = try r.int("moe_intermediate_size", min: 1)
        let isDense = try r.qwenMoEDenseLayer()
        let normalize = try r.bool("norm_topk_prob", default: false)
        let sharedInter = isQwen3 ? 0 : try r.int("shared_expert_intermediate_size", default: 0)
        let router = Router(topK: topK, normalize: normalize)
        return try buildDecoder(r, c, tensors, layout: layout, pool: pool) { i, w in
            let p = "model.layers.\(i).mlp."
            guard !isDense(i) else {
                return .dense(try bindMLP(w, p, hidden: c.hidden, intermediate: inter))
            }
            var block = MoEWeights(
                router: try w.matrix(p + "gate.weight", rows: experts, cols: c.hidden), routing: router,
                experts: try (0..<experts).map { try bindMLP(w, p + "experts.\($0).", hidden: c.hidden, intermediate: expertInter) })
            if sharedInter > 0 {
                block.shared = try bindMLP(w, p + "shared_expert.", hidden: c.hidden, intermediate: sharedInter)
                block.sharedGate = try w.matrix(p + "shared_expert_gate.weight", rows: 1, cols: c.hidden)
            }
            return .moe(block)
        }
    }
}

extension ConfigReader {
    /// Which layers of a Qwen MoE model are dense (as transformers decides): those listed in
    /// `mlp_only_layers`, and those off the `decoder_sparse_step` (layer i is sparse when (i+1) % step == 0).
    /// Shared by the loader and the GGUF export.
    func qwenMoEDenseLayer() throws -> @Sendable (Int) -> Bool {
        let step = try int("decoder_sparse_step", default: 1, min: 1)
        let mlpOnly = Set(try intList("mlp_only_layers"))
        return { mlpOnly.contains($0) || ($0 + 1) % step != 0 }
    }
}
