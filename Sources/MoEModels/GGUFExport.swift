#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoEFormats
import MoETensor

/// The GGUF layout of a Hugging Face config, as llama.cpp's converter writes it: metadata keys with
/// llama.cpp's value types, and every tensor's GGUF name and GGML dims. For the architectures whose
/// GGUF names `GGUFModel` reads (llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe).
public struct GGUFLayout {
    public var architecture: String
    public var metadata: [(String, GGUFValue, GGUFValueType)] = []
    /// GGUF name, GGML dims (fastest first), and whether it is a norm weight (initialised to one).
    public var tensors: [(name: String, dims: [Int], norm: Bool)] = []
    /// Llama 3.1-style RoPE scaling as per-frequency divisors (`rope_freqs.weight`), when the config has it.
    public var ropeFreqs: [Float]?
    public let heads: Int, kvHeads: Int, headDim: Int

    public static let architectures: [String: String] = [
        "llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "qwen2_moe": "qwen2moe", "qwen3_moe": "qwen3moe", "olmoe": "olmoe",
    ]

    public init(config r: ConfigReader, name: String) throws {
        let type = try r.string("model_type")
        guard let arch = Self.architectures[type] else {
            throw r.fail("model_type", "'\(type)' cannot be written as GGUF yet (\(Self.architectures.keys.sorted().joined(separator: ", ")) can)")
        }
        architecture = arch
        let H = try r.int("hidden_size", min: 1)
        let L = try r.int("num_hidden_layers", min: 1)
        let heads = try r.int("num_attention_heads", min: 1)
        let kv = try r.int("num_key_value_heads", default: heads, min: 1)
        let hd = try r.int("head_dim", default: H / heads, min: 1)
        let V = try r.int("vocab_size", min: 1)
        let I = try r.int("intermediate_size", min: 1)
        let moe = type.hasSuffix("moe")
        let (experts, topK) = moe ? try r.expertCounts() : (0, 0)
        let expertI = moe ? try r.int("moe_intermediate_size", default: I, min: 1) : 0
        let sharedI = type == "qwen2_moe" ? try r.int("shared_expert_intermediate_size", default: 0) : 0
        // Dense layers as the Qwen MoE loader decides them.
        var isDense: (Int) -> Bool = { _ in true }
        if moe { isDense = try r.qwenMoEDenseLayer() }
        let tied = try r.bool("tie_word_embeddings", default: false)
        for (k, v) in [("hidden_size", H), ("num_hidden_layers", L), ("num_attention_heads", heads), ("num_key_value_heads", kv),
                       ("head_dim", hd), ("vocab_size", V), ("intermediate_size", I), ("num_experts", experts),
                       ("moe_intermediate_size", expertI), ("shared_expert_intermediate_size", sharedI)] where v > 1 << 24 {
            throw r.fail(k, "\(v) is larger than any model size MoEKit writes (at most 2^24)")
        }
        // Each tensor's elements (the largest: the stacked experts) at most 2^40, as the GGUF reader allows.
        for (k, dims) in [("num_experts", [experts, expertI, H]), ("vocab_size", [V, H]), ("intermediate_size", [I, H]),
                          ("num_attention_heads", [heads, hd, H]), ("num_key_value_heads", [kv, hd, H])] {
            var n = 1
            for d in dims {
                let (p, o) = n.multipliedReportingOverflow(by: max(d, 1))
                guard !o, p <= 1 << 40 else { throw r.fail(k, "makes a tensor of more than 2^40 elements (\(dims.map(String.init).joined(separator: " × ")))") }
                n = p
            }
        }
        let dense = Set((0..<L).filter(isDense))
        self.heads = heads
        kvHeads = kv
        headDim = hd
        let rope = try r.rope(defaultTheta: 10000)

        func u32(_ k: String, _ v: Int) { metadata.append((k, .uint(UInt64(v)), .u32)) }
        func f32(_ k: String, _ v: Double) { metadata.append((k, .float(v), .f32)) }
        metadata.append(("general.architecture", .string(arch), .string))
        metadata.append(("general.type", .string("model"), .string))
        metadata.append(("general.name", .string(name), .string))
        u32("\(arch).context_length", try r.int("max_position_embeddings", default: 4096))
        u32("\(arch).embedding_length", H)
        u32("\(arch).block_count", L)
        u32("\(arch).feed_forward_length", type == "olmoe" ? expertI : I)
        u32("\(arch).attention.head_count", heads)
        u32("\(arch).attention.head_count_kv", kv)
        // As llama.cpp's converter: head sizes whenever the config names one, and (Llama only) the
        // rotary dimensions and the vocabulary size.
        if r.has("head_dim") || hd != H / heads {
            u32("\(arch).attention.key_length", hd)
            u32("\(arch).attention.value_length", hd)
        }
        if arch == "llama" { u32("\(arch).rope.dimension_count", hd) }
        f32("\(arch).rope.freq_base", rope.theta)
        switch rope.scaling {
        case .none: break
        case .linear(let factor):
            metadata.append(("\(arch).rope.scaling.type", .string("linear"), .string))
            f32("\(arch).rope.scaling.factor", factor)
        case .llama3(let factor, let low, let high, let original):
            // The divisors llama.cpp's converter computes for Llama 3.1 (rope_freqs.weight).
            let lowWave = original / low, highWave = original / high
            ropeFreqs = (0..<(hd / 2)).map { i in
                let freq = 1 / pow(rope.theta, Double(2 * i) / Double(hd))
                let wave = 2 * Double.pi / freq
                if wave < highWave { return 1 }
                if wave > lowWave { return Float(factor) }
                let smooth = (original / wave - low) / (high - low)
                return Float(1 / ((1 - smooth) / factor + smooth))
            }
        default:
            throw r.fail("rope_scaling", "this RoPE scaling cannot be written as GGUF yet (linear and llama3 can)")
        }
        f32("\(arch).attention.layer_norm_rms_epsilon", try r.double("rms_norm_eps", default: 1e-6))
        if arch == "llama" { u32("\(arch).vocab_size", V) }
        if moe {
            u32("\(arch).expert_count", experts)
            u32("\(arch).expert_used_count", topK)
            if type != "olmoe" { u32("\(arch).expert_feed_forward_length", expertI) }
            if sharedI > 0 { u32("\(arch).expert_shared_feed_forward_length", sharedI) }
        }
        // A placeholder vocabulary (synthetic models have no tokenizer): "<t0>" ... as NORMAL tokens;
        // `Quantizer.convert` puts a checkpoint's own tokenizer in its place.
        metadata.append(("tokenizer.ggml.model", .string("gpt2"), .string))
        metadata.append(("tokenizer.ggml.pre", .string("default"), .string))
        metadata.append(("tokenizer.ggml.tokens", .array((0..<V).map { .string("<t\($0)>") }), .array(8)))
        metadata.append(("tokenizer.ggml.token_type", .array([GGUFValue](repeating: .int(1), count: V)), .array(5)))
        metadata.append(("tokenizer.ggml.merges", .array([]), .array(8)))
        // Ids that are lists (Llama 3.1's eos_token_id) are left out, as gguf-py's SpecialVocab does.
        for k in ["bos_token_id", "eos_token_id"] where r.json[k]?.arrayValue == nil { u32("tokenizer.ggml." + k, try r.int(k, default: 0)) }

        func add(_ n: String, _ dims: Int..., norm: Bool = false) { tensors.append((n, dims, norm)) }
        if let f = ropeFreqs { add("rope_freqs.weight", f.count) }
        let attnBias = type == "llama" ? try r.bool("attention_bias", default: false) : false
        let mlpBias = type == "llama" ? try r.bool("mlp_bias", default: false) : false
        add("token_embd.weight", H, V)
        for l in 0..<L {
            let b = "blk.\(l)."
            add(b + "attn_norm.weight", H, norm: true)
            add(b + "attn_q.weight", H, heads * hd)
            add(b + "attn_k.weight", H, kv * hd)
            add(b + "attn_v.weight", H, kv * hd)
            add(b + "attn_output.weight", heads * hd, H)
            if type == "qwen2" || type == "qwen2_moe" || attnBias {
                add(b + "attn_q.bias", heads * hd)
                add(b + "attn_k.bias", kv * hd)
                add(b + "attn_v.bias", kv * hd)
            }
            if attnBias { add(b + "attn_output.bias", H) }
            if type == "qwen3" || type == "qwen3_moe" {
                add(b + "attn_q_norm.weight", hd, norm: true)
                add(b + "attn_k_norm.weight", hd, norm: true)
            } else if type == "olmoe" {
                add(b + "attn_q_norm.weight", heads * hd, norm: true)
                add(b + "attn_k_norm.weight", kv * hd, norm: true)
            }
            add(b + "ffn_norm.weight", H, norm: true)
            if dense.contains(l) {
                add(b + "ffn_gate.weight", H, I)
                add(b + "ffn_up.weight", H, I)
                add(b + "ffn_down.weight", I, H)
                if mlpBias {
                    add(b + "ffn_gate.bias", I)
                    add(b + "ffn_up.bias", I)
                    add(b + "ffn_down.bias", H)
                }
            } else {
                add(b + "ffn_gate_inp.weight", H, experts)
                add(b + "ffn_gate_exps.weight", H, expertI, experts)
                add(b + "ffn_up_exps.weight", H, expertI, experts)
                add(b + "ffn_down_exps.weight", expertI, H, experts)
                if sharedI > 0 {
                    add(b + "ffn_gate_inp_shexp.weight", H, 1)
                    add(b + "ffn_gate_shexp.weight", H, sharedI)
                    add(b + "ffn_up_shexp.weight", H, sharedI)
                    add(b + "ffn_down_shexp.weight", sharedI, H)
                }
            }
        }
        add("output_norm.weight", H, norm: true)
        if !tied { add("output.weight", H, V) }
    }
}

extension Quantizer {
    /// A GGUF file for `config` with random weights (uniform, std 0.02; norms one), matrices in the
    /// plan's types: a model of a real shape for benchmarks, made without downloading it.
    public static func synthesize(config: ConfigReader, to path: String, plan: QuantizePlan, seed: UInt64,
                                  pool: ThreadPool, progress: ((Int, Int) -> Void)? = nil) throws -> Report {
        let layout = try GGUFLayout(config: config, name: "synthetic \(try config.string("model_type"))")
        let w = GGUFWriter()
        for (k, v, t) in layout.metadata { w.set(k, v, as: t) }
        w.set("general.file_type", .uint(UInt64(QuantizePlan.fileType(plan.target))), as: .u32)
        w.set("general.quantization_version", .uint(2), as: .u32)
        var jobs: [Job] = []
        var report = Report()
        for (i, t) in layout.tensors.enumerated() {
            let dtype = plan.type(for: t.name, dims: t.dims, current: nil) ?? .f32
            let cols = t.dims[0], norm = t.norm, freqs = t.name == "rope_freqs.weight" ? layout.ropeFreqs : nil
            jobs.append(Job(name: t.name, dims: t.dims, type: try QuantizePlan.code(dtype, tensor: t.name), dtype: dtype, copy: nil, row: { r, out in
                if let freqs {
                    for c in 0..<cols { out[c] = freqs[c] }
                    return
                }
                if norm {
                    out.update(repeating: 1, count: cols)
                    return
                }
                var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(r) &* 0xD1B5_4A32_D192_ED03)
                // Uniform on ±0.02·√3: standard deviation 0.02.
                for c in 0..<cols { out[c] = (Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1) * 0.034641 }
            }))
            report.tensors.append((t.name, "random", dtype.rawValue))
        }
        report.bytes = try write(w, jobs, to: path, pool: pool, progress: progress)
        return report
    }
}

extension Quantizer {
    /// The `tokenizer.*` metadata of a checkpoint directory for a GGUF architecture, or nil when it has
    /// no tokenizer (MoETokenizer's `TokenizerGGUFExport.metadata`, passed in by the caller: this
    /// module does not depend on the tokenizer's).
    public typealias TokenizerMetadata = (_ directory: String, _ architecture: String) throws -> [(key: String, value: GGUFValue, type: GGUFValueType)]?

    /// A Hugging Face checkpoint (config.json + safetensors) written as GGUF the way llama.cpp's
    /// converter lays it out (GGUF names, stacked experts, Llama's q/k rows permuted for its
    /// interleaved RoPE, `rope_freqs` for Llama 3.1 scaling), matrices in the plan's types. The
    /// tokenizer keys are `tokenizer`'s for the directory, written after the model's keys as llama.cpp
    /// writes them; without a tokenizer (no `tokenizer`, or it finds none) the vocabulary is a
    /// placeholder (`<t0>` ..., bos/eos ids from config.json), as for `synthesize`.
    public static func convert(directory dir: String, to path: String, plan: QuantizePlan, pool: ThreadPool,
                               tokenizer: TokenizerMetadata? = nil,
                               progress: ((Int, Int) -> Void)? = nil) throws -> Report {
        let config = try ConfigReader(path: dir + "/config.json")
        let layout = try GGUFLayout(config: config, name: dir.split(separator: "/").last.map(String.init) ?? "model")
        let vocabulary = try tokenizer?(dir, layout.architecture)
        let tensors = try TensorDirectory(modelDirectory: dir)
        let w = GGUFWriter()
        for (k, v, t) in layout.metadata where vocabulary == nil || !k.hasPrefix("tokenizer.") { w.set(k, v, as: t) }
        w.set("general.file_type", .uint(UInt64(QuantizePlan.fileType(plan.target))), as: .u32)
        w.set("general.quantization_version", .uint(2), as: .u32)
        for (k, v, t) in vocabulary ?? [] { w.set(k, v, as: t) }
        let permute = layout.architecture == "llama"
        var jobs: [Job] = []
        var report = Report()
        for t in layout.tensors {
            let dtype = plan.type(for: t.name, dims: t.dims, current: nil) ?? .f32
            let cols = t.dims[0]
            if t.name == "rope_freqs.weight", let freqs = layout.ropeFreqs {
                jobs.append(Job(name: t.name, dims: t.dims, type: 0, dtype: .f32, copy: nil, row: { _, out in
                    for c in 0..<cols { out[c] = freqs[c] }
                }))
                report.tensors.append((t.name, "computed", "F32"))
                continue
            }
            // The source tensors: one, or one per expert for a stacked tensor.
            var sources: [TensorEntry] = []
            let rowsEach = t.dims.count > 1 ? t.dims[1] : 1
            if let (layer, suffixes) = GGUFModel.stackedExpert(t.name, arch: layout.architecture), suffixes.count == 1 {
                let suffix = suffixes[0]
                for x in 0..<t.dims[2] {
                    let name = "model.layers.\(layer).mlp.experts.\(x).\(suffix)"
                    guard let e = tensors[name] else { throw ModelError.missingTensor("\(name) (in \(dir))") }
                    sources.append(e)
                }
            } else {
                guard let hf = GGUFModel.hfName(t.name, arch: layout.architecture) else { throw ModelError.badTensor(t.name, "has no Hugging Face name") }
                guard let e = tensors[hf] else { throw ModelError.missingTensor("\(hf) (in \(dir))") }
                sources.append(e)
            }
            for e in sources {
                guard e.shape.reduce(1, *) == cols * rowsEach, e.shape.last == cols || (e.shape.count == 1 && cols == e.shape[0]) else {
                    throw ModelError.shape(tensor: e.name, expected: rowsEach > 1 ? [rowsEach, cols] : [cols], actual: e.shape)
                }
                guard e.data != nil else { throw ModelError.badTensor(e.name, "has no data") }
                guard e.dtype.isComputable && !e.dtype.isBlockQuantized && e.dtype != .f8e4m3 else {
                    throw ModelError.badTensor(e.name, "is \(e.dtype.rawValue), which cannot be converted yet")
                }
            }
            // Llama's q/k rows (and biases) go from rotate-half to interleaved-pair order, per head.
            let heads = t.name.hasSuffix("attn_q.weight") || t.name.hasSuffix("attn_q.bias") ? layout.heads
                : t.name.hasSuffix("attn_k.weight") || t.name.hasSuffix("attn_k.bias") ? layout.kvHeads : 0
            let hd = layout.headDim, isBias = t.dims.count == 1
            let perm = permute && heads > 0
            let src = sources
            jobs.append(Job(name: t.name, dims: t.dims, type: try QuantizePlan.code(dtype, tensor: t.name), dtype: dtype, copy: nil, row: { r, out in
                if isBias {
                    let e = src[0]
                    let tmp = UnsafeMutablePointer<Float>.allocate(capacity: cols)
                    defer { tmp.deallocate() }
                    convertToFloat(e.data!, dtype: e.dtype, count: cols, into: tmp)
                    for c in 0..<cols { out[c] = tmp[perm ? hfRow(c, hd) : c] }
                    return
                }
                let e = src[r / rowsEach]
                var row = r % rowsEach
                if perm { row = hfRow(row, hd) }
                let rb = cols * e.dtype.size
                convertToFloat(e.data! + row * rb, dtype: e.dtype, count: cols, into: out)
            }))
            report.tensors.append((t.name, sources[0].dtype.rawValue, dtype.rawValue))
        }
        report.bytes = try write(w, jobs, to: path, pool: pool, progress: progress)
        return report
    }

    /// The Hugging Face row of GGUF row `g` of a Llama q/k projection: within each head, GGUF holds
    /// pairs (i, i + hd/2) side by side.
    static func hfRow(_ g: Int, _ hd: Int) -> Int {
        let h = g / hd, k = g % hd
        return h * hd + (k % 2) * (hd / 2) + k / 2
    }
}
