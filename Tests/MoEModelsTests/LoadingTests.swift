import Foundation
import Testing
import MoEFormats
import MoEModels
import MoETensor

/// Copies a fixture into a fresh directory, applying `edit` to its config.json object members.
func copyFixture(_ name: String, edit: (inout [(String, JSONValue)]) -> Void = { _ in }) throws -> String {
    let d = NSTemporaryDirectory() + "moekit-load-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    for f in try FileManager.default.contentsOfDirectory(atPath: Fixtures.path(name)) where f != "config.json" {
        try FileManager.default.copyItem(atPath: Fixtures.path(name) + "/" + f, toPath: d + "/" + f)
    }
    var members = try JSONParser.parse(readFile(Fixtures.path(name) + "/config.json")).objectMembers!
    edit(&members)
    try JSONValue.object(members).serialized().write(toFile: d + "/config.json", atomically: true, encoding: .utf8)
    return d
}

func set(_ m: inout [(String, JSONValue)], _ key: String, _ v: JSONValue?) {
    m.removeAll { $0.0 == key }
    if let v { m.append((key, v)) }
}

func loadError(_ dir: String) -> String? {
    do {
        _ = try loadModel(directory: dir, pool: Fixtures.pool)
        return nil
    } catch { return "\(error)" }
}

@Suite struct LoadingTests {
    @Test func unknownModelTypeListsSupported() throws {
        let d = try copyFixture("llama") { set(&$0, "model_type", .string("bert")) }
        let e = loadError(d)
        #expect(e?.contains("unsupported model_type 'bert'") == true)
        for t in ["llama", "qwen2", "qwen3", "granite", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "granitemoe"] {
            #expect(e?.contains(t) == true)
        }
    }

    @Test func missingConfigKeyIsNamed() throws {
        let d = try copyFixture("llama") { set(&$0, "hidden_size", nil) }
        let e = loadError(d)
        #expect(e?.contains("config.json") == true && e?.contains("hidden_size") == true, "\(e ?? "")")
    }

    /// The DSA indexer's sizes from config.json are bounded as the GGUF reader bounds its keys: a
    /// huge top-k or head count is a named error at load, not an overflow at the first token.
    @Test func hugeIndexerSizesAreRefused() throws {
        for (key, value) in [("index_topk", 1_000_000_000_000_000_000), ("index_n_heads", 100_000), ("index_head_dim", 1 << 20)] {
            let d = try copyFixture("deepseek_v32") { set(&$0, key, .int(value)) }
            let e = loadError(d)
            #expect(e?.contains(key) == true && e?.contains("at most") == true, "\(key): \(e ?? "loaded")")
        }
    }

    @Test func wrongConfigTypeIsNamed() throws {
        let d = try copyFixture("llama") { set(&$0, "num_attention_heads", .string("four")) }
        #expect(loadError(d)?.contains("num_attention_heads") == true)
    }

    @Test func shapeMismatchNamesTensor() throws {
        // A config that promises more layers/width than the weights hold.
        let d = try copyFixture("mixtral") { set(&$0, "intermediate_size", .int(99)) }
        let e = loadError(d)
        #expect(e?.contains("block_sparse_moe.experts.0.w1.weight") == true && e?.contains("expected shape") == true, "\(e ?? "")")
    }

    @Test func missingTensorIsNamed() throws {
        let d = try copyFixture("qwen3_moe") { set(&$0, "num_hidden_layers", .int(5)) }
        #expect(loadError(d)?.contains("model.layers.4.") == true)
    }

    @Test func untiedHeadNeedsLmHead() throws {
        let d = try copyFixture("llama") { set(&$0, "tie_word_embeddings", .bool(false)) }
        #expect(loadError(d)?.contains("lm_head.weight") == true)
    }

    @Test func noConfig() {
        let e = loadError(NSTemporaryDirectory() + "does-not-exist-\(getpid())")
        #expect(e?.contains("no config.json") == true)
    }

    @Test func uncomputableDTypeIsNamed() throws {
        let d = NSTemporaryDirectory() + "moekit-dtype-\(getpid())"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("llama") + "/config.json", toPath: d + "/config.json")
        let tensors = try SafetensorsFile(path: Fixtures.path("llama") + "/model.safetensors").tensors.map { t -> SafetensorsWriter.Tensor in
            let bytes = Array(UnsafeRawBufferPointer(start: t.data, count: t.byteCount))
            return .init(name: t.name, dtype: t.name == "model.layers.0.self_attn.q_proj.weight" ? .i32 : t.dtype, shape: t.shape, bytes: bytes)
        }
        FileManager.default.createFile(atPath: d + "/model.safetensors", contents: Data(SafetensorsWriter.serialize(tensors)))
        let e = loadError(d)
        #expect(e?.contains("model.layers.0.self_attn.q_proj.weight") == true && e?.contains("I32") == true, "\(e ?? "")")
    }

    /// The older spellings (`rope_theta` + `rope_scaling`, `num_local_experts` for Qwen's
    /// `num_experts`) load the same model as the transformers-5 ones.
    @Test func oldAndNewConfigSpellingsAgree() throws {
        for name in ["llama", "qwen3_moe"] {
            let base = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool)
            let d = try copyFixture(name) { m in
                guard let params = m.first(where: { $0.0 == "rope_parameters" })?.1 else { return }
                var scaling = params.objectMembers!.filter { $0.0 != "rope_theta" }
                let theta = params["rope_theta"]!
                set(&m, "rope_parameters", nil)
                set(&m, "rope_theta", theta)
                if scaling.contains(where: { $0.0 == "rope_type" && $0.1 != .string("default") }) {
                    scaling = scaling.map { $0.0 == "rope_type" ? ("type", $0.1) : $0 }
                    set(&m, "rope_scaling", .object(scaling))
                }
                if let e = m.first(where: { $0.0 == "num_experts" })?.1 {
                    set(&m, "num_experts", nil)
                    set(&m, "num_local_experts", e)
                }
            }
            let config = try String(contentsOfFile: d + "/config.json", encoding: .utf8)
            #expect(!config.contains("rope_parameters"))
            let other = try loadModel(directory: d, pool: Fixtures.pool)
            #expect(other.config.inverseFrequencies == base.config.inverseFrequencies, "\(name)")
            let ids: [Int32] = [1, 2, 3, 4]
            let a = try base.forward(ids, state: base.makeState(), logits: .all)
            let b = try other.forward(ids, state: other.makeState(), logits: .all)
            #expect(a == b, "\(name)")
        }
    }

    @Test func outOfVocabularyTokenIsRejected() throws {
        let model = try loadModel(directory: Fixtures.path("llama"), pool: Fixtures.pool)
        #expect(throws: ModelError.self) { try model.forward([1, Int32(model.config.vocabSize)], state: model.makeState()) }
        #expect(throws: ModelError.self) { try model.forward([-1], state: model.makeState()) }
    }

    @Test func weightsAreMappedNotCopied() throws {
        let model = try loadModel(directory: Fixtures.path("mixtral"), pool: Fixtures.pool)
        guard case .moe(let moe) = model.layers[0].feedForward,
              let owner = moe.experts[0].gate.owner as? MappedFile else {
            Issue.record("expert weights are not backed by a mapped file")
            return
        }
        let base = owner.base!
        #expect(moe.experts[0].gate.base >= base && moe.experts[0].gate.base < base + owner.size)
    }

    @Test func demoModelLoadsAndCountsParameters() throws {
        let d = NSTemporaryDirectory() + "moekit-demo-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try DemoModel.configJSON.write(toFile: d + "/config.json", atomically: true, encoding: .utf8)
        let tensors = try DemoModel.tensors()
        FileManager.default.createFile(atPath: d + "/model.safetensors", contents: Data(SafetensorsWriter.serialize(tensors)))
        let model = try loadModel(directory: d, pool: Fixtures.pool)
        let counts = model.parameterCounts()
        // Every stored element is counted once.
        #expect(counts.total == tensors.reduce(0) { $0 + $1.shape.reduce(1, *) })
        // Active: all but (32 - 4) of 32 experts in the 3 MoE layers; each expert 3 * 128 * 256.
        #expect(counts.total - counts.activePerToken == 3 * 28 * 3 * 128 * 256)
    }
}

@Suite struct MTPTests {
    /// A checkpoint with a multi-token-prediction layer after the last decoder layer loads, never
    /// binds that layer, reports it, and gives the same logits as without it.
    @Test func mtpLayersAreReportedNotRun() throws {
        let d = try copyFixture("glm_moe_dsa") { set(&$0, "num_nextn_predict_layers", .int(1)) }
        let src = try SafetensorsFile(path: Fixtures.path("glm_moe_dsa") + "/model.safetensors")
        var tensors = src.tensors.map { t in
            SafetensorsWriter.Tensor(name: t.name, dtype: t.dtype, shape: t.shape,
                                     bytes: Array(UnsafeRawBufferPointer(start: t.data, count: t.byteCount)))
        }
        tensors.append(.init(name: "model.layers.4.eh_proj.weight", shape: [64, 128], values: [Float](repeating: 0.5, count: 64 * 128)))
        tensors.append(.init(name: "model.layers.4.enorm.weight", shape: [64], values: [Float](repeating: 1, count: 64)))
        FileManager.default.createFile(atPath: d + "/model.safetensors", contents: Data(SafetensorsWriter.serialize(tensors)))
        let model = try loadModel(directory: d, pool: Fixtures.pool)
        #expect(model.mtpLayers == 1)
        #expect(model.unusedTensors == ["model.layers.4.eh_proj.weight", "model.layers.4.enorm.weight"])
        let base = try loadModel(directory: Fixtures.path("glm_moe_dsa"), pool: Fixtures.pool)
        #expect(base.unusedTensors.isEmpty)
        let ids: [Int32] = [3, 1, 4, 1, 5]
        #expect(try model.forward(ids, state: model.makeState(), logits: .all) == base.forward(ids, state: base.makeState(), logits: .all))
    }
}

@Suite struct KimiTests {
    /// Kimi-K2 ships `model_type: kimi_k2` with DeepSeek-V3's architecture (its own code is a copy of
    /// it): the DeepSeek-V3 fixture relabelled runs identically.
    @Test func kimiK2IsDeepSeekV3() throws {
        let d = try copyFixture("deepseek_v3") { set(&$0, "model_type", .string("kimi_k2")) }
        let kimi = try loadModel(directory: d, pool: Fixtures.pool)
        let base = try loadModel(directory: Fixtures.path("deepseek_v3"), pool: Fixtures.pool)
        #expect(kimi.config.modelType == "kimi_k2")
        let ids: [Int32] = [5, 9, 14, 2, 7, 1]
        #expect(try kimi.forward(ids, state: kimi.makeState(), logits: .all) == base.forward(ids, state: base.makeState(), logits: .all))
    }
}

@Suite struct FP8ScaleAlignmentTests {
    /// The kernels read FP8 block scales as floats in place: a file whose scales sit at an odd byte
    /// offset (here after a one-byte tensor) is refused by tensor name, not read misaligned.
    @Test func misalignedScalesAreRefused() throws {
        let d = try copyFixture("deepseek_v3_fp8")
        let src = try SafetensorsFile(path: Fixtures.path("deepseek_v3_fp8") + "/model.safetensors")
        let tensors = [SafetensorsWriter.Tensor(name: "padding", dtype: .u8, shape: [1], bytes: [0])] + src.tensors.map { t in
            SafetensorsWriter.Tensor(name: t.name, dtype: t.dtype, shape: t.shape,
                                     bytes: Array(UnsafeRawBufferPointer(start: t.data, count: t.byteCount)))
        }
        FileManager.default.createFile(atPath: d + "/model.safetensors", contents: Data(SafetensorsWriter.serialize(tensors)))
        #expect { _ = try loadModel(directory: d, pool: Fixtures.pool) } throws: {
            "\($0)".contains("_scale_inv") && "\($0)".contains("aligned")
        }
    }
}
