import MoEModels
import MoETensor

/// Settings of one generation.
public struct GenerationOptions: Sendable {
    public var maxTokens: Int = 16
    public var temperature: Float = 0
    public var topK: Int = 0
    public var topP: Float = 1
    public var seed: UInt64 = 0
    public var minP: Float = 0
    public var repetitionPenalty: Float = 1
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// Generation stops after emitting one of these (the id is included in the output).
    public var stopTokens: Set<Int32> = []
    /// Prompt tokens per forward pass during prefill.
    public var prefillChunk: Int = 256
    public init() {}
}

/// Timing and counts of one generation.
public struct GenerationStats: Sendable {
    public var promptTokens = 0
    public var generatedTokens = 0
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0
    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(generatedTokens) / decodeSeconds : 0 }
}

public struct GenerationResult: Sendable {
    /// The generated ids only.
    public var tokens: [Int32]
    public var stats: GenerationStats
}

/// Prefill in chunks, then decode token by token with the KV cache.
public struct Generator {
    public let model: TransformerModel

    public init(model: TransformerModel) { self.model = model }

    /// Generates up to `options.maxTokens` tokens after `prompt`. With `trace`, the experts of every
    /// prompt and generated position are recorded (the last generated token is run through the model
    /// once more so that it is covered too). `onToken` may return false to stop early.
    /// With `counters`, the kernels report into it; it is reset before each decoded token and
    /// `onStep(state)` is called after it, so each step sees one token's costs.
    public func generate(prompt: [Int32], options: GenerationOptions, trace: ExpertTrace? = nil,
                         counters: KernelCounters? = nil, onStep: (InferenceState) -> Void = { _ in },
                         onToken: (Int32) -> Bool = { _ in true }) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw ModelError.invalidInput("the prompt has no tokens") }
        // The cache grows on demand; only reserve what is likely needed.
        let state = model.makeState(capacity: min(prompt.count + options.maxTokens + 1, 4096))
        state.counters = counters
        var sampler = Sampler(temperature: options.temperature, topK: options.topK, topP: options.topP, seed: options.seed)
        sampler.minP = options.minP
        sampler.repetitionPenalty = options.repetitionPenalty
        sampler.presencePenalty = options.presencePenalty
        sampler.frequencyPenalty = options.frequencyPenalty
        var counts: [Int32: Int] = [:]
        if sampler.usesPenalties { for t in prompt { counts[t, default: 0] += 1 } }
        let clock = ContinuousClock()
        let t0 = clock.now
        var logits: [Float] = []
        var i = 0
        let chunk = max(1, options.prefillChunk)
        while i < prompt.count {
            let piece = Array(prompt[i..<min(i + chunk, prompt.count)])
            logits = try model.forward(piece, state: state, logits: .last, trace: trace)
            i += piece.count
        }
        let t1 = clock.now
        var out: [Int32] = []
        while out.count < options.maxTokens {
            if sampler.usesPenalties { sampler.penalize(&logits, counts: counts) }
            let next = Int32(sampler.sample(logits[...]))
            out.append(next)
            counts[next, default: 0] += 1
            if !onToken(next) || options.stopTokens.contains(next) { break }
            if out.count == options.maxTokens { break }
            counters?.reset()
            logits = try model.forward([next], state: state, logits: .last, trace: trace)
            onStep(state)
        }
        if trace != nil, let last = out.last {
            counters?.reset()
            _ = try model.forward([last], state: state, logits: .last, trace: trace)
            onStep(state)
        }
        let t2 = clock.now
        return GenerationResult(tokens: out, stats: GenerationStats(
            promptTokens: prompt.count, generatedTokens: out.count,
            prefillSeconds: seconds(t1 - t0), decodeSeconds: seconds(t2 - t1)))
    }
}

/// A duration in seconds.
public func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
