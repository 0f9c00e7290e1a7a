import Foundation
import Testing
import MoEAccounting
import MoEFormats
import MoEModels

/// Exact counts from transformers (scripts/oracle/param_counts.py, models built on the meta device).
let paramOracle: JSONValue = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/accounting/param_counts.json").path
    return try! JSONParser.parse(readFile(path))["models"]!
}()

/// `[name pattern, shape] -> count`, with layer and expert indices replaced as the oracle does.
func patterns(_ ts: [TensorSpec]) -> [String: Int] {
    var out: [String: Int] = [:]
    for t in ts {
        var parts = t.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        for i in parts.indices.dropFirst() where Int(parts[i]) != nil {
            if parts[i - 1] == "layers" { parts[i] = "{L}" } else if parts[i - 1] == "experts" { parts[i] = "{E}" }
        }
        out[parts.joined(separator: ".") + " \(t.shape)", default: 0] += 1
    }
    return out
}

func oraclePatterns(_ v: JSONValue?) -> [String: Int] {
    var out: [String: Int] = [:]
    for row in v?.arrayValue ?? [] {
        let r = row.arrayValue!
        let shape = r[1].arrayValue!.map { $0.intValue! }
        out[r[0].stringValue! + " \(shape)", default: 0] += r[2].intValue!
    }
    return out
}

@Suite struct PresetTests {
    @Test(arguments: Presets.names)
    func countsEqualTransformers(preset: String) throws {
        let p = Presets.named(preset)!
        let stem = String(p.file.dropLast(5))
        let o = try #require(paramOracle[stem], "no oracle entry for \(stem)")
        let inv = try Inventories.build(p.reader())
        let r = CostModel.report(inv)
        #expect(r.totalParams == o["total_params"]!.intValue!, "\(preset) total")
        #expect(r.activeParamsCore == o["active_params_core"]!.intValue!, "\(preset) core")
        #expect(r.activeParamsCompute == o["active_params_compute"]!.intValue!, "\(preset) compute")
        #expect(r.activeParamsAll == o["active_params_all"]!.intValue!, "\(preset) all")
        #expect(r.checkpointParams == o["checkpoint_params"]!.intValue!, "\(preset) checkpoint")
        #expect(r.routedExpertParams == o["routed_expert_params"]!.intValue!, "\(preset) routed")
        #expect(r.moeLayers == o["moe_layers"]!.intValue!, "\(preset) moe layers")
        // Tensor by tensor, under the checkpoint's names (Llama 4's release adds a
        // `language_model.` prefix that the text-model names leave out).
        let ours = patterns(inv.tensors), theirs = oraclePatterns(o["hub_tensors"])
        let missing = theirs.filter { ours[$0.key] != $0.value }.keys.sorted()
        let extra = ours.filter { theirs[$0.key] != $0.value }.keys.sorted()
        #expect(missing.isEmpty && extra.isEmpty, "\(preset): oracle-only \(missing.prefix(5)), ours-only \(extra.prefix(5))")
        if let mtp = o["mtp"]?["hub_tensors"] {
            #expect(patterns(inv.mtpTensors) == oraclePatterns(mtp), "\(preset) MTP tensors")
        }
    }

    /// The seed's table: GLM-5.2 holds ~744B parameters, ~40B fire per token (Zhipu's count: no
    /// embedding, no head), ~1.49 TFLOP if dense versus ~80 GFLOP, ~744 GB at FP8, ~18x less compute.
    @Test func glm52ReproducesTheSeed() throws {
        let p = Presets.named("glm-5.2")!
        let report = InspectReport(name: p.name, moe: CostModel.report(try Inventories.build(p.reader())))
        let r = report.moe
        #expect(abs(Double(r.totalParams) / 1e9 - 744) < 1)
        #expect(abs(Double(r.activeParamsCore) / 1e9 - 40) < 1)
        #expect(abs(report.dense.flopsPerToken / 1e12 - 1.49) < 0.01)
        #expect(abs(r.flopsPerToken / 1e9 - 80) < 2)
        let fp8 = r.weightBytes.first { $0.0 == .fp8 }!.1
        #expect(abs(Double(fp8) / 1e9 - 744) < 744 * 0.03)   // 1 byte/param + block scales + 16-bit norms
        #expect(abs(report.computeRatio - 18.5) < 0.5)
        // MLA caches the compressed latent: (kv_lora_rank + qk_rope_head_dim) per layer per token,
        // plus the DSA indexer's keys on the 21 "full" layers.
        #expect(r.kvBytesPerToken == 78 * (512 + 64) * 2 + 21 * 128 * 2)
    }

    @Test func unknownModelTypeListsSupported() {
        let r = ConfigReader(json: .object([("model_type", .string("bert"))]), file: "c.json")
        do { _ = try Inventories.build(r); Issue.record("accepted") } catch {
            #expect("\(error)".contains("glm_moe_dsa") && "\(error)".contains("unsupported model_type 'bert'"))
        }
    }
}

@Suite struct EngineConfigTests {
    /// The engine's config decoder accepts the public configs of the DeepSeek/GLM family as shipped.
    @Test(arguments: ["glm-5.2", "glm-5.1", "glm-5", "glm-4.7", "glm-4.5-air", "deepseek-v3", "deepseek-r1", "deepseek-v3.2", "kimi-k2"])
    func deepSeekFamilyConfigsDecode(preset: String) throws {
        let reader = try Presets.named(preset)!.reader()
        let c = try ModelRegistry.decodeDeepSeekConfig(reader)
        #expect(c.vocabSize > 100_000)
        if c.modelType == "glm_moe_dsa" {
            #expect(c.mla?.kvLoraRank == 512 && c.dsa?.topK == 2048 && c.ropeInterleaved)
        }
        if preset.hasPrefix("deepseek") || preset == "kimi-k2" {
            // YaRN: the attention scale carries mscale(factor, 1)^2 = (0.1 ln factor + 1)^2.
            let factor = try #require(reader.json["rope_scaling"]?["factor"]?.doubleValue)
            let m = 0.1 * log(factor) + 1
            #expect(abs(Double(c.attentionScale) - m * m / (192.0).squareRoot()) < 1e-6)
        }
    }
}
