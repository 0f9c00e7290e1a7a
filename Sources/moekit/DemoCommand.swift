import ArgumentParser
import Foundation
import MoEAccounting
import MoEFormats
import MoEModels
import MoERuntime
import MoETensor

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "GLM-5.2's predicted costs, then MoEKit's own small MoE model run with every token measured.")

    @Option(help: "Where to write the demo checkpoint.")
    var dir = NSTemporaryDirectory() + "moekit-demo"

    @Option(name: .customLong("max-tokens"), help: "Tokens to generate.")
    var maxTokens = 24

    @Option(name: [.customShort("t"), .long], help: "Threads (default: all cores).")
    var threads: Int?

    func run() throws {
        guard maxTokens >= 1 else { throw ModelError.invalidInput("--max-tokens must be at least 1") }
        // 1. The seed's model, predicted from its config.json alone.
        let glm = Presets.named("glm-5.2")!
        let glmReport = InspectReport(name: glm.name, moe: CostModel.report(try Inventories.build(glm.reader())),
                                      published: (glm.publishedTotalB, glm.publishedActiveB))
        print("== 1. Predicted from config.json alone (moekit inspect glm-5.2) ==\n")
        print(glmReport.table())

        // 2. A small MoE model MoEKit makes itself, run for real.
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try DemoModel.configJSON.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let bytes = SafetensorsWriter.serialize(try DemoModel.tensors(), metadata: [("format", "pt")])
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        let model = try loadModel(directory: dir, pool: try makePool(threads))
        let predicted = InspectReport(name: "moekit demo model", moe: CostModel.report(try Inventories.build(ConfigReader(path: dir + "/config.json"))))
        let p = predicted.moe
        print("== 2. MoEKit's demo model: random \(p.modelType) weights written to \(dir), mapped in place (BF16) ==\n")
        print("predicted: \(humanParams(p.totalParams)) parameters held, \(humanParams(p.activeParamsCompute)) active per token (with output head), \(p.routedExperts) experts of which \(p.activeExperts) fire, \(humanCount(p.flopsPerToken, unit: "FLOP")) per token at context 0\n")

        let prompt: [Int32] = [1, 17, 256, 42, 901, 7]
        var opts = GenerationOptions()
        opts.maxTokens = maxTokens
        let trace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
        let (result, rows) = try generateWithStats(model: model, configPath: dir + "/config.json", prompt: prompt,
                                                   options: opts, trace: trace)
        print("prompt ids \(prompt.map(String.init).joined(separator: " ")) -> greedy \(result.tokens.map(String.init).joined(separator: " "))\n")
        print("measured per decoded token by the kernels / predicted from config.json:")
        print(MeasuredTable.text(rows, routedExperts: model.routedExpertCount))
        let stats = ExpertStatistics(experts: trace.experts, expertCount: model.routedExpertCount, layerIndices: model.moeLayerIndices)
        for l in stats.layers {
            print("layer \(l.layer): \(l.distinctUsed)/\(stats.experts) experts fired over \(stats.positions) positions, routing entropy \(format(l.entropyBits, digits: 2)) of \(format(log2(Double(stats.experts)), digits: 2)) bits, load CV \(format(l.coefficientOfVariation, digits: 2)), next-token reuse \(format(100 * l.reuseRate))%")
        }
        let agree = rows.filter { !$0.disagrees }.count
        let s = result.stats
        print("\n\(agree) of \(rows.count) tokens: measured equals predicted within 1%. Prefill \(format(s.prefillTokensPerSecond)) tok/s, decode \(format(s.decodeTokensPerSecond)) tok/s on \(model.pool.threadCount) threads.")
    }
}

func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out += "," }
        out.append(ch)
    }
    return out
}
