import MoEFormats
import MoETensor

/// `llama` (Llama 2/3, SmolLM2): RoPE with optional llama3/linear scaling, optional attention and
/// MLP biases, optional tied embeddings.
enum Llama {
    static func build(_ r: ConfigReader, _ tensors: TensorDirectory, _ pool: ThreadPool) throws -> TransformerModel {
        let c = try commonConfig(r, modelType: "llama")
        let bias = try r.bool("attention_bias", default: false)
        let mlpBias = try r.bool("mlp_bias", default: false)
        let inter = try r.int("intermediate_size", min: 1)
        let layout = DecoderLayout(qkvBias: bias, outputBias: bias, mlpBias: mlpBias)
        return try buildDecoder(r, c, tensors, layout: layout, pool: pool) { i, w in
            .dense(try bindMLP(w, "model.layers.\(i).mlp.", hidden: c.hidden, intermediate: inter, bias: mlpBias))
        }
    }
}
