import MoEFormats
import MoETensor

/// `mixtral`: every layer a sparse MoE block (`block_sparse_moe`, experts w1/w3/w2), softmax
/// top-k renormalised; optional sliding-window attention.
enum Mixtral {
    static func build(_ r: ConfigReader, _ tensors: TensorDirectory, _ pool: ThreadPool) throws -> TransformerModel {
        var c = try commonConfig(r, modelType: "mixtral")
        c.slidingWindow = try r.optionalInt("sliding_window").flatMap { $0 > 0 ? $0 : nil }
        let (experts, topK) = try r.expertCounts()
        let inter = try r.int("intermediate_size", min: 1)
        let router = Router(topK: topK, normalize: true)
        return try buildDecoder(r, c, tensors, layout: DecoderLayout(), pool: pool) { i, w in
            let p = "model.layers.\(i).block_sparse_moe."
            return .moe(MoEWeights(
                router: try w.matrix(p + "gate.weight", rows: experts, cols: c.hidden), routing: router,
                experts: try (0..<experts).map {
                    try bindMLP(w, p + "experts.\($0).", hidden: c.hidden, intermediate: inter, names: ("w1", "w3", "w2"))
                }))
        }
    }
}
