import ArgumentParser
import MoEAccounting
import MoEFormats
import MoEModels
import MoERuntime

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate token ids after a prompt of token ids.")

    @OptionGroup var options: ModelOptions

    @OptionGroup var numerics: NumericsOption

    @OptionGroup var input: PromptInput

    @Option(name: .customLong("max-tokens"), help: "Tokens to generate.")
    var maxTokens = 16

    @OptionGroup var sampling: SamplingOptions

    @Flag(name: .customLong("ignore-eos"), help: "Do not stop at end-of-sequence ids (generation_config.json, GGUF end-of-turn tokens).")
    var ignoreEOS = false

    @Flag(name: .customLong("trace-experts"), help: "Add the experts chosen per MoE layer and position.")
    var traceExperts = false

    @Flag(help: "Measure every decoded token (params, FLOPs, bytes, KV, experts, memory) next to the prediction from config.json.")
    var stats = false

    @Flag(help: "Print JSON: {\"tokens\": [...]} (+ \"experts\" with --trace-experts, \"stats\" with --stats).")
    var json = false

    func run() throws {
        guard maxTokens >= 0 else { throw ModelError.invalidInput("--max-tokens must be non-negative") }
        var opts = GenerationOptions()
        opts.maxTokens = maxTokens
        try sampling.apply(to: &opts)
        try input.validate()
        let bundle = try ModelBundle.load(options.model, pool: try makePool(options.threads), activations: numerics.activations(options.activations))
        try numerics.apply(to: bundle.model)
        let model = bundle.model
        let prompt = try input.ids(bundle)
        // generation_config.json's eos_token_id (and a GGUF's end-of-turn tokens) end generation.
        if !ignoreEOS { opts.stopTokens = bundle.stopTokens }
        var trace = traceExperts ? ExpertTrace(moeLayers: model.moeLayerIndices.count) : nil
        var statRows: [TokenComparison] = []
        let result: GenerationResult
        if stats {
            let t = trace ?? ExpertTrace(moeLayers: model.moeLayerIndices.count)
            (result, statRows) = try generateWithStats(model: model, configPath: options.model + "/config.json",
                                                       prompt: prompt, options: opts, trace: t)
            if traceExperts { trace = t }
        } else {
            result = try Generator(model: model).generate(prompt: prompt, options: opts, trace: trace)
        }
        if json {
            var out = "{\"tokens\": [" + result.tokens.map(String.init).joined(separator: ", ") + "]"
            if let trace {
                out += ", \"experts\": [" + trace.experts.map { layer in
                    "[" + layer.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
                }.joined(separator: ", ") + "]"
                if !trace.sparseAttention.isEmpty {
                    // DSA models: positions each query attended, per decoder layer.
                    let layers = trace.sparseAttention.keys.sorted()
                    out += ", \"sparse_attention\": {" + layers.map { l in
                        "\"\(l)\": [" + trace.sparseAttention[l]!.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
                    }.joined(separator: ", ") + "}"
                }
            }
            if stats { out += ", \"stats\": " + MeasuredTable.json(statRows).serialized() }
            if input.prompt != nil, let tokenizer = bundle.tokenizer {
                out += ", \"text\": " + jsonString(tokenizer.decode(result.tokens, skipSpecialTokens: true))
            }
            writeStdout(out + "}\n")
        } else {
            if input.prompt != nil, let tokenizer = bundle.tokenizer {
                writeStdout(tokenizer.decode(result.tokens, skipSpecialTokens: true) + "\n")
            } else {
                writeStdout(result.tokens.map(String.init).joined(separator: " ") + "\n")
            }
            let s = result.stats
            if stats {
                writeStdout("\nper decoded token, measured / predicted from config.json:\n")
                writeStdout(MeasuredTable.text(statRows, routedExperts: model.routedExpertCount))
            }
            writeStdout("prompt \(s.promptTokens) tokens, \(format(s.prefillTokensPerSecond)) tok/s; generated \(s.generatedTokens) tokens, \(format(s.decodeTokensPerSecond)) tok/s\n")
        }
    }
}

func format(_ x: Double, digits: Int = 1) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    return "\(r)"
}
