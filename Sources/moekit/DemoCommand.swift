import ArgumentParser
import Foundation
import MoEFormats
import MoEModels
import MoERuntime
import MoETensor

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create MoEKit's built-in random MoE model, run it, and show which experts fire per token.")

    @Option(help: "Where to write the demo checkpoint.")
    var dir = NSTemporaryDirectory() + "moekit-demo"

    @Option(name: .customLong("max-tokens"), help: "Tokens to generate.")
    var maxTokens = 12

    @Option(name: [.customShort("t"), .long], help: "Threads (default: all cores).")
    var threads: Int?

    func run() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try DemoModel.configJSON.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let bytes = SafetensorsWriter.serialize(try DemoModel.tensors(), metadata: [("format", "pt")])
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))

        let model = try loadModel(directory: dir, pool: try makePool(threads))
        let c = model.config
        let counts = model.parameterCounts()
        print("MoEKit demo: a random \(c.modelType) checkpoint written to \(dir) and loaded from it (BF16, mapped in place)")
        var moeInfo = ""
        if case .moe(let m)? = model.moeLayerIndices.first.map({ model.layers[$0].feedForward }) {
            moeInfo = ", \(m.experts.count) experts, \(m.routing.topK) active per token"
        }
        print("  \(model.layers.count) layers (\(model.moeLayerIndices.count) MoE\(moeInfo)), hidden \(c.hidden), vocab \(c.vocabSize)")
        print("  parameters: \(grouped(counts.total)) total, \(grouped(counts.activePerToken)) active per token (\(format(100 * Double(counts.activePerToken) / Double(counts.total)))%)")

        let prompt: [Int32] = [1, 17, 256, 42, 901, 7]
        var opts = GenerationOptions()
        opts.maxTokens = maxTokens
        let trace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
        let result = try Generator(model: model).generate(prompt: prompt, options: opts, trace: trace)
        print("  prompt ids:    \(prompt.map(String.init).joined(separator: " "))")
        print("  greedy output: \(result.tokens.map(String.init).joined(separator: " "))")
        print("  experts fired at each generated token (layer: ids):")
        for (i, tok) in result.tokens.enumerated() {
            let pos = prompt.count + i
            let parts = model.moeLayerIndices.enumerated().map { k, layer in
                "L\(layer): " + trace.experts[k][pos].map(String.init).joined(separator: ",")
            }
            print("    token \(String(tok).padding(toLength: 5, withPad: " ", startingAt: 0)) " + parts.joined(separator: "  "))
        }
        var distinct = Set<String>()
        for (k, layer) in trace.experts.enumerated() { for p in layer { for e in p { distinct.insert("\(k).\(e)") } } }
        let totalExperts = model.moeLayerIndices.count * ((model.moeLayerIndices.first.map { model.layers[$0].feedForward }).flatMap { if case .moe(let m) = $0 { return m.experts.count } else { return nil } } ?? 0)
        print("  distinct (layer, expert) pairs used over \(prompt.count + result.tokens.count) positions: \(distinct.count) of \(totalExperts)")
        let s = result.stats
        print("  prefill \(format(s.prefillTokensPerSecond)) tok/s, decode \(format(s.decodeTokensPerSecond)) tok/s on \(model.pool.threadCount) threads")
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
