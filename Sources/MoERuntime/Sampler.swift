import MoETensor

/// Picks the next token from a row of logits: penalties first (repetition as transformers applies
/// it, presence and frequency as OpenAI defines them), then greedy at temperature 0, else
/// temperature, top-k, top-p and min-p sampling.
public struct Sampler: Sendable {
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    /// Drop tokens whose probability is below `minP` × the most likely one's.
    public var minP: Float = 0
    /// > 1 discourages tokens already seen: positive logits are divided by it, negative ones multiplied.
    public var repetitionPenalty: Float = 1
    /// Subtracted once from the logit of every token already seen.
    public var presencePenalty: Float = 0
    /// Subtracted per occurrence.
    public var frequencyPenalty: Float = 0
    private var rng: SplitMix64

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        rng = SplitMix64(seed: seed)
    }

    public var usesPenalties: Bool { repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0 }

    /// Applies the penalties for the tokens seen so far (`counts`: token -> occurrences).
    public func penalize(_ logits: inout [Float], counts: [Int32: Int]) {
        guard usesPenalties else { return }
        for (t, n) in counts where t >= 0 && Int(t) < logits.count {
            var l = logits[Int(t)]
            if repetitionPenalty != 1 { l = l > 0 ? l / repetitionPenalty : l * repetitionPenalty }
            l -= presencePenalty + frequencyPenalty * Float(n)
            logits[Int(t)] = l
        }
    }

    /// Index of the largest logit (the first on ties, as `argmax` does).
    public static func argmax(_ logits: ArraySlice<Float>) -> Int {
        var best = logits.startIndex
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best - logits.startIndex
    }

    public mutating func sample(_ logits: ArraySlice<Float>) -> Int {
        if temperature <= 0 { return Self.argmax(logits) }
        var cand = logits.enumerated().map { ($0.offset, $0.element / temperature) }
        cand.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        if topK > 0 && topK < cand.count { cand.removeSubrange(topK...) }
        let m = cand[0].1
        if minP > 0 {
            // p_i / p_max = exp(l_i - l_max)
            let cut = logf(minP)
            cand.removeAll { $0.1 - m < cut }
        }
        var probs = cand.map { Double(expf($0.1 - m)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if topP < 1 {
            var acc = 0.0, keep = 0
            while keep < probs.count {
                acc += probs[keep]
                keep += 1
                if acc >= Double(topP) { break }
            }
            probs.removeSubrange(keep...)
            let t = probs.reduce(0, +)
            probs = probs.map { $0 / t }
        }
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        var acc = 0.0
        for (i, p) in probs.enumerated() {
            acc += p
            if u < acc { return cand[i].0 }
        }
        return cand[probs.count - 1].0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
