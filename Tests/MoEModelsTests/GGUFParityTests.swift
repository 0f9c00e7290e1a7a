import Foundation
import Testing
import MoEModels
import MoERuntime

/// The tiny oracle models converted to GGUF the way llama.cpp's converter lays them out
/// (scripts/oracle/tiny_to_gguf.py: llama q/k row permutation, stacked experts, `rope_freqs` for
/// llama3 scaling) run from the GGUF exactly as from safetensors: the transformers logits, the same
/// greedy tokens and the same experts (f32 activations, as in ParityTests).
@Suite struct GGUFParityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/gguf").path

    @Test(arguments: ["llama", "llama_f16", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "olmoe",
                     "deepseek_v3", "deepseek_v3_noq", "deepseek_v32", "glm_moe_dsa", "glm4_moe", "granite", "granitemoe"])
    func ggufMatchesTransformers(name: String) throws {
        let path = Self.root + "/\(name).gguf"
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let model = try loadModel(directory: path, pool: Fixtures.pool, activations: .f32)
        try expectMatchesOracle(model, name)
        #expect(model.unusedTensors.isEmpty, "\(name): \(model.unusedTensors)")
        #expect(model.mtpLayers == 0)
    }

    /// DSA from GGUF (deepseek32, glm-dsa): each layer's indexer picks, or a "shared" layer reuses,
    /// the positions transformers chose, over prompt + greedy tokens, in one pass and token by token.
    @Test(arguments: ["deepseek_v32", "glm_moe_dsa"])
    func ggufSparseAttentionChoicesMatchTransformers(name: String) throws {
        let oracle = try Oracle(name)
        let expected = try #require(oracle.indexerTopK)
        let model = try loadModel(directory: Self.root + "/\(name).gguf", pool: Fixtures.pool, activations: .f32)
        let ids = oracle.inputIds + oracle.greedy
        let trace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
        _ = try model.forward(ids, state: model.makeState(), logits: .last, trace: trace)
        let stepTrace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
        let state = model.makeState()
        for t in ids { _ = try model.forward([t], state: state, trace: stepTrace) }
        #expect(trace.sparseAttention.count == expected.count)
        for (l, positions) in expected.enumerated() {
            #expect(trace.sparseAttention[l] == positions, "\(name) layer \(l)")
            #expect(stepTrace.sparseAttention[l] == positions, "\(name) layer \(l), token by token")
        }
    }
}
