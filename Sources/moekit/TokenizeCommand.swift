import ArgumentParser
import MoEFormats
import MoEModels
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
        let ids = tokenizer.encode(input, addSpecialTokens: !noSpecial)
        if json {
            writeStdout("{\"tokens\": [" + ids.map(String.init).joined(separator: ", ") + "]}\n")
        } else {
            for id in ids { writeStdout("\(id)\t\(tokenizer.idToToken(id) ?? "?")\n") }
        }
    }
}
