import Foundation
import Testing
import MoEAccounting
import MoEFormats
import MoEModels

let tinyRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/tiny").path
let tinyNames = ["llama", "llama_f16", "qwen2", "qwen3", "granite", "mixtral", "qwen2_moe", "qwen3_moe",
                 "qwen3_moe_step2", "olmoe", "granitemoe",
                 "deepseek_v3", "deepseek_v3_noq", "glm4_moe", "glm_moe_dsa", "deepseek_v3_fp8", "glm_moe_dsa_fp8", "deepseek_v32"]

func tinyInventory(_ name: String) throws -> ModelInventory {
    try Inventories.build(ConfigReader(path: tinyRoot + "/\(name)/config.json"))
}

@Suite struct InventoryTests {
    /// The calculator, from config.json alone, lists exactly the tensors the checkpoint stores.
    @Test(arguments: tinyNames)
    func inventoryEqualsCheckpoint(name: String) throws {
        let inv = try tinyInventory(name)
        let dir = try TensorDirectory(modelDirectory: tinyRoot + "/\(name)")
        let predicted = Dictionary(uniqueKeysWithValues: (inv.tensors + inv.mtpTensors).map { ($0.name, $0.shape) })
        // FP8 block scales are storage, not parameters.
        let names = dir.names.filter { !$0.hasSuffix("_scale_inv") }
        let stored = Dictionary(uniqueKeysWithValues: names.map { ($0, dir[$0]!.shape) })
        #expect(predicted == stored, "\(name): missing \(Set(stored.keys).subtracting(predicted.keys).sorted()), extra \(Set(predicted.keys).subtracting(stored.keys).sorted())")
        let buffers = inv.tensors.filter(\.isBuffer).reduce(0) { $0 + $1.count }
        let elements = names.reduce(0) { $0 + dir[$1]!.elementCount } - buffers
        #expect(CostModel.report(inv).checkpointParams == elements)
    }

    /// Active parameters by hand for the tiny Mixtral (hidden 64, 2 layers, 4 heads of 16, 2 KV heads,
    /// 8 experts of width 32, top-2, vocab from its config, untied).
    @Test func handComputedMixtral() throws {
        let inv = try tinyInventory("mixtral")
        let r = CostModel.report(inv)
        let V = inv.vocabSize, H = 64
        let attention = H * H + 2 * (32 * H) + H * H            // q, k, v, o
        let norms = 2 * H
        let router = 8 * H
        let expert = 3 * 32 * H
        let perLayerActive = attention + norms + router + 2 * expert
        let core = 2 * perLayerActive + H                        // + final norm
        #expect(r.activeParamsCore == core)
        #expect(r.activeParamsCompute == core + V * H)
        #expect(r.activeParamsAll == core + 2 * V * H)
        #expect(r.totalParams == core - 2 * 2 * expert + 2 * 8 * expert + 2 * V * H)
        #expect(r.moeLayers == 2 && r.routedExperts == 8 && r.activeExperts == 2)
        #expect(r.flopsPerToken == 2 * Double(r.activeParamsCompute))   // context 0
        // KV: 2 layers × (k + v) × 2 heads × 16 dims × 2 bytes.
        #expect(r.kvBytesPerToken == 2 * 2 * 2 * 16 * 2)
    }

    /// Tied embeddings: the head is the embedding, counted once in the total and once in compute.
    @Test func handComputedTiedQwen3() throws {
        let inv = try tinyInventory("qwen3")
        #expect(inv.tiedEmbeddings)
        let r = CostModel.report(inv)
        #expect(r.lmHeadParams == 0)
        #expect(r.activeParamsCore == r.totalParams - r.embeddingParams)
        #expect(r.activeParamsCompute == r.totalParams)
        #expect(r.activeParamsAll == r.totalParams)
    }

    /// Attention FLOPs grow with context; the GQA term is 2·heads·(d_k + d_v)·L per layer.
    @Test func attentionFlopsByHand() throws {
        let inv = try tinyInventory("llama")   // 4 heads of 16, layers from config
        var o = CostOptions()
        o.context = 100
        let r = CostModel.report(inv, options: o)
        let layers = inv.layers.count
        #expect(r.attentionFlopsPerToken == Double(layers * 2 * 4 * (16 + 16) * 100))
        // Prefill average over positions 1...100 is (101/2)/100 of the decode term at 100.
        #expect(abs((r.prefillFlopsPerToken - 2 * Double(r.activeParamsCompute)) - r.attentionFlopsPerToken * 101 / 200) < 1e-6)
    }
}

/// Sizes no model has (a hostile or corrupt config) are refused by key before anything is counted,
/// instead of overflowing 64-bit arithmetic.
@Suite struct HostileSizeTests {
    @Test(arguments: [("hidden_size", 1 << 40), ("num_attention_heads", 1 << 62), ("intermediate_size", Int.max)])
    func hugeSizeIsRefusedByKey(key: String, value: Int) throws {
        var members: [(String, JSONValue)] = [
            ("model_type", .string("llama")), ("hidden_size", .int(64)), ("num_hidden_layers", .int(2)),
            ("intermediate_size", .int(128)), ("num_attention_heads", .int(4)), ("vocab_size", .int(100)),
        ]
        members.removeAll { $0.0 == key }
        members.append((key, .int(value)))
        let r = ConfigReader(json: .object(members), file: "config.json")
        #expect { try Inventories.build(r) } throws: { "\($0)".contains(key) }
        // Many layers of many experts at the largest allowed width: an estimate past 2^60 is refused too.
        let wide = ConfigReader(json: .object([
            ("model_type", .string("qwen3_moe")), ("hidden_size", .int(1 << 24)), ("num_hidden_layers", .int(1 << 20)),
            ("intermediate_size", .int(1 << 24)), ("moe_intermediate_size", .int(1 << 24)), ("num_attention_heads", .int(8)),
            ("vocab_size", .int(100)), ("num_experts", .int(1 << 20)), ("num_experts_per_tok", .int(2)),
        ]), file: "config.json")
        #expect(throws: (any Error).self) { try Inventories.build(wide) }
    }
}
