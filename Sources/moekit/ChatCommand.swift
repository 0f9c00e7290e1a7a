import ArgumentParser
import MoEModels
import MoERuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model: history, its chat template, /reset, /stats, /exit; Ctrl-C stops an answer.")

    @OptionGroup var options: ModelOptions

    @OptionGroup var numerics: NumericsOption

    @Option(name: .customLong("max-tokens"), help: "Tokens per answer at most.")
    var maxTokens = 512

    @Option(help: "A system message.")
    var system: String?

    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        let bundle = try loadBundle(options.model, threads: options.threads, activations: numerics.activations(options.activations))
        try numerics.apply(to: bundle.model)
        let tokenizer = try bundle.requireTokenizer()
        guard bundle.chatTemplate != nil else { throw ModelError.invalidInput("\(options.model): the model has no chat template") }
        var opts = GenerationOptions()
        opts.maxTokens = maxTokens
        try sampling.apply(to: &opts)
        installInterruptHandler()
        var history: [(role: String, content: String)] = system.map { [("system", $0)] } ?? []
        var last: GenerationStats?
        writeStderr("type a message; /reset clears the history, /stats shows the last answer's speed, /exit quits\n")
        while true {
            writeStdout("> ")
            interrupted = 0
            guard let line = readLine() else { break }
            let input = line.trimmed()
            if input.isEmpty { continue }
            switch input {
            case "/exit", "/quit": return
            case "/reset":
                history = system.map { [("system", $0)] } ?? []
                writeStdout("(history cleared)\n")
                continue
            case "/stats":
                if let s = last {
                    writeStdout("prompt \(s.promptTokens) tokens at \(format(s.prefillTokensPerSecond)) tok/s, \(s.generatedTokens) generated at \(format(s.decodeTokensPerSecond)) tok/s\n")
                } else {
                    writeStdout("(no answer yet)\n")
                }
                continue
            default: break
            }
            history.append(("user", input))
            let ids = tokenizer.encode(try bundle.renderChat(history), addSpecialTokens: false)
            let out = try TextGeneration(bundle: bundle).run(promptIds: ids, options: opts, onText: { piece in
                writeStdout(piece)
                return interrupted == 0
            })
            writeStdout(out.finishReason == "cancelled" ? " [stopped]\n" : "\n")
            history.append(("assistant", out.text))
            last = out.result.stats
            opts.seed &+= 1
        }
    }
}
