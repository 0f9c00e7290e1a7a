import MoEFormats
import MoETensor

/// Runs GGUF files through the same family builders as Hugging Face checkpoints: the metadata
/// (`<arch>.embedding_length`, ...) becomes a config in Hugging Face spelling and the GGUF tensor
/// names (`blk.N.attn_q.weight`, ...) are mapped to the Hugging Face ones.
public enum GGUFModel {
    /// `general.architecture` values that load, and the `model_type` each becomes.
    public static let architectures: [String: String] = [
        "llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
        "qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "olmoe": "olmoe",
    ]

    /// GGUF per-layer tensor suffix -> Hugging Face suffix.
    static let layerNames: [(String, String)] = [
        ("attn_norm.weight", "input_layernorm.weight"),
        ("ffn_norm.weight", "post_attention_layernorm.weight"),
        ("attn_q.weight", "self_attn.q_proj.weight"), ("attn_q.bias", "self_attn.q_proj.bias"),
        ("attn_k.weight", "self_attn.k_proj.weight"), ("attn_k.bias", "self_attn.k_proj.bias"),
        ("attn_v.weight", "self_attn.v_proj.weight"), ("attn_v.bias", "self_attn.v_proj.bias"),
        ("attn_output.weight", "self_attn.o_proj.weight"), ("attn_output.bias", "self_attn.o_proj.bias"),
        ("attn_q_norm.weight", "self_attn.q_norm.weight"), ("attn_k_norm.weight", "self_attn.k_norm.weight"),
        ("ffn_gate.weight", "mlp.gate_proj.weight"), ("ffn_up.weight", "mlp.up_proj.weight"),
        ("ffn_down.weight", "mlp.down_proj.weight"),
        ("ffn_gate.bias", "mlp.gate_proj.bias"), ("ffn_up.bias", "mlp.up_proj.bias"), ("ffn_down.bias", "mlp.down_proj.bias"),
        ("ffn_gate_inp.weight", "mlp.gate.weight"),
        ("ffn_gate_shexp.weight", "mlp.shared_expert.gate_proj.weight"),
        ("ffn_up_shexp.weight", "mlp.shared_expert.up_proj.weight"),
        ("ffn_down_shexp.weight", "mlp.shared_expert.down_proj.weight"),
        ("ffn_gate_inp_shexp.weight", "mlp.shared_expert_gate.weight"),
    ]
    /// Stacked expert tensors `[experts, rows, cols]` -> per-expert Hugging Face names.
    static let stackedNames: [(String, String)] = [
        ("ffn_gate_exps.weight", "gate_proj.weight"), ("ffn_up_exps.weight", "up_proj.weight"),
        ("ffn_down_exps.weight", "down_proj.weight"),
    ]
    static let globalNames: [String: String] = [
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    ]

    /// The Hugging Face name of a GGUF tensor, or nil if MoEKit has no use for it.
    static func hfName(_ name: String) -> String? {
        if let g = globalNames[name] { return g }
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let hf = layerNames.first(where: { $0.0 == suffix })?.1 else { return nil }
        return "model.layers.\(layer).\(hf)"
    }

    /// `(layer, per-expert suffix)` of a stacked expert tensor name.
    static func stackedExpert(_ name: String) -> (Int, String)? {
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let hf = stackedNames.first(where: { $0.0 == suffix })?.1 else { return nil }
        return (layer, hf)
    }

    /// The Hugging Face-style config that the metadata describes.
    public static func config(_ g: GGUFFile) throws -> ConfigReader {
        func fail(_ key: String, _ msg: String) -> ModelError { .config(file: g.path, key: key, message: msg) }
        guard let arch = g["general.architecture"]?.stringValue else { throw fail("general.architecture", "missing") }
        guard let type = architectures[arch] else {
            throw fail("general.architecture", "'\(arch)' is not supported yet (\(architectures.keys.sorted().joined(separator: ", ")) are)")
        }
        func int(_ k: String, required: Bool = true) throws -> Int? {
            guard let v = g["\(arch).\(k)"] else {
                if required { throw fail("\(arch).\(k)", "missing") }
                return nil
            }
            guard let i = v.intValue, i > 0 else { throw fail("\(arch).\(k)", "expected a positive integer") }
            return i
        }
        func double(_ k: String) throws -> Double? {
            guard let v = g["\(arch).\(k)"] else { return nil }
            guard let d = v.doubleValue, d.isFinite else { throw fail("\(arch).\(k)", "expected a number") }
            return d
        }
        let hidden = try int("embedding_length")!
        let heads = try int("attention.head_count")!
        // Llama 3.1-style scaling is stored as per-frequency divisors (`rope_freqs.weight`).
        var ropeFactors: [Float]?
        if let t = g.tensors.first(where: { $0.name == "rope_freqs.weight" }) {
            guard t.type == 0, t.dims.count == 1 else { throw fail("rope_freqs.weight", "expected an F32 vector") }
            let raw = g.file.bytes(at: t.offset, count: t.byteCount)
            ropeFactors = (0..<t.dims[0]).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        let vocab = try int("vocab_size", required: false)
            ?? g["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? g.tensors.first(where: { $0.name == "token_embd.weight" }).map { $0.shape[0] }
        guard let vocab else { throw fail("\(arch).vocab_size", "missing, and no token list or token_embd.weight") }
        var members: [(String, JSONValue)] = [
            ("model_type", .string(type)),
            ("hidden_size", .int(hidden)),
            ("num_hidden_layers", .int(try int("block_count")!)),
            ("intermediate_size", .int(try int("feed_forward_length")!)),
            ("num_attention_heads", .int(heads)),
            ("num_key_value_heads", .int(try int("attention.head_count_kv", required: false) ?? heads)),
            ("head_dim", .int(try int("attention.key_length", required: false) ?? hidden / heads)),
            ("vocab_size", .int(vocab)),
            ("max_position_embeddings", .int(try int("context_length", required: false) ?? 4096)),
            ("rms_norm_eps", .double(try double("attention.layer_norm_rms_epsilon") ?? 1e-6)),
            ("rope_theta", .double(try double("rope.freq_base") ?? 10000)),
            ("tie_word_embeddings", .bool(!g.tensors.contains { $0.name == "output.weight" })),
            // llama.cpp's converter permutes Llama's q/k rows so RoPE rotates adjacent pairs.
            ("rope_interleave", .bool(arch == "llama")),
            ("hidden_act", .string("silu")),
        ]
        if let ropeFactors {
            members.append(("rope_freq_factors", .array(ropeFactors.map { .double(Double($0)) })))
        }
        if arch == "llama" {
            let hasBias = g.tensors.contains { $0.name.hasSuffix("attn_q.bias") }
            members.append(("attention_bias", .bool(hasBias)))
            members.append(("mlp_bias", .bool(g.tensors.contains { $0.name.hasSuffix("ffn_gate.bias") })))
        }
        if type.hasSuffix("moe") {
            let experts = try int("expert_count")!
            members.append(("num_experts", .int(experts)))
            members.append(("num_experts_per_tok", .int(try int("expert_used_count")!)))
            if let w = try int("expert_feed_forward_length", required: false) {
                members.append(("moe_intermediate_size", .int(w)))
                if arch == "olmoe" { members.removeAll { $0.0 == "intermediate_size" }; members.append(("intermediate_size", .int(w))) }
            }
            if let w = try int("expert_shared_feed_forward_length", required: false) {
                members.append(("shared_expert_intermediate_size", .int(w)))
            }
            // llama.cpp renormalises the chosen weights for Qwen3-MoE, not for Qwen2-MoE or OLMoE.
            members.append(("norm_topk_prob", .bool(arch == "qwen3moe")))
            // Layers without a router are dense MLPs.
            let layers = try int("block_count")!
            let dense = (0..<layers).filter { l in !g.tensors.contains { $0.name == "blk.\(l).ffn_gate_inp.weight" } }
            members.append(("mlp_only_layers", .array(dense.map { .int($0) })))
            if arch == "qwen2moe" { members.append(("qkv_bias", .bool(g.tensors.contains { $0.name.hasSuffix("attn_q.bias") }))) }
        }
        if let scaling = g["\(arch).rope.scaling.type"]?.stringValue, scaling != "none" {
            guard scaling == "linear", let f = try double("rope.scaling.factor") else {
                throw fail("\(arch).rope.scaling.type", "'\(scaling)' is not supported yet (linear is)")
            }
            members.append(("rope_scaling", .object([("rope_type", .string("linear")), ("factor", .double(f))])))
        }
        return ConfigReader(json: .object(members), file: g.path)
    }

    /// Loads a `.gguf` file: tensors stay in the mapped file.
    public static func load(path: String, pool: ThreadPool, activations: ActivationFormat = .q8) throws -> TransformerModel {
        try load(gguf: GGUFFile(path: path), pool: pool, activations: activations)
    }

    /// Builds the model of an already parsed GGUF file.
    /// `activations` chooses how quantised weights are multiplied (`.q8`: like llama.cpp, fast;
    /// `.f32`: exact against a reference that dequantises the weights).
    public static func load(gguf g: GGUFFile, pool: ThreadPool, activations: ActivationFormat = .q8) throws -> TransformerModel {
        let path = g.path
        let config = try config(g)
        var entries: [TensorEntry] = []
        for e in g.entries() {
            if let hf = hfName(e.name) {
                // GGUF keeps the shared-expert gate as a vector; Hugging Face as a [1, hidden] matrix.
                let shape = e.name.hasSuffix("ffn_gate_inp_shexp.weight") && e.shape.count == 1 ? [1] + e.shape : e.shape
                entries.append(TensorEntry(name: hf, dtype: e.dtype, shape: shape, file: e.file, offset: e.offset, byteCount: e.byteCount))
            } else if let (layer, suffix) = stackedExpert(e.name), e.shape.count == 3 {
                // Each expert is a view into the stacked tensor: no copy.
                let (n, rows, cols) = (e.shape[0], e.shape[1], e.shape[2])
                guard let per = e.dtype.bytes(elements: rows * cols), per * n == e.byteCount else { continue }
                for x in 0..<n {
                    entries.append(TensorEntry(name: "model.layers.\(layer).mlp.experts.\(x).\(suffix)", dtype: e.dtype, shape: [rows, cols],
                                               file: e.file, offset: e.offset + x * per, byteCount: per))
                }
            }
        }
        // A tensor of a type without kernels fails with its GGUF name and type when it is bound.
        let unsupported = g.unsupportedTensors
        let dir = TensorDirectory(directory: path, entries: entries)
        dir.activations = activations
        do {
            let model = try ModelRegistry.build(config: config, tensors: dir, pool: pool)
            model.unusedTensors = g.tensors.map(\.name).filter { hfName($0) == nil && stackedExpert($0) == nil && $0 != "rope_freqs.weight" }
            return model
        } catch ModelError.missingTensor(let name) where !unsupported.isEmpty {
            let gguf = g.tensors.first { hfName($0.name).map { name.hasPrefix($0) } ?? false }
            if let gguf, let t = unsupported[gguf.name] {
                throw ModelError.badTensor(gguf.name, "has GGML type \(t), which MoEKit cannot compute with yet")
            }
            throw ModelError.missingTensor(name)
        }
    }
}
