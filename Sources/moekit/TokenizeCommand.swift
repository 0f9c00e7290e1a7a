import ArgumentParser
import MoEFormats
import MoEModels
import MoERuntime
import MoETokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Turn text into the model's token ids.")

    @Argument(help: "A model directory with tokenizer.json, a tokenizer.json file, or a .gguf file.")
    var model: String

    @Option(help: "The text to tokenize.")
    var text: String?

    @Option(help: "Read the text from this file.")
    var file: String?

    @Flag(name: .customLong("no-special"), help: "Do not add the BOS/template tokens the tokenizer adds by default.")
    var noSpecial = false

    @Flag(help: "Print {\"tokens\": [...]}.")
    var json = false

    @Flag(help: "Measure encode and decode speed on the text (one core) instead of printing tokens.")
    var bench = false

    func run() throws {
        guard (text == nil) != (file == nil) else { throw ModelError.invalidInput("give exactly one of --text or --file") }
        let input = try text ?? String(decoding: readFile(file!, limit: 1 << 30), as: UTF8.self)
        let tokenizer: Tokenizer
        if model.hasSuffix(".gguf") {
            tokenizer = try Tokenizer(gguf: GGUFFile(path: model))
        } else if model.hasSuffix(".json") {
            tokenizer = try Tokenizer(contentsOfFile: model)
        } else {
            tokenizer = try Tokenizer(contentsOfFile: model + "/tokenizer.json")
        }
        if bench {
            let clock = ContinuousClock()
            let mb = Double(input.utf8.count) / 1e6
            var best = Double.infinity, bestDecode = Double.infinity
            var ids: [Int32] = []
            for _ in 0..<3 {
                let t0 = clock.now
                ids = tokenizer.encode(input, addSpecialTokens: false)
                let t1 = clock.now
                _ = tokenizer.decode(ids)
                let t2 = clock.now
                best = min(best, seconds(t1 - t0))
                bestDecode = min(bestDecode, seconds(t2 - t1))
            }
            print("\(format(mb, digits: 2)) MB of text, \(ids.count) tokens: encode \(format(mb / best)) MB/s, decode \(format(mb / bestDecode)) MB/s (best of 3, one core)")
            return
        }
        let ids = tokenizer.encode(input, addSpecialTokens: !noSpecial)
        if json {
            writeStdout("{\"tokens\": [" + ids.map(String.init).joined(separator: ", ") + "]}\n")
        } else {
            for id in ids { writeStdout("\(id)\t\(tokenizer.idToToken(id) ?? "?")\n") }
        }
    }
}
