import ArgumentParser
import Foundation
import MoEAccounting
import MoEFormats
import MoEModels
import MoERuntime

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record which experts every token fires, as JSON Lines and a self-contained HTML report.")

    @OptionGroup var options: ModelOptions

    @OptionGroup var input: PromptInput

    @Option(name: .customLong("max-tokens"), help: "Tokens to generate after the prompt.")
    var maxTokens = 32

    @Option(help: "Directory for trace.jsonl and report.html.")
    var out = "moekit-trace"

    func run() throws {
        guard maxTokens >= 0 else { throw ModelError.invalidInput("--max-tokens must be non-negative") }
        try input.validate()
        let bundle = try ModelBundle.load(options.model, pool: try makePool(options.threads), activations: options.activations)
        let model = bundle.model
        let prompt = try input.ids(bundle)
        guard !model.moeLayerIndices.isEmpty else {
            throw ModelError.invalidInput("\(options.model): a \(model.config.modelType) model has no MoE layers to trace")
        }
        var opts = GenerationOptions()
        opts.maxTokens = maxTokens
        let trace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
        let configPath = options.model + "/config.json"
        let (result, rows) = try generateWithStats(model: model, configPath: configPath, prompt: prompt, options: opts, trace: trace)
        let sequence = prompt + result.tokens

        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var lines = ""
        for p in 0..<(trace.experts.first?.count ?? 0) {
            for (k, layer) in model.moeLayerIndices.enumerated() {
                let line: JSONValue = .object([
                    ("position", .int(p)), ("token", .int(Int(sequence[min(p, sequence.count - 1)]))), ("layer", .int(layer)),
                    ("experts", .array(trace.experts[k][p].map { .int($0) })),
                    ("weights", .array(trace.weights[k][p].map { .double(Double("\($0)") ?? Double($0)) })),
                ])
                lines += line.serialized() + "\n"
            }
        }
        try lines.write(toFile: out + "/trace.jsonl", atomically: true, encoding: .utf8)

        let stats = ExpertStatistics(experts: trace.experts, expertCount: model.routedExpertCount, layerIndices: model.moeLayerIndices)
        let inventory = try Inventories.build(ConfigReader(path: configPath))
        let predicted = InspectReport(name: options.model, moe: CostModel.report(inventory))
        let html = HTMLReport.page(title: "MoEKit routing trace: \(options.model)", stats: stats, rows: rows,
                                   predicted: predicted, tokens: sequence)
        try html.write(toFile: out + "/report.html", atomically: true, encoding: .utf8)
        let disagreeing = rows.filter(\.disagrees).count
        print("wrote \(out)/trace.jsonl (\(sequence.count) positions × \(model.moeLayerIndices.count) MoE layers) and \(out)/report.html")
        for l in stats.layers {
            print("  L\(l.layer): \(l.distinctUsed)/\(stats.experts) experts used, entropy \(format(l.entropyBits, digits: 2)) bits, load CV \(format(l.coefficientOfVariation, digits: 2)), reuse \(format(100 * l.reuseRate))%")
        }
        print("  measured vs predicted: \(rows.count - disagreeing) of \(rows.count) decoded tokens agree within 1%")
    }
}
