import Foundation
import Testing
import MoEFormats
import MoEModels
import MoETensor

/// The GGUF writer, `moekit quantize` and `moekit synthesize` (the library side).
@Suite struct QuantizeTests {
    static func tmp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("moekit-\(getpid())-\(name)").path
    }

    /// Every value type and tensor survives a write and a read.
    @Test func writerRoundTrip() throws {
        let w = GGUFWriter()
        let values: [(String, GGUFValue, GGUFValueType)] = [
            ("u8", .uint(200), GGUFValueType(type: 0)), ("i8", .int(-5), GGUFValueType(type: 1)),
            ("u16", .uint(60000), GGUFValueType(type: 2)), ("i16", .int(-3000), GGUFValueType(type: 3)),
            ("u32", .uint(4_000_000_000), .u32), ("i32", .int(-2_000_000_000), .i32), ("f32", .float(0.5), .f32),
            ("bool", .bool(true), .bool), ("str", .string("héllo"), .string), ("u64", .uint(1 << 40), .u64),
            ("i64", .int(-(1 << 40)), GGUFValueType(type: 11)), ("f64", .float(0.1), GGUFValueType(type: 12)),
            ("strings", .array([.string("a"), .string("")]), .array(8)), ("ints", .array([.int(1), .int(-1)]), .array(5)),
            ("empty", .array([]), .array(8)),
        ]
        for (k, v, t) in values { w.set(k, v, as: t) }
        try w.addTensor(name: "a", dims: [3, 2], type: 0)
        try w.addTensor(name: "b", dims: [32, 2], type: 8)
        let path = Self.tmp("roundtrip.gguf")
        defer { unlink(path) }
        try w.write(to: path) { i, emit in
            let bytes = (0..<w.tensors[i].byteCount).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            try bytes.withUnsafeBytes { try emit($0) }
        }
        let g = try GGUFFile(path: path)
        for (k, v, t) in values {
            #expect(g[k] == v, "\(k)")
            #expect(g.metadataTypes[k] == t, "\(k)")
        }
        #expect(g.tensors.map(\.name) == ["a", "b"] && g.tensors.map(\.dims) == [[3, 2], [32, 2]])
        for (i, t) in g.tensors.enumerated() {
            let raw = g.file.bytes(at: t.offset, count: t.byteCount)
            #expect(Array(raw) == (0..<t.byteCount).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) })
        }
        // A value that does not fit its type is an error naming the key, and no file is left.
        let bad = GGUFWriter()
        bad.set("general.block", .int(-1), as: .u32)
        #expect(throws: FormatError.self) { try bad.write(to: path + "2") { _, _ in } }
        #expect(!FileManager.default.fileExists(atPath: path + "2") && !FileManager.default.fileExists(atPath: path + "2.part"))
    }

    /// Re-quantising a GGUF keeps its metadata and value types, quantises matrices (norms, routers
    /// and vectors kept), applies overrides, and the model still matches the oracle closely.
    @Test func quantizeTinyMoE() throws {
        let src = try GGUFFile(path: GGUFParityTests.root + "/qwen3_moe.gguf")
        let out = Self.tmp("qwen3_moe-q8.gguf")
        defer { unlink(out) }
        let plan = QuantizePlan(target: .q8_0, overrides: [("attn_v", .f16)])
        let report = try Quantizer.quantize(src, to: out, plan: plan, pool: Fixtures.pool)
        #expect(report.tensors.count == src.tensors.count)
        let g = try GGUFFile(path: out)
        for (k, v) in src.metadata where k != "general.file_type" {
            #expect(g[k] == v && g.metadataTypes[k] == src.metadataTypes[k], "\(k)")
        }
        #expect(g["general.file_type"]?.intValue == 7)
        for (a, b) in zip(src.tensors, g.tensors) {
            #expect(a.name == b.name && a.dims == b.dims)
            let expected: String
            if a.name.contains("attn_v") && a.dims.count > 1 { expected = "F16" }
            else if a.dims.count == 1 || a.name.hasSuffix("_norm.weight") || a.name.contains("ffn_gate_inp") { expected = a.typeName }
            else { expected = "Q8_0" }
            #expect(b.typeName == expected, "\(b.name)")
            // Values within the format's error of the originals.
            let n = a.dims.reduce(1, *)
            var x = [Float](repeating: 0, count: n), y = x
            convertToFloat(src.file.bytes(at: a.offset, count: a.byteCount).baseAddress!, dtype: GGMLType.dtype(a.type)!, count: n, into: &x)
            convertToFloat(g.file.bytes(at: b.offset, count: b.byteCount).baseAddress!, dtype: GGMLType.dtype(b.type)!, count: n, into: &y)
            let amax = x.map(abs).max()!
            #expect(zip(x, y).allSatisfy { abs($0 - $1) <= amax / 127 }, "\(a.name)")
        }
        // The quantised model computes the same function as its weights dequantised: written back
        // as F32 (quantize with target F32) and run with f32 activations, the logits agree.
        let back = Self.tmp("qwen3_moe-back.gguf")
        defer { unlink(back) }
        _ = try Quantizer.quantize(g, to: back, plan: QuantizePlan(target: .f32), pool: Fixtures.pool)
        #expect(try GGUFFile(path: back).tensors.allSatisfy { $0.typeName == "F32" })
        let ids = try Oracle("qwen3_moe").inputIds
        let q = try loadModel(directory: out, pool: Fixtures.pool, activations: .f32)
        let f = try loadModel(directory: back, pool: Fixtures.pool)
        let a = try q.forward(ids, state: q.makeState(), logits: .all)
        let b = try f.forward(ids, state: f.makeState(), logits: .all)
        let scale = b.map(abs).max()!
        #expect(maxAbsDiff(a[...], b) <= 1e-5 * scale)
    }

    /// Per-tensor types: overrides first, kept tensors, and llama.cpp's fallbacks for rows that are
    /// not whole blocks.
    @Test func planChoosesTypes() {
        let plan = QuantizePlan(target: .q4_K, overrides: [("ffn_*_exps", .q8_0), ("output.weight", .q6_K)])
        #expect(plan.type(for: "blk.0.attn_q.weight", dims: [512, 512], current: .f32) == .q4_K)
        #expect(plan.type(for: "blk.0.attn_q.weight", dims: [576, 576], current: .f32) == .q5_0)
        #expect(plan.type(for: "blk.0.attn_q.weight", dims: [48, 48], current: .f32) == .f16)
        #expect(plan.type(for: "blk.0.ffn_up_exps.weight", dims: [512, 128, 8], current: .f32) == .q8_0)
        #expect(plan.type(for: "output.weight", dims: [576, 100], current: .f32) == .q8_0)   // Q6_K falls back
        #expect(plan.type(for: "blk.0.attn_norm.weight", dims: [512], current: .f32) == nil)
        #expect(plan.type(for: "blk.0.ffn_gate_inp.weight", dims: [512, 8], current: .f32) == nil)
        #expect(plan.type(for: "blk.0.attn_k.weight", dims: [512, 64], current: .q4_K) == nil)   // already Q4_K
    }

    /// A random model in the shape of a config loads back with that config.
    @Test func synthesizeLoads() throws {
        let json = """
        {"model_type": "qwen3_moe", "hidden_size": 256, "num_hidden_layers": 2, "intermediate_size": 512,
         "moe_intermediate_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
         "vocab_size": 300, "num_experts": 8, "num_experts_per_tok": 2, "mlp_only_layers": [1]}
        """
        let cfg = try ConfigReader(json: JSONParser.parse(Array(json.utf8)), file: "test")
        let out = Self.tmp("synth.gguf")
        defer { unlink(out) }
        _ = try Quantizer.synthesize(config: cfg, to: out, plan: QuantizePlan(target: .q4_K), seed: 3, pool: Fixtures.pool)
        let model = try loadModel(directory: out, pool: Fixtures.pool)
        #expect(model.config.hidden == 256 && model.layers.count == 2 && model.config.vocabSize == 300)
        #expect(model.moeLayerIndices == [0])
        let g = try GGUFFile(path: out)
        #expect(g.tensors.first { $0.name == "blk.0.ffn_up_exps.weight" }?.typeName == "Q4_K")
        #expect(g.tensors.first { $0.name == "blk.0.attn_q_norm.weight" }?.typeName == "F32")
        let logits = try model.forward([1, 2, 3], state: model.makeState(), logits: .last)
        #expect(logits.count == 300 && logits.allSatisfy(\.isFinite))
    }
}

/// `moekit quantize` from a Hugging Face checkpoint: the tiny fixtures written as GGUF equal the
/// files of scripts/oracle/tiny_to_gguf.py (itself checked against llama.cpp's converter) tensor for
/// tensor and key for key, and run to the checkpoint's logits.
@Suite struct ConvertTests {
    @Test(arguments: ["llama", "llama_f16", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "olmoe"])
    func convertedLikeLlamaCpp(name: String) throws {
        let out = QuantizeTests.tmp("conv-\(name).gguf")
        defer { unlink(out) }
        _ = try Quantizer.convert(directory: Fixtures.path(name), to: out, plan: QuantizePlan(target: .f32), pool: Fixtures.pool)
        let ours = try GGUFFile(path: out), ref = try GGUFFile(path: GGUFParityTests.root + "/\(name).gguf")
        for (k, v) in ref.metadata where !["general.name", "general.size_label", "general.file_type"].contains(k) {
            #expect(ours[k] == v, "\(name): \(k)")
            #expect(ours.metadataTypes[k] == ref.metadataTypes[k], "\(name): type of \(k)")
        }
        #expect(Set(ours.tensors.map(\.name)) == Set(ref.tensors.map(\.name)), "\(name)")
        for t in ref.tensors {
            guard let o = ours.tensors.first(where: { $0.name == t.name }) else { continue }
            #expect(o.dims == t.dims, "\(name): \(t.name)")
            let n = t.dims.reduce(1, *)
            var a = [Float](repeating: 0, count: n), b = a
            convertToFloat(ref.file.bytes(at: t.offset, count: t.byteCount).baseAddress!, dtype: GGMLType.dtype(t.type)!, count: n, into: &a)
            convertToFloat(ours.file.bytes(at: o.offset, count: o.byteCount).baseAddress!, dtype: GGMLType.dtype(o.type)!, count: n, into: &b)
            #expect(a == b, "\(name): \(t.name)")
        }
        let oracle = try Oracle(name)
        let model = try loadModel(directory: out, pool: Fixtures.pool)
        let V = model.config.vocabSize
        let logits = try model.forward(oracle.inputIds, state: model.makeState(), logits: .all)
        for (p, ref) in oracle.logits.enumerated() {
            #expect(maxAbsDiff(logits[(p * V)..<((p + 1) * V)], ref) <= 1e-4 * ref.map(abs).max()!, "\(name) position \(p)")
        }
    }
}

extension QuantizeTests {
    /// A config with an absurd size is refused by key before anything is allocated.
    @Test func synthesizeRefusesHugeSizes() throws {
        let json = """
        {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 1, "intermediate_size": 128,
         "num_attention_heads": 4, "vocab_size": 1099511627776}
        """
        let cfg = try ConfigReader(json: JSONParser.parse(Array(json.utf8)), file: "config.json")
        #expect { _ = try Quantizer.synthesize(config: cfg, to: Self.tmp("huge.gguf"), plan: QuantizePlan(target: .q8_0), seed: 1, pool: Fixtures.pool) }
            throws: { "\($0)".contains("vocab_size") }
        // Sizes each under 2^24 whose product (the stacked experts) would overflow or be absurd.
        let moe = """
        {"model_type": "qwen3_moe", "hidden_size": 16000000, "num_hidden_layers": 1, "intermediate_size": 128,
         "num_attention_heads": 4, "vocab_size": 64, "num_experts": 16000000, "num_experts_per_tok": 2,
         "moe_intermediate_size": 16000000}
        """
        let big = try ConfigReader(json: JSONParser.parse(Array(moe.utf8)), file: "config.json")
        #expect { _ = try Quantizer.synthesize(config: big, to: Self.tmp("huge-moe.gguf"), plan: QuantizePlan(target: .q8_0), seed: 1, pool: Fixtures.pool) }
            throws: { "\($0)".contains("num_experts") && "\($0)".contains("2^40") }
    }
}
