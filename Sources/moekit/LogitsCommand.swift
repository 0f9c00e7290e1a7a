import ArgumentParser
import MoEModels

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the logits of every position of a token sequence.")

    @OptionGroup var options: ModelOptions

    @OptionGroup var numerics: NumericsOption

    @Option(help: "Comma-separated input token ids.")
    var tokens: String

    @Flag(help: "Print {\"logits\": [[...], ...]}, one vocabulary-sized row per position.")
    var json = false

    @Option(help: "Print {\"top\": [[[id, logit], ...], ...]}, the K largest logits per position (highest first, ties by lower id), instead of whole rows (JSON with or without --json).")
    var top: Int?

    func run() throws {
        let ids = try parseTokens(tokens)
        let model = try loadModel(directory: options.model, pool: try makePool(options.threads), activations: numerics.activations(options.activations))
        try numerics.apply(to: model)
        let state = model.makeState(capacity: ids.count)
        let logits = try model.forward(ids, state: state, logits: .all)
        let V = model.config.vocabSize
        if let k = top {
            guard k >= 1, k <= V else { throw CLIError("--top must be between 1 and the vocabulary size \(V)") }
            var out = "{\"top\": ["
            for p in 0..<ids.count {
                let row = logits[(p * V)..<((p + 1) * V)]
                let best = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(k)
                if p > 0 { out += ", " }
                out += "[" + best.map { "[\($0 - p * V), \(jsonNumber(row[$0]))]" }.joined(separator: ", ") + "]"
            }
            writeStdout(out + "]}\n")
            return
        }
        if json {
            var out = "{\"logits\": ["
            for p in 0..<ids.count {
                if p > 0 { out += ", " }
                out += "[" + logits[(p * V)..<((p + 1) * V)].map(jsonNumber).joined(separator: ", ") + "]"
            }
            writeStdout(out + "]}\n")
        } else {
            for p in 0..<ids.count {
                let row = logits[(p * V)..<((p + 1) * V)]
                let top = row.indices.sorted { row[$0] > row[$1] }.prefix(5)
                writeStdout("position \(p) (token \(ids[p])): top " + top.map { "\($0 - p * V):\(row[$0])" }.joined(separator: " ") + "\n")
            }
        }
    }
}

