import MoEModels
import MoETensor
import MoETokenizer

/// Generation in text: streams decoded text as tokens arrive (never a broken UTF-8 sequence), and
/// ends at an end-of-sequence token or a stop string (which is not emitted).
public struct TextGeneration {
    public let bundle: ModelBundle

    public init(bundle: ModelBundle) { self.bundle = bundle }

    public struct Output: Sendable {
        public var text: String
        public var result: GenerationResult
        /// Why generation ended: "stop" (EOS or stop string), "length", or "cancelled".
        public var finishReason: String
    }

    /// Generates after `promptIds`. `onText` receives each new piece of text and may return false to
    /// cancel; `cancelled()` is polled between tokens (Ctrl-C in the CLI).
    public func run(promptIds: [Int32], options: GenerationOptions, stopStrings: [String] = [],
                    trace: ExpertTrace? = nil, counters: KernelCounters? = nil, onStep: (InferenceState) -> Void = { _ in },
                    onText: (String) -> Bool = { _ in true }) throws -> Output {
        let tokenizer = try bundle.requireTokenizer()
        var opts = options
        opts.stopTokens.formUnion(bundle.stopTokens)
        var detok = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
        var text = ""
        var emitted = 0   // characters of `text` already handed to onText
        let holdBack = max(0, (stopStrings.map(\.count).max() ?? 0) - 1)
        var reason = "length"
        var stopped = false
        let result = try Generator(model: bundle.model).generate(
            prompt: promptIds, options: opts, trace: trace, counters: counters, onStep: onStep
        ) { id in
            if opts.stopTokens.contains(id) {
                reason = "stop"
                return false
            }
            text += detok.append(id)
            if let cut = stopStrings.compactMap({ text.range(of: $0)?.lowerBound }).min() {
                text = String(text[..<cut])
                reason = "stop"
                stopped = true
            }
            let safe = stopped ? text.count : max(emitted, text.count - holdBack)
            if safe > emitted {
                let piece = String(text.dropFirst(emitted).prefix(safe - emitted))
                emitted = safe
                if !onText(piece) {
                    reason = "cancelled"
                    return false
                }
            }
            return !stopped
        }
        if !stopped && reason != "cancelled" {
            text += detok.finish()
            if text.count > emitted { _ = onText(String(text.dropFirst(emitted))) }
        }
        return Output(text: text, result: result, finishReason: reason)
    }
}

extension String {
    /// First range of `needle` (Foundation-free).
    func range(of needle: String) -> Range<String.Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}
