import ArgumentParser
import MoEModels
import MoERuntime

/// Sampling flags shared by generate, run and chat.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0: all).")
    var topK = 0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass.")
    var topP: Float = 1

    @Option(name: .customLong("min-p"), help: "Drop tokens less likely than min-p × the most likely one.")
    var minP: Float = 0

    @Option(name: .customLong("repeat-penalty"), help: "Repetition penalty (1: off).")
    var repeatPenalty: Float = 1

    @Option(name: .customLong("presence-penalty"), help: "Presence penalty (0: off).")
    var presencePenalty: Float = 0

    @Option(name: .customLong("frequency-penalty"), help: "Frequency penalty (0: off).")
    var frequencyPenalty: Float = 0

    @Option(help: "Random seed (same seed, same output).")
    var seed: UInt64 = 0

    func apply(to o: inout GenerationOptions) throws {
        guard temperature >= 0, temperature.isFinite else { throw ModelError.invalidInput("--temperature must be a non-negative number") }
        guard topP > 0, topP <= 1 else { throw ModelError.invalidInput("--top-p must be in (0, 1]") }
        guard minP >= 0, minP < 1 else { throw ModelError.invalidInput("--min-p must be in [0, 1)") }
        guard repeatPenalty > 0, repeatPenalty.isFinite else { throw ModelError.invalidInput("--repeat-penalty must be positive") }
        guard presencePenalty.isFinite, frequencyPenalty.isFinite else { throw ModelError.invalidInput("penalties must be finite") }
        o.temperature = temperature
        o.topK = max(0, topK)
        o.topP = topP
        o.minP = minP
        o.repetitionPenalty = repeatPenalty
        o.presencePenalty = presencePenalty
        o.frequencyPenalty = frequencyPenalty
        o.seed = seed
    }
}

/// A prompt as token ids or as text (generate, trace).
struct PromptInput: ParsableArguments {
    @Option(help: "Comma-separated prompt token ids.")
    var tokens: String?

    @Option(help: "Prompt text, tokenized with the model's tokenizer (generate's JSON then adds \"text\").")
    var prompt: String?

    func validate() throws {
        guard (tokens == nil) != (prompt == nil) else { throw ModelError.invalidInput("give exactly one of --tokens or --prompt") }
    }

    func ids(_ bundle: ModelBundle) throws -> [Int32] {
        if let tokens { return try parseTokens(tokens) }
        return try bundle.requireTokenizer().encode(prompt!)
    }
}
