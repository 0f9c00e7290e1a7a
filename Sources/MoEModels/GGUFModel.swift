import MoEFormats
import MoETensor

/// Runs GGUF files through the same family builders as Hugging Face checkpoints: the metadata
/// (`<arch>.embedding_length`, ...) becomes a config in Hugging Face spelling and the GGUF tensor
/// names (`blk.N.attn_q.weight`, ...) are mapped to the Hugging Face ones. Tensors stay in the
/// mapped file. Errors name the GGUF key or tensor. `scripts/oracle/GGUF_ARCHS.md` documents the
/// layouts of deepseek2, deepseek32, glm-dsa, glm4moe, granite and granitemoe.
public enum GGUFModel {
    /// `general.architecture` values that load, and the `model_type` each becomes.
    public static let architectures: [String: String] = [
        "llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
        "qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "olmoe": "olmoe",
        "deepseek2": "deepseek_v3", "deepseek32": "deepseek_v32", "glm-dsa": "glm_moe_dsa",
        "glm4moe": "glm4_moe", "granite": "granite", "granitemoe": "granitemoe",
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
    /// The DeepSeek MoE block's names (deepseek2, glm4moe).
    static let deepSeekMoENames: [(String, String)] = [
        ("exp_probs_b.bias", "mlp.gate.e_score_correction_bias"),
        ("ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"),
        ("ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"),
        ("ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"),
    ]
    /// MLA and the DeepSeek MoE block (deepseek2, deepseek32, glm-dsa).
    static let mlaNames: [(String, String)] = deepSeekMoENames + [
        ("attn_q_a.weight", "self_attn.q_a_proj.weight"), ("attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"),
        ("attn_q_b.weight", "self_attn.q_b_proj.weight"),
        ("attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"),
        ("attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"),
        ("attn_kv_b.weight", "self_attn.kv_b_proj.weight"),      // older files: kv_b_proj itself
        // kv_b_proj split per head, `[heads, rank, nope]` (key rows transposed) and `[heads, v, rank]`.
        ("attn_k_b.weight", "self_attn.k_b_proj.weight"), ("attn_v_b.weight", "self_attn.v_b_proj.weight"),
    ]
    /// The DSA lightning indexer (deepseek32, glm-dsa; GGUF_ARCHS.md §6.5), all as they are.
    static let indexerNames: [(String, String)] = [
        ("indexer.attn_q_b.weight", "self_attn.indexer.wq_b.weight"), ("indexer.attn_k.weight", "self_attn.indexer.wk.weight"),
        ("indexer.k_norm.weight", "self_attn.indexer.k_norm.weight"), ("indexer.k_norm.bias", "self_attn.indexer.k_norm.bias"),
        ("indexer.proj.weight", "self_attn.indexer.weights_proj.weight"),
    ]
    /// Per-architecture suffixes, looked up before `layerNames`.
    static let archLayerNames: [String: [(String, String)]] = [
        "deepseek2": mlaNames, "deepseek32": mlaNames + indexerNames, "glm-dsa": mlaNames + indexerNames,
        "glm4moe": deepSeekMoENames + [("post_attention_norm.weight", "post_attention_layernorm.weight")],
        // GraniteMoE keeps its experts stacked: the three stacks are bound whole, not split per expert.
        "granitemoe": [
            ("ffn_gate_inp.weight", "block_sparse_moe.router.layer.weight"),
            ("ffn_gate_exps.weight", "block_sparse_moe.gate_linear.weight"),
            ("ffn_up_exps.weight", "block_sparse_moe.up_linear.weight"),
            ("ffn_down_exps.weight", "block_sparse_moe.output_linear.weight"),
            // Only read backwards, for errors: the builder asks for input_linear when gate_linear is missing.
            ("ffn_gate_exps.weight", "block_sparse_moe.input_linear.weight"),
        ],
    ]
    /// Stacked expert tensors `[experts, rows, cols]` -> per-expert Hugging Face names; each expert's
    /// rows are split evenly among the names (`--fuse-gate-up-exps`: gate rows, then up rows).
    static let stackedNames: [(String, [String])] = [
        ("ffn_gate_exps.weight", ["gate_proj.weight"]), ("ffn_up_exps.weight", ["up_proj.weight"]),
        ("ffn_down_exps.weight", ["down_proj.weight"]), ("ffn_gate_up_exps.weight", ["gate_proj.weight", "up_proj.weight"]),
    ]
    static let globalNames: [String: String] = [
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    ]

    /// `(layer, suffix)` of `blk.N.suffix`.
    static func blockName(_ name: String) -> (Int, String)? {
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        return (layer, String(rest[rest.index(after: dot)...]))
    }

    static func layerSuffix(_ suffix: String, arch: String) -> String? {
        (archLayerNames[arch] ?? []).first(where: { $0.0 == suffix })?.1 ?? layerNames.first(where: { $0.0 == suffix })?.1
    }

    /// The Hugging Face name of a GGUF tensor, or nil if MoEKit has no use for it.
    static func hfName(_ name: String, arch: String) -> String? {
        if let g = globalNames[name] { return g }
        guard let (layer, suffix) = blockName(name), let hf = layerSuffix(suffix, arch: arch) else { return nil }
        return "model.layers.\(layer).\(hf)"
    }

    /// `(layer, per-expert suffixes)` of a stacked expert tensor name that is split into experts.
    static func stackedExpert(_ name: String, arch: String) -> (Int, [String])? {
        guard hfName(name, arch: arch) == nil, let (layer, suffix) = blockName(name),
              let hf = stackedNames.first(where: { $0.0 == suffix })?.1 else { return nil }
        return (layer, hf)
    }

    /// The GGUF tensor a Hugging Face name stands for (`blk.1.ffn_up_exps.weight` for expert views,
    /// or `ffn_gate_up_exps` if `g` has that), and the expert, for error messages.
    static func ggufName(_ hf: String, arch: String, in g: GGUFFile) -> (name: String, expert: Int?)? {
        if let g = globalNames.first(where: { $0.value == hf }) { return (g.key, nil) }
        guard hf.hasPrefix("model.layers.") else { return nil }
        let rest = hf.dropFirst("model.layers.".count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        let pairs = (archLayerNames[arch] ?? []) + layerNames
        if let g = pairs.first(where: { $0.1 == suffix }) { return ("blk.\(layer).\(g.0)", nil) }
        let parts = suffix.split(separator: ".", maxSplits: 3).map(String.init)
        if parts.count == 4, parts[0] == "mlp", parts[1] == "experts", let x = Int(parts[2]) {
            let names = stackedNames.filter { $0.1.contains(parts[3]) }.map { "blk.\(layer).\($0.0)" }
            if let name = names.first(where: { n in g.tensors.contains { $0.name == n } }) ?? names.first { return (name, x) }
        }
        return nil
    }

    /// The Hugging Face-style config that the metadata describes.
    public static func config(_ g: GGUFFile) throws -> ConfigReader {
        try describe(g).config
    }

    /// Typed reads of `<arch>.<key>`; each failure names the key.
    struct Metadata {
        let g: GGUFFile
        let arch: String
        /// Every tensor name, for `hasTensor` (asked once per layer).
        let tensorNames: Set<String>

        init(g: GGUFFile, arch: String) {
            self.g = g
            self.arch = arch
            tensorNames = Set(g.tensors.map(\.name))
        }

        func fail(_ k: String, _ msg: String) -> ModelError { .config(file: g.path, key: "\(arch).\(k)", message: msg) }
        func value(_ k: String) -> GGUFValue? { g["\(arch).\(k)"] }
        func has(_ k: String) -> Bool { value(k) != nil }

        /// An integer of at least `min`; nil when absent and not required.
        func int(_ k: String, required: Bool = true, min: Int = 1) throws -> Int? {
            guard let v = value(k) else {
                if required { throw fail(k, "missing") }
                return nil
            }
            guard let i = v.intValue, i >= min else {
                throw fail(k, min == 1 ? "expected a positive integer, found \(v)" : "expected an integer of at least \(min), found \(v)")
            }
            return i
        }
        func double(_ k: String) throws -> Double? {
            guard let v = value(k) else { return nil }
            guard let d = v.doubleValue, d.isFinite else { throw fail(k, "expected a finite number, found \(v)") }
            return d
        }
        func bool(_ k: String) throws -> Bool? {
            guard let v = value(k) else { return nil }
            guard let b = v.boolValue else { throw fail(k, "expected true or false, found \(v)") }
            return b
        }
        func string(_ k: String) throws -> String? {
            guard let v = value(k) else { return nil }
            guard let s = v.stringValue else { throw fail(k, "expected a string, found \(v)") }
            return s
        }
        func hasTensor(_ name: String) -> Bool { tensorNames.contains(name) }
    }

    /// The config, and for each of its keys the GGUF key it was read from (so errors raised by the
    /// family builders can name the GGUF key).
    static func describe(_ g: GGUFFile) throws -> (config: ConfigReader, sources: [String: String], arch: String) {
        guard let archValue = g["general.architecture"] else {
            throw ModelError.config(file: g.path, key: "general.architecture", message: "missing")
        }
        guard let arch = archValue.stringValue else {
            throw ModelError.config(file: g.path, key: "general.architecture", message: "expected a string, found \(archValue)")
        }
        guard let type = architectures[arch] else {
            throw ModelError.config(file: g.path, key: "general.architecture",
                                    message: "'\(arch)' is not supported yet (\(architectures.keys.sorted().joined(separator: ", ")) are)")
        }
        let m = Metadata(g: g, arch: arch)
        var members: [(String, JSONValue)] = []
        var sources: [String: String] = [:]
        func set(_ key: String, _ value: JSONValue, from source: String? = nil) {
            members.removeAll { $0.0 == key }
            members.append((key, value))
            if let source { sources[key] = source.hasPrefix("general.") || source.hasPrefix("tokenizer.") ? source : "\(arch).\(source)" }
        }

        let hidden = try m.int("embedding_length")!
        let heads = try m.int("attention.head_count")!
        let blocks = try m.int("block_count")!
        // Every block has tensors of its own, so a file holds more tensors than blocks; a larger
        // count is hostile or corrupt, and per-layer work (and config arrays) would scale with it.
        guard blocks <= g.tensors.count else {
            throw m.fail("block_count", "is \(blocks), but the file holds only \(g.tensors.count) tensors")
        }
        // NextN / multi-token-prediction blocks follow the decoder blocks and count in block_count.
        let nextn = try m.int("nextn_predict_layers", required: false, min: 0) ?? 0
        guard nextn < blocks else { throw m.fail("nextn_predict_layers", "is \(nextn), which leaves none of the \(blocks) blocks as decoder layers") }
        let layers = blocks - nextn
        // Llama 3.1-style scaling is stored as per-frequency divisors (`rope_freqs.weight`).
        var ropeFactors: [Float]?
        if let t = g.tensors.first(where: { $0.name == "rope_freqs.weight" }) {
            guard t.type == 0, t.dims.count == 1 else { throw ModelError.badTensor("rope_freqs.weight", "expected an F32 vector") }
            let raw = g.file.bytes(at: t.offset, count: t.byteCount)
            ropeFactors = (0..<t.dims[0]).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        var vocabSource = "vocab_size"
        var vocab = try m.int("vocab_size", required: false)
        if vocab == nil, let n = g["tokenizer.ggml.tokens"]?.arrayValue?.count { vocab = n; vocabSource = "tokenizer.ggml.tokens" }
        if vocab == nil, let t = g.tensors.first(where: { $0.name == "token_embd.weight" }), t.dims.count == 2 { vocab = t.dims[1] }
        guard let vocab else { throw m.fail("vocab_size", "missing, and no token list or token_embd.weight") }

        set("model_type", .string(type), from: "general.architecture")
        set("hidden_size", .int(hidden), from: "embedding_length")
        set("num_hidden_layers", .int(layers), from: "block_count")
        set("intermediate_size", .int(try m.int("feed_forward_length")!), from: "feed_forward_length")
        set("num_attention_heads", .int(heads), from: "attention.head_count")
        set("num_key_value_heads", .int(try m.int("attention.head_count_kv", required: false) ?? heads), from: "attention.head_count_kv")
        set("head_dim", .int(try m.int("attention.key_length", required: false) ?? hidden / heads), from: "attention.key_length")
        set("vocab_size", .int(vocab), from: vocabSource)
        set("max_position_embeddings", .int(try m.int("context_length", required: false) ?? 4096), from: "context_length")
        set("rms_norm_eps", .double(try m.double("attention.layer_norm_rms_epsilon") ?? 1e-6), from: "attention.layer_norm_rms_epsilon")
        set("rope_theta", .double(try m.double("rope.freq_base") ?? 10000), from: "rope.freq_base")
        set("tie_word_embeddings", .bool(!m.hasTensor("output.weight")))
        // llama.cpp's converter permutes Llama's and Granite's q/k rows so RoPE rotates adjacent
        // pairs; DeepSeek's Hugging Face model already rotates them (nothing permuted).
        set("rope_interleave", .bool(["llama", "granite", "granitemoe", "deepseek2", "deepseek32", "glm-dsa"].contains(arch)))
        set("hidden_act", .string("silu"))
        if nextn > 0 { set("num_nextn_predict_layers", .int(nextn), from: "nextn_predict_layers") }
        if let ropeFactors {
            set("rope_freq_factors", .array(ropeFactors.map { .double(Double($0)) }))
        }
        if arch == "llama" || arch == "granite" || arch == "granitemoe" {
            set("attention_bias", .bool(m.hasTensor("blk.0.attn_q.bias")))
            set("mlp_bias", .bool(m.hasTensor("blk.0.ffn_gate.bias")))
        }

        switch arch {
        case "qwen2moe", "qwen3moe", "olmoe":
            set("num_experts", .int(try m.int("expert_count")!), from: "expert_count")
            set("num_experts_per_tok", .int(try m.int("expert_used_count")!), from: "expert_used_count")
            if let w = try m.int("expert_feed_forward_length", required: false) {
                set("moe_intermediate_size", .int(w), from: "expert_feed_forward_length")
                if arch == "olmoe" { set("intermediate_size", .int(w), from: "expert_feed_forward_length") }
            }
            if let w = try m.int("expert_shared_feed_forward_length", required: false) {
                set("shared_expert_intermediate_size", .int(w), from: "expert_shared_feed_forward_length")
            }
            // llama.cpp renormalises the chosen weights for Qwen3-MoE, not for Qwen2-MoE or OLMoE.
            set("norm_topk_prob", .bool(arch == "qwen3moe"))
            // Layers without a router are dense MLPs.
            let dense = (0..<layers).filter { !m.hasTensor("blk.\($0).ffn_gate_inp.weight") }
            set("mlp_only_layers", .array(dense.map { .int($0) }))
            if arch == "qwen2moe" { set("qkv_bias", .bool(g.tensors.contains { $0.name.hasSuffix("attn_q.bias") })) }
        case "deepseek2", "deepseek32", "glm-dsa":
            try deepSeekMLA(m, layers: layers, set: set)
            try deepSeekMoE(m, layers: layers, vocab: vocab, set: set)
            if arch != "deepseek2" { try dsaIndexer(m, layers: layers, set: set) }
        case "glm4moe":
            let headDim = try m.int("attention.key_length", required: false) ?? hidden / heads
            let rot = try m.int("rope.dimension_count", required: false) ?? headDim
            guard rot % 2 == 0, rot <= headDim else {
                throw m.fail("rope.dimension_count", "\(rot) must be even and at most the head size \(headDim)")
            }
            set("partial_rotary_factor", .double(Double(rot) / Double(headDim)), from: "rope.dimension_count")
            set("attention_bias", .bool(m.hasTensor("blk.0.attn_q.bias")))
            set("use_qk_norm", .bool(m.hasTensor("blk.0.attn_q_norm.weight")))
            try deepSeekMoE(m, layers: layers, vocab: vocab, set: set)
        case "granite", "granitemoe":
            // The head size is always n_embd / n_head (the converter writes no key_length), and all
            // of it is rotated.
            set("head_dim", .int(hidden / heads), from: "embedding_length")
            if let rot = try m.int("rope.dimension_count", required: false), rot != hidden / heads {
                throw m.fail("rope.dimension_count", "is \(rot); granite rotates the whole head of \(hidden / heads)")
            }
            // A multiplier of 0 (or none) means "not scaled"; attention.scale replaces 1/sqrt(head_dim).
            if let s = try m.double("attention.scale"), s != 0 { set("attention_multiplier", .double(s), from: "attention.scale") }
            if let s = try m.double("embedding_scale"), s != 0 { set("embedding_multiplier", .double(s), from: "embedding_scale") }
            if let s = try m.double("residual_scale"), s != 0 { set("residual_multiplier", .double(s), from: "residual_scale") }
            guard let logit = try m.double("logit_scale") else { throw m.fail("logit_scale", "missing") }
            set("logits_scaling", .double(logit == 0 ? 1 : logit), from: "logit_scale")
            if arch == "granitemoe" {
                if m.has("expert_shared_feed_forward_length") {
                    throw m.fail("expert_shared_feed_forward_length", "GraniteMoeShared (a shared expert) is not supported yet")
                }
                set("num_local_experts", .int(try m.int("expert_count")!), from: "expert_count")
                set("num_experts_per_tok", .int(try m.int("expert_used_count")!), from: "expert_used_count")
            }
        default:
            break
        }

        if let scaling = try m.string("rope.scaling.type"), scaling != "none" {
            let factor = try m.double("rope.scaling.factor")
            switch scaling {
            case "linear":
                guard let factor else { throw m.fail("rope.scaling.factor", "missing (rope.scaling.type is linear)") }
                set("rope_scaling", .object([("rope_type", .string("linear")), ("factor", .double(factor))]), from: "rope.scaling.type")
            case "yarn":
                guard let factor, factor > 0 else { throw m.fail("rope.scaling.factor", "missing or not positive (rope.scaling.type is yarn)") }
                let original = try m.int("rope.scaling.original_context_length", required: false)
                    ?? m.int("context_length", required: false)
                guard let original else { throw m.fail("rope.scaling.original_context_length", "missing (rope.scaling.type is yarn)") }
                // These loaders ignore the yarn_beta_* keys and use 32 / 1 (as every such config does).
                var params: [(String, JSONValue)] = [
                    ("rope_type", .string("yarn")), ("factor", .double(factor)),
                    ("original_max_position_embeddings", .int(original)), ("beta_fast", .double(32)), ("beta_slow", .double(1)),
                ]
                // glm-dsa never reads the multiplier (GGUF_ARCHS.md §6.4).
                let logMultiplier = arch == "glm-dsa" ? 0 : try m.double("rope.scaling.yarn_log_multiplier") ?? 0
                if arch == "deepseek2" {
                    // deepseek2 stores 0.1·mscale_all_dim; llama.cpp then scales cos/sin by
                    // mscale(factor, 1) and kq by its square when it is absent, and by nothing and
                    // mscale(factor, mscale_all_dim)² when it is present.
                    let all = logMultiplier / 0.1
                    params += all != 0 ? [("mscale", .double(all)), ("mscale_all_dim", .double(all))] : [("mscale_all_dim", .double(1))]
                } else if arch == "deepseek32" || arch == "glm-dsa" {
                    // Also 0.1·mscale_all_dim, but with mscale 1: cos/sin scaled by
                    // mscale(factor, 1) / mscale(factor, mscale_all_dim), kq by mscale(factor, 1)².
                    let all = logMultiplier / 0.1
                    let cosSin = RopeConfig.yarnMscale(factor, 1) / (all != 0 ? RopeConfig.yarnMscale(factor, all) : 1)
                    params += [("attention_factor", .double(cosSin)), ("mscale_all_dim", .double(1))]
                } else if logMultiplier != 0 {
                    params += [("mscale", .double(1)), ("mscale_all_dim", .double(logMultiplier))]
                }
                set("rope_scaling", .object(params), from: "rope.scaling.type")
            default:
                throw m.fail("rope.scaling.type", "'\(scaling)' is not supported yet (linear, yarn are)")
            }
        }
        if let a = try m.double("rope.scaling.attn_factor"), a != 1 {
            throw m.fail("rope.scaling.attn_factor", "\(a) is not supported yet (only 1)")
        }
        return (ConfigReader(json: .object(members), file: g.path), sources, arch)
    }

    /// deepseek2's MLA keys (GGUF_ARCHS.md §3.1, §3.7). The file describes MLA as MQA over the latent
    /// (`head_count_kv` 1, `key_length` = rank + rope); the real head sizes are the `*_mla` keys, or
    /// `key_length` / `value_length` in files converted before llama.cpp split `attn_kv_b`.
    static func deepSeekMLA(_ m: Metadata, layers: Int, set: (String, JSONValue, String?) -> Void) throws {
        let heads = try m.int("attention.head_count")!
        set("num_key_value_heads", .int(heads), "attention.head_count")
        let rope = try m.int("rope.dimension_count")!
        set("qk_rope_head_dim", .int(rope), "rope.dimension_count")
        set("head_dim", .int(rope), "rope.dimension_count")
        set("kv_lora_rank", .int(try m.int("attention.kv_lora_rank")!), "attention.kv_lora_rank")
        // Absent or 0: no q LoRA (`attn_q` instead of `attn_q_a`/`attn_q_a_norm`/`attn_q_b`).
        let qRank = try m.int("attention.q_lora_rank", required: false, min: 0) ?? 0
        set("q_lora_rank", qRank > 0 ? .int(qRank) : .null, "attention.q_lora_rank")
        guard m.has("attention.key_length_mla") == m.has("attention.value_length_mla") else {
            throw m.fail(m.has("attention.key_length_mla") ? "attention.value_length_mla" : "attention.key_length_mla",
                         "missing (attention.key_length_mla and attention.value_length_mla come together)")
        }
        let mla = m.has("attention.key_length_mla")
        let kKey = mla ? "attention.key_length_mla" : "attention.key_length"
        let vKey = mla ? "attention.value_length_mla" : "attention.value_length"
        let k = try m.int(kKey)!
        guard k > rope else { throw m.fail(kKey, "\(k) leaves no non-rotary dims next to rope.dimension_count \(rope)") }
        set("qk_nope_head_dim", .int(k - rope), kKey)
        set("v_head_dim", .int(try m.int(vKey)!), vKey)
        set("attention_bias", .bool(false), nil)
        // Layers must hold kv_b_proj, either whole (older files) or split per head.
        for l in 0..<layers where !m.hasTensor("blk.\(l).attn_kv_b.weight") && !m.hasTensor("blk.\(l).attn_k_b.weight") {
            throw ModelError.missingTensor("blk.\(l).attn_k_b.weight and blk.\(l).attn_v_b.weight (or the older blk.\(l).attn_kv_b.weight), in \(m.g.path)")
        }
    }

    /// The DeepSeek MoE block's keys (deepseek2, glm4moe; GGUF_ARCHS.md §3.5, §4.1).
    static func deepSeekMoE(_ m: Metadata, layers: Int, vocab: Int, set: (String, JSONValue, String?) -> Void) throws {
        let experts = try m.int("expert_count")!
        let used = try m.int("expert_used_count")!
        set("n_routed_experts", .int(experts), "expert_count")
        set("num_experts_per_tok", .int(used), "expert_used_count")
        var width = try m.int("expert_feed_forward_length", min: m.arch == "glm4moe" ? 0 : 1)!
        if width == 0 { width = try m.int("feed_forward_length")! / used }     // llama.cpp's glm4moe rule
        set("moe_intermediate_size", .int(width), "expert_feed_forward_length")
        set("n_shared_experts", .int(try m.int("expert_shared_count", min: 0)!), "expert_shared_count")
        set("first_k_dense_replace", .int(try m.int("leading_dense_block_count", required: false, min: 0) ?? 0), "leading_dense_block_count")
        // 0 or absent: no scaling, no groups, no renormalisation.
        let scale = try m.double("expert_weights_scale") ?? 0
        set("routed_scaling_factor", .double(scale == 0 ? 1 : scale), "expert_weights_scale")
        set("norm_topk_prob", .bool(try m.bool("expert_weights_norm") ?? false), "expert_weights_norm")
        set("n_group", .int(max(try m.int("expert_group_count", required: false, min: 0) ?? 1, 1)), "expert_group_count")
        set("topk_group", .int(max(try m.int("expert_group_used_count", required: false, min: 0) ?? 1, 1)), "expert_group_used_count")
        // llama_expert_gating_func_type: 0 none, 1 softmax, 2 sigmoid, 3 softmax_weight, 4 sqrt_softplus.
        // Unset: glm4moe and glm-dsa are sigmoid; deepseek2 softmax (old DeepSeek-V2 files), except
        // GLM-4.7-Flash; deepseek32 files need the key (llama.cpp refuses them without).
        var gating = try m.int("expert_gating_func", required: m.arch == "deepseek32", min: 0) ?? 0
        if gating == 0 {
            let glmFlash = m.arch == "deepseek2" && (layers == 47 || layers == 48) && vocab == 154_880
            gating = m.arch == "glm4moe" || m.arch == "glm-dsa" || glmFlash ? 2 : 1
        }
        guard gating == 1 || gating == 2 else {
            throw m.fail("expert_gating_func", "\(gating) is not supported (1 softmax, 2 sigmoid are)")
        }
        set("scoring_func", .string(gating == 2 ? "sigmoid" : "softmax"), "expert_gating_func")
    }

    /// The DSA indexer's keys (deepseek32, glm-dsa; GGUF_ARCHS.md §6.1, §6.3): its shape, and which
    /// layers run their own indexer ("full") rather than reuse the last full layer's choice ("shared").
    static func dsaIndexer(_ m: Metadata, layers: Int, set: (String, JSONValue, String?) -> Void) throws {
        // Bounded so that products of them (and per-token top-k buffers) cannot overflow.
        let heads = try m.int("attention.indexer.head_count")!
        guard heads <= 1 << 16 else { throw m.fail("attention.indexer.head_count", "is \(heads); at most 65536 are supported") }
        let dim = try m.int("attention.indexer.key_length")!
        guard dim <= 1 << 16 else { throw m.fail("attention.indexer.key_length", "is \(dim); at most 65536 are supported") }
        let topK = try m.int("attention.indexer.top_k")!
        guard topK <= 1 << 20 else { throw m.fail("attention.indexer.top_k", "is \(topK); at most 1048576 are supported") }
        set("index_n_heads", .int(heads), "attention.indexer.head_count")
        set("index_head_dim", .int(dim), "attention.indexer.key_length")
        set("index_topk", .int(topK), "attention.indexer.top_k")
        guard m.arch == "glm-dsa" else { return }       // deepseek32: every layer has its own indexer
        let key = "attention.indexer.types"
        let full: [Bool]
        if let v = m.value(key) {
            // llama.cpp's get_key_or_arr: an array of one flag per decoder layer, or one value for all.
            if let items = v.arrayValue {
                guard items.count == layers else { throw m.fail(key, "has \(items.count) entries for \(layers) decoder layers") }
                full = try items.map { item in
                    if let b = item.boolValue { return b }
                    guard let i = item.intValue else { throw m.fail(key, "expected true/false entries, found \(item)") }
                    return i != 0
                }
            } else if let i = v.intValue {
                full = Array(repeating: i != 0, count: layers)
            } else {
                throw m.fail(key, "expected an array of true/false, found \(v)")
            }
        } else {
            // llama.cpp's default: GLM-5/5.1 (context below 2^20) all full, else GLM-5.2's pattern.
            let longContext = (try m.int("context_length", required: false) ?? 0) >= 1 << 20
            full = (0..<layers).map { !longContext || $0 < 2 || ($0 < 78 && ($0 - 2) % 4 == 0) }
        }
        guard full.first == true else { throw m.fail(key, "layer 0 must run its own indexer (true) before later layers can share its choice") }
        set("indexer_types", .array(full.map { .string($0 ? "full" : "shared") }), key)
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
        let (config, sources, arch) = try describe(g)
        var entries: [TensorEntry] = []
        var hfNames: [String: [String]] = [:]
        for e in g.entries() {
            if let hf = hfName(e.name, arch: arch) {
                // GGUF keeps the shared-expert gate as a vector; Hugging Face as a [1, hidden] matrix.
                let shape = e.name.hasSuffix("ffn_gate_inp_shexp.weight") && e.shape.count == 1 ? [1] + e.shape : e.shape
                entries.append(TensorEntry(name: hf, dtype: e.dtype, shape: shape, file: e.file, offset: e.offset, byteCount: e.byteCount))
                hfNames[e.name] = [hf]
            } else if let (layer, suffixes) = stackedExpert(e.name, arch: arch) {
                // Each expert (and each part of a fused gate/up expert) is a view into the stacked
                // tensor: no copy.
                let ne = Array(e.shape.reversed())
                guard e.shape.count == 3 else {
                    throw ModelError.badTensor(e.name, "has ne \(ne); stacked experts need three dimensions {cols, rows, experts}")
                }
                let (n, rows, cols) = (e.shape[0], e.shape[1] / suffixes.count, e.shape[2])
                guard rows * suffixes.count == e.shape[1], let part = e.dtype.bytes(elements: rows * cols),
                      part * suffixes.count * n == e.byteCount else {
                    throw ModelError.badTensor(e.name, "ne \(ne) does not split into whole \(e.dtype.rawValue) experts")
                }
                var names: [String] = []
                for x in 0..<n {
                    for (j, suffix) in suffixes.enumerated() {
                        let name = "model.layers.\(layer).mlp.experts.\(x).\(suffix)"
                        names.append(name)
                        entries.append(TensorEntry(name: name, dtype: e.dtype, shape: [rows, cols], file: e.file,
                                                   offset: e.offset + (x * suffixes.count + j) * part, byteCount: part))
                    }
                }
                hfNames[e.name] = names
            }
        }
        let dir = TensorDirectory(directory: path, entries: entries)
        dir.activations = activations
        let model: TransformerModel
        do {
            model = try ModelRegistry.build(config: config, tensors: dir, pool: pool)
        } catch let e as ModelError {
            throw ggufError(e, g, arch: arch, sources: sources)
        }
        // Tensors no layer bound: unknown names, and NextN/MTP blocks (which plain decoding never runs).
        let unbound = Set(dir.unusedNames)
        model.unusedTensors = g.tensors.map(\.name).filter { name in
            name != "rope_freqs.weight" && (hfNames[name] ?? []).allSatisfy(unbound.contains)
        }
        model.mtpLayers = try config.int("num_nextn_predict_layers", default: 0)
        return model
    }

    /// Restates a builder's error in GGUF terms: keys as `<arch>.…`, tensors as `blk.N.…` with GGML `ne`.
    static func ggufError(_ e: ModelError, _ g: GGUFFile, arch: String, sources: [String: String]) -> ModelError {
        func tensor(_ hf: String) -> (name: String, expert: Int?, info: GGUFTensorInfo?)? {
            guard let (name, x) = ggufName(hf, arch: arch, in: g) else { return nil }
            return (name, x, g.tensors.first { $0.name == name })
        }
        switch e {
        case let .config(file, key, message) where file == g.path:
            guard let source = sources[key] else { return e }
            return .config(file: file, key: source, message: message + " (read as \(key))")
        case let .missingTensor(what):
            let hf = String(what.prefix { $0 != " " })
            guard let t = tensor(hf) else { return e }
            if let info = t.info {
                if GGMLType.dtype(info.type) == nil {
                    return .badTensor(t.name, "has GGML type \(info.typeName), which MoEKit cannot compute with yet")
                }
                if let x = t.expert {
                    return .badTensor(t.name, "stacks \(info.dims.last ?? 0) experts (ne \(info.dims)); expert \(x) is missing")
                }
            }
            return .missingTensor("\(t.name) (in \(g.path))")
        case let .shape(hf, expected, actual):
            guard let t = tensor(hf) else { return e }
            if t.expert != nil, let info = t.info {
                return .badTensor(t.name, "has ne \(info.dims); each expert should have ne \(Array(expected.reversed()))")
            }
            return .badTensor(t.name, "has ne \(Array(actual.reversed())); expected ne \(Array(expected.reversed()))")
        case let .dtype(hf, dtype):
            return .dtype(tensor: tensor(hf)?.name ?? hf, dtype: dtype)
        case let .badTensor(hf, message):
            return .badTensor(tensor(hf)?.name ?? hf, message)
        default:
            return e
        }
    }
}
