import MoEFormats
import MoETensor

/// A small random MoE checkpoint in the `qwen3_moe` layout that MoEKit makes by itself, so the
/// README's first command runs with nothing downloaded. Deterministic for a seed.
public enum DemoModel {
    public static let configJSON = """
    {
      "architectures": ["Qwen3MoeForCausalLM"],
      "model_type": "qwen3_moe",
      "vocab_size": 1024,
      "hidden_size": 256,
      "intermediate_size": 512,
      "moe_intermediate_size": 128,
      "num_hidden_layers": 4,
      "num_attention_heads": 8,
      "num_key_value_heads": 2,
      "head_dim": 32,
      "num_experts": 32,
      "num_experts_per_tok": 4,
      "norm_topk_prob": true,
      "decoder_sparse_step": 1,
      "mlp_only_layers": [0],
      "rms_norm_eps": 1e-06,
      "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
      "max_position_embeddings": 4096,
      "tie_word_embeddings": false,
      "hidden_act": "silu"
    }
    """

    /// The tensors of the demo checkpoint, stored as `dtype`.
    public static func tensors(seed: UInt64 = 42, dtype: DType = .bf16) throws -> [SafetensorsWriter.Tensor] {
        let r = ConfigReader(json: try JSONParser.parse(configJSON), file: "<demo config>")
        let H = try r.int("hidden_size"), V = try r.int("vocab_size"), L = try r.int("num_hidden_layers")
        let heads = try r.int("num_attention_heads"), kv = try r.int("num_key_value_heads"), hd = try r.int("head_dim")
        let E = try r.int("num_experts"), I = try r.int("intermediate_size"), EI = try r.int("moe_intermediate_size")
        var rng = SplitMix64(seed: seed)
        var out: [SafetensorsWriter.Tensor] = []
        func add(_ name: String, _ shape: [Int], std: Float, mean: Float = 0) {
            let n = shape.reduce(1, *)
            out.append(.init(name: name, shape: shape, values: (0..<n).map { _ in mean + std * rng.normal() }, as: dtype))
        }
        add("model.embed_tokens.weight", [V, H], std: 1)
        add("lm_head.weight", [V, H], std: 1 / Float(H).squareRoot())
        add("model.norm.weight", [H], std: 0.1, mean: 1)
        for l in 0..<L {
            let p = "model.layers.\(l)."
            add(p + "input_layernorm.weight", [H], std: 0.1, mean: 1)
            add(p + "post_attention_layernorm.weight", [H], std: 0.1, mean: 1)
            let s = 1 / Float(H).squareRoot()
            add(p + "self_attn.q_proj.weight", [heads * hd, H], std: s)
            add(p + "self_attn.k_proj.weight", [kv * hd, H], std: s)
            add(p + "self_attn.v_proj.weight", [kv * hd, H], std: s)
            add(p + "self_attn.o_proj.weight", [H, heads * hd], std: 1 / Float(heads * hd).squareRoot())
            add(p + "self_attn.q_norm.weight", [hd], std: 0.1, mean: 1)
            add(p + "self_attn.k_norm.weight", [hd], std: 0.1, mean: 1)
            if l == 0 {
                add(p + "mlp.gate_proj.weight", [I, H], std: s)
                add(p + "mlp.up_proj.weight", [I, H], std: s)
                add(p + "mlp.down_proj.weight", [H, I], std: 1 / Float(I).squareRoot())
            } else {
                add(p + "mlp.gate.weight", [E, H], std: 4 * s)
                for e in 0..<E {
                    add(p + "mlp.experts.\(e).gate_proj.weight", [EI, H], std: s)
                    add(p + "mlp.experts.\(e).up_proj.weight", [EI, H], std: s)
                    add(p + "mlp.experts.\(e).down_proj.weight", [H, EI], std: 1 / Float(EI).squareRoot())
                }
            }
        }
        return out
    }
}
