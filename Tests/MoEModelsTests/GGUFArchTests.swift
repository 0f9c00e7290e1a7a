import Foundation
import Testing
import MoEFormats
import MoEModels
import MoERuntime
import MoETensor

/// A GGUF v3 file to write: a fixture's metadata and tensors, edited.
struct GGUFEdit {
    var metadata: [(String, GGUFValue)]
    var tensors: [(name: String, ne: [Int], type: UInt32, data: [UInt8])]

    init(_ fixture: String) throws {
        let g = try GGUFFile(path: GGUFParityTests.root + "/\(fixture).gguf")
        metadata = g.metadata
        tensors = g.tensors.map { ($0.name, $0.dims, $0.type, Array(g.file.bytes(at: $0.offset, count: $0.byteCount))) }
    }

    mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.0 == key }) { metadata[i].1 = value } else { metadata.append((key, value)) }
    }
    mutating func remove(_ key: String) { metadata.removeAll { $0.0 == key } }
    mutating func removeTensor(_ name: String) { tensors.removeAll { $0.name == name } }
    mutating func setNe(_ name: String, _ ne: [Int]) {
        let i = tensors.firstIndex { $0.name == name }!
        tensors[i].ne = ne
    }
    func tensor(_ name: String) -> [Float] {
        let t = tensors.first { $0.name == name }!
        precondition(t.type == 0)
        return t.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    mutating func addTensor(_ name: String, ne: [Int], _ values: [Float]) {
        tensors.append((name, ne, 0, values.withUnsafeBytes { Array($0) }))
    }

    /// Writes the file (32-byte alignment) and returns its path.
    func write() -> String {
        var b: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); b.append(contentsOf: s.utf8) }
        func type(_ v: GGUFValue) -> UInt32 {
            switch v {
            case .uint(let u): return u <= UInt64(UInt32.max) ? 4 : 10
            case .int(let i): return Int64(Int32.min)...Int64(Int32.max) ~= i ? 5 : 11
            case .float: return 6
            case .bool: return 7
            case .string: return 8
            case .array: return 9
            }
        }
        func value(_ v: GGUFValue, as t: UInt32) {
            switch v {
            case .uint(let u): if t == 4 { u32(UInt32(u)) } else { u64(u) }
            case .int(let i): if t == 5 { u32(UInt32(bitPattern: Int32(i))) } else { u64(UInt64(bitPattern: i)) }
            case .float(let f): u32(Float(f).bitPattern)
            case .bool(let x): b.append(x ? 1 : 0)
            case .string(let s): str(s)
            case .array(let a):
                let et = a.map(type).max() ?? 8
                u32(et); u64(UInt64(a.count))
                for x in a { value(x, as: et) }
            }
        }
        b.append(contentsOf: Array("GGUF".utf8))
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (k, v) in metadata { str(k); u32(type(v)); value(v, as: type(v)) }
        var offset = 0
        for t in tensors {
            str(t.name); u32(UInt32(t.ne.count))
            for d in t.ne { u64(UInt64(d)) }
            u32(t.type); u64(UInt64(offset))
            offset = (offset + t.data.count + 31) / 32 * 32
        }
        for t in tensors {
            while b.count % 32 != 0 { b.append(0) }
            b.append(contentsOf: t.data)
        }
        let path = NSTemporaryDirectory() + "moekit-gguf-edit-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).gguf"
        FileManager.default.createFile(atPath: path, contents: Data(b))
        return path
    }

    /// Loads the edited file (and deletes it).
    func load() throws -> TransformerModel {
        let path = write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try loadModel(directory: path, pool: Fixtures.pool, activations: .f32)
    }
}

/// Logits (within 1e-4 of the largest), greedy tokens and experts of `model` against the fixture's
/// transformers oracle: GGUFParityTests' check, shared with the arch tests.
func expectMatchesOracle(_ model: TransformerModel, _ name: String) throws {
    let oracle = try Oracle(name)
    let V = model.config.vocabSize
    let logits = try model.forward(oracle.inputIds, state: model.makeState(), logits: .all)
    for (p, ref) in oracle.logits.enumerated() {
        let d = maxAbsDiff(logits[(p * V)..<((p + 1) * V)], ref)
        #expect(d <= 1e-4 * ref.map(abs).max()!, "\(name) position \(p): max |Δlogit| \(d)")
    }
    var options = GenerationOptions()
    options.maxTokens = oracle.greedy.count
    let trace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
    let out = try Generator(model: model).generate(prompt: oracle.inputIds, options: options, trace: trace)
    #expect(out.tokens == oracle.greedy, "\(name)")
    #expect(trace.experts == oracle.experts, "\(name)")
}

/// The GGUF layouts GGUF_ARCHS.md describes beyond the converted fixtures: deepseek2's older
/// `attn_kv_b` files and its gating key, the NextN blocks of glm4moe and glm-dsa, glm-dsa's indexer
/// types, the DSA files' YaRN, and malformed files.
@Suite struct GGUFArchTests {
    /// deepseek2 MLA files keep `attn_k_b`/`attn_v_b` in the mapped file, one matrix per head.
    @Test func deepSeekSplitKVIsReadInPlace() throws {
        let model = try loadModel(directory: GGUFParityTests.root + "/deepseek_v3.gguf", pool: Fixtures.pool)
        for layer in model.layers {
            guard case .mla(let a) = layer.attention, case .split(let keys, let values) = a.kvB else {
                Issue.record("expected attn_k_b/attn_v_b to be bound split"); return
            }
            #expect(keys.count == 4 && keys.allSatisfy { $0.rows == 24 && $0.cols == 16 && $0.owner is MappedFile })
            #expect(values.count == 4 && values.allSatisfy { $0.rows == 12 && $0.cols == 24 && $0.owner is MappedFile })
        }
    }

    /// A file converted before llama.cpp split kv_b_proj: `attn_kv_b` (= kv_b_proj), no `*_mla` keys,
    /// `key_length`/`value_length` the real head sizes, `head_count_kv` = heads. Built here from the
    /// split tensors with GGUF_ARCHS.md §3.3's formulas; it must match the same oracle.
    @Test func deepSeekLegacyKVB() throws {
        var f = try GGUFEdit("deepseek_v3")
        let (H, nope, rope, v, rank) = (4, 16, 8, 12, 24)
        f.remove("deepseek2.attention.key_length_mla")
        f.remove("deepseek2.attention.value_length_mla")
        f.set("deepseek2.attention.key_length", .uint(UInt64(nope + rope)))
        f.set("deepseek2.attention.value_length", .uint(UInt64(v)))
        f.set("deepseek2.attention.head_count_kv", .uint(UInt64(H)))
        for l in 0..<3 {
            let kb = f.tensor("blk.\(l).attn_k_b.weight"), vb = f.tensor("blk.\(l).attn_v_b.weight")
            var kvb = [Float](repeating: 0, count: H * (nope + v) * rank)
            for h in 0..<H {
                for r in 0..<rank {
                    for i in 0..<nope { kvb[(h * (nope + v) + i) * rank + r] = kb[(h * rank + r) * nope + i] }
                    for j in 0..<v { kvb[(h * (nope + v) + nope + j) * rank + r] = vb[(h * v + j) * rank + r] }
                }
            }
            f.removeTensor("blk.\(l).attn_k_b.weight")
            f.removeTensor("blk.\(l).attn_v_b.weight")
            f.addTensor("blk.\(l).attn_kv_b.weight", ne: [rank, H * (nope + v)], kvb)
        }
        let model = try f.load()
        guard case .mla(let a) = model.layers[0].attention, case .fused = a.kvB else {
            Issue.record("expected attn_kv_b to be bound as kv_b_proj"); return
        }
        try expectMatchesOracle(model, "deepseek_v3")
        #expect(model.unusedTensors.isEmpty, "\(model.unusedTensors)")
    }

    /// `--fuse-gate-up-exps` files: each expert's gate rows then up rows in one stack
    /// (`ffn_gate_up_exps`), viewed in place as two matrices.
    @Test func fusedGateUpExperts() throws {
        var f = try GGUFEdit("deepseek_v3")
        let (experts, inter, hidden) = (16, 8, 64)
        for l in 1...2 {
            let gate = f.tensor("blk.\(l).ffn_gate_exps.weight"), up = f.tensor("blk.\(l).ffn_up_exps.weight")
            var fused: [Float] = []
            for x in 0..<experts {
                fused += gate[(x * inter * hidden)..<((x + 1) * inter * hidden)]
                fused += up[(x * inter * hidden)..<((x + 1) * inter * hidden)]
            }
            f.removeTensor("blk.\(l).ffn_gate_exps.weight")
            f.removeTensor("blk.\(l).ffn_up_exps.weight")
            f.addTensor("blk.\(l).ffn_gate_up_exps.weight", ne: [hidden, 2 * inter, experts], fused)
        }
        let model = try f.load()
        try expectMatchesOracle(model, "deepseek_v3")
        #expect(model.unusedTensors.isEmpty, "\(model.unusedTensors)")
    }

    /// `deepseek2.expert_gating_func`: 2 sigmoid, 1 softmax, absent softmax (llama.cpp's default for
    /// old DeepSeek-V2 files), which no longer matches this sigmoid-routed fixture.
    @Test func deepSeekGatingFunction() throws {
        func scoring(_ value: UInt64?) throws -> (Router.Scoring, TransformerModel) {
            var f = try GGUFEdit("deepseek_v3")
            if let value { f.set("deepseek2.expert_gating_func", .uint(value)) } else { f.remove("deepseek2.expert_gating_func") }
            let model = try f.load()
            guard case .moe(let moe) = model.layers[1].feedForward else { throw ModelError.invalidInput("layer 1 is not MoE") }
            return (moe.routing.scoring, model)
        }
        #expect(try scoring(2).0 == .sigmoid)
        #expect(try scoring(1).0 == .softmax)
        let (absent, model) = try scoring(nil)
        #expect(absent == .softmax)
        let oracle = try Oracle("deepseek_v3")
        let logits = try model.forward(oracle.inputIds, state: model.makeState(), logits: .last)
        let ref = oracle.logits.last!
        #expect(maxAbsDiff(logits[...], ref) > 1e-2 * ref.map(abs).max()!)
    }

    /// deepseek2's YaRN as llama.cpp applies it: `yarn_log_multiplier` (0.1·mscale_all_dim) present,
    /// cos/sin unscaled and kq scaled by mscale(factor, mscale_all_dim)²; absent, cos/sin scaled by
    /// mscale(factor, 1) and kq by its square.
    @Test func deepSeekYarnScales() throws {
        let mscale = 1 + 0.1 * log(4.0)        // factor 4, mscale_all_dim 1
        var f = try GGUFEdit("deepseek_v3")
        for present in [true, false] {
            if !present { f.remove("deepseek2.rope.scaling.yarn_log_multiplier") }
            let path = f.write()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let c = try ModelRegistry.decodeDeepSeekConfig(GGUFModel.config(GGUFFile(path: path)))
            #expect(abs(Double(c.attentionScale) - mscale * mscale / 24.0.squareRoot()) < 1e-6)
            #expect(abs(Double(c.ropeAttentionFactor) - (present ? 1 : mscale)) < 1e-6)
        }
    }

    /// glm4moe, deepseek32 and glm-dsa count their NextN (MTP) blocks in block_count: they are
    /// reported, listed as unused and never run, so the decoder still matches the oracle. The NextN
    /// block is a copy of the last decoder block (for glm-dsa one with an indexer) plus `nextn.*`.
    @Test(arguments: [("glm4_moe", "glm4moe", 3), ("deepseek_v32", "deepseek32", 4), ("glm_moe_dsa", "glm-dsa", 4)])
    func nextNBlocksAreUnused(fixture: String, arch: String, layers: Int) throws {
        var f = try GGUFEdit(fixture)
        f.set("\(arch).block_count", .uint(UInt64(layers + 1)))
        f.set("\(arch).nextn_predict_layers", .uint(1))
        var mtp: [String] = []
        for t in f.tensors where t.name.hasPrefix("blk.\(layers - 1).") {
            let name = "blk.\(layers)." + t.name.dropFirst("blk.\(layers - 1).".count)
            f.tensors.append((name, t.ne, t.type, t.data))
            mtp.append(name)
        }
        for (suffix, ne) in [("eh_proj.weight", [128, 64]), ("enorm.weight", [64]), ("hnorm.weight", [64]),
                             ("shared_head_norm.weight", [64])] {
            f.addTensor("blk.\(layers).nextn.\(suffix)", ne: ne, [Float](repeating: 0.5, count: ne.reduce(1, *)))
            mtp.append("blk.\(layers).nextn.\(suffix)")
        }
        let model = try f.load()
        #expect(model.layers.count == layers)
        #expect(model.mtpLayers == 1)
        #expect(model.unusedTensors.sorted() == mtp.sorted())
        try expectMatchesOracle(model, fixture)
    }

    /// glm-dsa's `attention.indexer.types` (one flag per decoder layer, true = own indexer) and
    /// llama.cpp's default without it: every layer below a 2^20 context, GLM-5.2's pattern above.
    @Test func glmDsaIndexerTypes() throws {
        func types(_ edit: (inout GGUFEdit) -> Void) throws -> [String]? {
            var f = try GGUFEdit("glm_moe_dsa")
            edit(&f)
            let path = f.write()
            defer { try? FileManager.default.removeItem(atPath: path) }
            return try GGUFModel.config(GGUFFile(path: path)).json["indexer_types"]?.arrayValue?.compactMap(\.stringValue)
        }
        #expect(try types { _ in } == ["full", "shared", "shared", "full"])
        #expect(try types { $0.remove("glm-dsa.attention.indexer.types") } == ["full", "full", "full", "full"])
        #expect(try types {
            $0.remove("glm-dsa.attention.indexer.types")
            $0.set("glm-dsa.context_length", .uint(1 << 20))
        } == ["full", "full", "full", "shared"])
        #expect(try types { $0.set("glm-dsa.attention.indexer.types", .array([.uint(1), .uint(0), .uint(0), .uint(0)])) }
                == ["full", "shared", "shared", "shared"])
        do {
            _ = try types { $0.set("glm-dsa.attention.indexer.types", .array([.bool(true), .bool(false)])) }
            Issue.record("a 2-entry indexer.types loaded")
        } catch {
            #expect("\(error)".contains("'glm-dsa.attention.indexer.types': has 2 entries for 4 decoder layers"), "\(error)")
        }
        // Shared layers have no indexer tensors of their own.
        let model = try loadModel(directory: GGUFParityTests.root + "/glm_moe_dsa.gguf", pool: Fixtures.pool)
        let own = model.layers.map { layer -> Bool in
            if case .mla(let a) = layer.attention { return a.indexer != nil } else { return false }
        }
        #expect(own == [true, false, false, true])
    }

    /// The DSA files' YaRN as llama.cpp applies it (GGUF_ARCHS.md §6.4): glm-dsa ignores
    /// `yarn_log_multiplier`; deepseek32 reads it (0.1·m) with mscale 1, so cos/sin are scaled by
    /// mscale(f, 1)/mscale(f, m) and kq by mscale(f, 1)²; without it both are deepseek2's "absent".
    @Test(arguments: ["deepseek32", "glm-dsa"])
    func dsaYarnScales(arch: String) throws {
        func mscale(_ m: Double) -> Double { 1 + 0.1 * m * log(4.0) }   // factor 4
        var f = try GGUFEdit(arch == "glm-dsa" ? "glm_moe_dsa" : "deepseek_v32")
        f.set("\(arch).rope.scaling.type", .string("yarn"))
        f.set("\(arch).rope.scaling.factor", .float(4))
        f.set("\(arch).rope.scaling.original_context_length", .uint(64))
        for multiplier in [nil, 0.2] as [Double?] {
            if let multiplier { f.set("\(arch).rope.scaling.yarn_log_multiplier", .float(multiplier)) }
            let path = f.write()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let c = try ModelRegistry.decodeDeepSeekConfig(GGUFModel.config(GGUFFile(path: path)))
            let cosSin = arch == "deepseek32" && multiplier != nil ? mscale(1) / mscale(2) : mscale(1)
            #expect(abs(Double(c.attentionScale) - mscale(1) * mscale(1) / 24.0.squareRoot()) < 1e-6, "\(arch) \(String(describing: multiplier))")
            #expect(abs(Double(c.ropeAttentionFactor) - cosSin) < 1e-6, "\(arch) \(String(describing: multiplier))")
        }
    }

    /// Every architecture key dropped or given the wrong type, and every tensor dropped: the file
    /// loads or fails with an error naming the key or tensor, never a crash.
    @Test(arguments: ["deepseek_v3", "deepseek_v3_noq", "deepseek_v32", "glm_moe_dsa", "glm4_moe", "granite", "granitemoe"])
    func everyKeyAndTensorEditFailsCleanly(fixture: String) throws {
        let base = try GGUFEdit(fixture)
        let arch = base.metadata.first { $0.0 == "general.architecture" }!.1.stringValue!
        // (edited file, the key or tensor its error must name)
        var edits: [(GGUFEdit, String)] = []
        for (key, _) in base.metadata where key.hasPrefix(arch + ".") {
            var dropped = base
            dropped.remove(key)
            var retyped = base
            retyped.set(key, key.hasSuffix(".type") ? .uint(1) : .string("x"))
            edits += [(dropped, key), (retyped, key)]
        }
        for t in base.tensors {
            var dropped = base
            dropped.removeTensor(t.name)
            edits.append((dropped, t.name))
        }
        var failures = 0
        for (f, name) in edits {
            do { _ = try f.load() } catch {
                failures += 1
                // An optional key's default can disagree with the tensors: then a tensor is named.
                let text = "\(error)"
                #expect(text.contains(name) || text.contains("tensor 'blk."), "\(fixture) without \(name): \(error)")
            }
        }
        #expect(failures > edits.count / 2, "\(fixture): only \(failures) of \(edits.count) edits failed")
    }

    /// Each malformed file fails with an error naming the GGUF key or tensor (and never crashes).
    @Test(arguments: [
        // deepseek2
        ("deepseek_v3", "drop deepseek2.attention.kv_lora_rank", "'deepseek2.attention.kv_lora_rank': missing"),
        ("deepseek_v3", "drop deepseek2.attention.value_length_mla", "'deepseek2.attention.value_length_mla'"),
        ("deepseek_v3", "set deepseek2.attention.key_length_mla 8", "'deepseek2.attention.key_length_mla'"),
        ("deepseek_v3", "set deepseek2.expert_gating_func 4", "'deepseek2.expert_gating_func': 4 is not supported"),
        ("deepseek_v3", "set deepseek2.expert_weights_norm yes", "'deepseek2.expert_weights_norm': expected true or false"),
        ("deepseek_v3", "set deepseek2.expert_group_count 3", "'deepseek2.expert_group_count': 16 experts in 3 groups"),
        ("deepseek_v3", "set deepseek2.rope.scaling.type longrope", "'deepseek2.rope.scaling.type'"),
        ("deepseek_v3", "drop deepseek2.rope.scaling.factor", "'deepseek2.rope.scaling.factor'"),
        ("deepseek_v3", "remove blk.1.attn_v_b.weight", "'blk.1.attn_v_b.weight"),
        ("deepseek_v3", "remove blk.2.attn_k_b.weight blk.2.attn_v_b.weight", "'blk.2.attn_k_b.weight and blk.2.attn_v_b.weight"),
        ("deepseek_v3", "ne blk.0.attn_k_b.weight 24 16 4", "'blk.0.attn_k_b.weight' has ne [24, 16, 4]; expected ne [16, 24, 4]"),
        ("deepseek_v3", "ne blk.1.ffn_gate_exps.weight 64 128", "'blk.1.ffn_gate_exps.weight' has ne [64, 128]"),
        ("deepseek_v3", "remove blk.1.ffn_up_shexp.weight", "'blk.1.ffn_up_shexp.weight"),
        ("deepseek_v3", "ne blk.1.ffn_up_exps.weight 64 8 8", "'blk.1.ffn_up_exps.weight' stacks 8 experts (ne [64, 8, 8]); expert 8 is missing"),
        ("deepseek_v3_noq", "remove blk.0.attn_q.weight", "'blk.0.attn_q.weight"),
        // deepseek32, glm-dsa
        ("deepseek_v32", "drop deepseek32.expert_gating_func", "'deepseek32.expert_gating_func': missing"),
        ("deepseek_v32", "drop deepseek32.attention.indexer.top_k", "'deepseek32.attention.indexer.top_k': missing"),
        ("deepseek_v32", "set deepseek32.attention.indexer.key_length 4", "'deepseek32.attention.indexer.key_length'"),
        ("deepseek_v32", "remove blk.2.indexer.k_norm.bias", "'blk.2.indexer.k_norm.bias"),
        ("glm_moe_dsa", "set glm-dsa.attention.indexer.head_count 100000", "'glm-dsa.attention.indexer.head_count': is 100000; at most 65536"),
        ("glm_moe_dsa", "set glm-dsa.attention.indexer.top_k 4294967295", "'glm-dsa.attention.indexer.top_k': is 4294967295; at most 1048576"),
        ("glm_moe_dsa", "set glm-dsa.attention.indexer.types x", "'glm-dsa.attention.indexer.types': expected an array of true/false"),
        ("glm_moe_dsa", "set glm-dsa.attention.indexer.types 0", "'glm-dsa.attention.indexer.types': layer 0 must run its own indexer"),
        ("glm_moe_dsa", "drop glm-dsa.attention.indexer.types", "'blk.1.indexer.attn_q_b.weight"),
        ("glm_moe_dsa", "remove blk.3.indexer.proj.weight", "'blk.3.indexer.proj.weight"),
        ("glm_moe_dsa", "ne blk.0.indexer.attn_q_b.weight 40 32", "'blk.0.indexer.attn_q_b.weight' has ne [40, 32]; expected ne [40, 64]"),
        // glm4moe
        ("glm4_moe", "set glm4moe.nextn_predict_layers 3", "'glm4moe.nextn_predict_layers'"),
        ("glm4_moe", "set glm4moe.rope.dimension_count 64", "'glm4moe.rope.dimension_count'"),
        ("glm4_moe", "set glm4moe.expert_count 4", "'blk.1.exp_probs_b.bias' has ne [8]; expected ne [4]"),
        ("glm4_moe", "remove blk.2.ffn_up_exps.weight", "'blk.2.ffn_up_exps.weight"),
        ("glm4_moe", "drop glm4moe.expert_shared_count", "'glm4moe.expert_shared_count': missing"),
        // granite, granitemoe
        ("granite", "drop granite.logit_scale", "'granite.logit_scale': missing"),
        ("granite", "set granite.attention.head_count four", "'granite.attention.head_count': expected a positive integer"),
        ("granite", "set granite.rope.dimension_count 8", "'granite.rope.dimension_count'"),
        ("granite", "ne blk.1.attn_k.weight 32 64", "'blk.1.attn_k.weight' has ne [32, 64]; expected ne [64, 32]"),
        ("granitemoe", "remove blk.0.ffn_gate_exps.weight", "'blk.0.ffn_gate_exps.weight"),
        ("granitemoe", "ne blk.1.ffn_down_exps.weight 64 32 8", "'blk.1.ffn_down_exps.weight' has ne [64, 32, 8]; expected ne [32, 64, 8]"),
        ("granitemoe", "set granitemoe.expert_shared_feed_forward_length 16", "'granitemoe.expert_shared_feed_forward_length'"),
    ])
    func malformedFilesNameTheKeyOrTensor(fixture: String, edit: String, message: String) throws {
        var f = try GGUFEdit(fixture)
        let words = edit.split(separator: " ").map(String.init)
        switch words[0] {
        case "drop": f.remove(words[1])
        case "set": f.set(words[1], UInt64(words[2]).map { .uint($0) } ?? .string(words[2]))
        case "remove": for name in words.dropFirst() { f.removeTensor(name) }
        case "ne": f.setNe(words[1], words.dropFirst(2).map { Int($0)! })
        default: Issue.record("bad edit \(edit)")
        }
        do {
            _ = try f.load()
            Issue.record("\(fixture) with \(edit) loaded")
        } catch {
            #expect("\(error)".contains(message), "\(fixture) with \(edit): \(error)")
        }
    }
}
