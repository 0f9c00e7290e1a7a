import ArgumentParser
import MoEAccounting
import MoEModels
import MoERuntime
import MoETensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set by SIGINT; a generation in progress stops at the next token.
nonisolated(unsafe) var interrupted: sig_atomic_t = 0

func installInterruptHandler() {
    signal(SIGINT) { _ in interrupted = 1 }
}

func loadBundle(_ path: String, threads: Int?, activations: ActivationFormat) throws -> ModelBundle {
    let bundle = try ModelBundle.load(path, pool: try makePool(threads), activations: activations)
    // Bring the mapped weights into memory with a progress bar, so the first tokens do not stall
    // on page faults.
    let files = bundle.model.mappedFiles()
    let total = files.reduce(0) { $0 + $1.size }
    let chunk = 16 << 20
    var done = 0
    let tty = isatty(2) != 0
    func bar() {
        let width = 30
        let filled = total > 0 ? width * done / total : width
        writeStderr("\rloading [" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
                    + "] \(humanBytes(done)) / \(humanBytes(total))")
    }
    for f in files {
        var o = 0
        while o < f.size {
            f.prefetch(offset: o, count: chunk)
            o += chunk
            done += min(chunk, f.size - (o - chunk))
            if tty { bar() }
        }
    }
    if !tty { bar() }
    let c = bundle.model.config
    writeStderr(" · \(c.modelType), \(bundle.model.layers.count) layers, \(humanParams(bundle.model.parameterCounts().total)) parameters, mapped in place\n")
    return bundle
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer one prompt, streaming the text as it is produced.")

    @OptionGroup var options: ModelOptions

    @OptionGroup var numerics: NumericsOption

    @Argument(help: "The prompt.")
    var prompt: String

    @Option(name: .customLong("max-tokens"), help: "Tokens to generate at most.")
    var maxTokens = 256

    @Option(help: "A system message.")
    var system: String?

    @Flag(help: "Feed the prompt as is, without the chat template.")
    var raw = false

    @Option(name: .customLong("stop"), help: "Stop at this string (repeatable).")
    var stop: [String] = []

    @Flag(help: "Measure every decoded token next to the prediction from config.json (not for GGUF files).")
    var stats = false

    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        guard maxTokens > 0 else { throw ModelError.invalidInput("--max-tokens must be positive") }
        let bundle = try loadBundle(options.model, threads: options.threads, activations: numerics.activations(options.activations))
        try numerics.apply(to: bundle.model)
        let tokenizer = try bundle.requireTokenizer()
        var text = prompt
        var addSpecial = true
        if !raw, bundle.chatTemplate != nil {
            var messages: [(role: String, content: String)] = []
            if let system { messages.append(("system", system)) }
            messages.append(("user", prompt))
            text = try bundle.renderChat(messages)
            addSpecial = false
        }
        let ids = tokenizer.encode(text, addSpecialTokens: addSpecial)
        var opts = GenerationOptions()
        opts.maxTokens = maxTokens
        try sampling.apply(to: &opts)
        installInterruptHandler()
        var rows: [TokenComparison] = []
        let predict = stats ? try predictor(for: bundle.model, directory: options.model) : nil
        let counters: KernelCounters? = stats ? KernelCounters() : nil
        let trace: ExpertTrace? = stats ? ExpertTrace(moeLayers: bundle.model.moeLayerIndices.count) : nil
        let probe = TokenProbe(model: bundle.model)
        let out = try TextGeneration(bundle: bundle).run(
            promptIds: ids, options: opts, stopStrings: stop, trace: trace, counters: counters,
            onStep: { state in
                guard let counters, let predict else { return }
                let m = probe.measure(counters, state: state, trace: trace)
                rows.append(TokenComparison(measured: m, predicted: predict.predict(position: m.position)))
            },
            onText: { piece in
                writeStdout(piece)
                return interrupted == 0
            })
        writeStdout("\n")
        if stats {
            writeStderr("\nper decoded token, measured / predicted from config.json:\n" + MeasuredTable.text(rows, routedExperts: bundle.model.routedExpertCount))
        }
        let s = out.result.stats
        writeStderr("[\(s.promptTokens) prompt tokens at \(format(s.prefillTokensPerSecond)) tok/s · \(s.generatedTokens) generated at \(format(s.decodeTokensPerSecond)) tok/s · \(out.finishReason)]\n")
    }
}
