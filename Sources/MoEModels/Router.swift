#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a MoE layer turns router logits into the experts that fire and their weights. Kept apart
/// from the layers so that other schemes (sigmoid scores with a correction bias, group-limited
/// choice, as DeepSeek and GLM use) join without touching the families that use softmax.
public struct Router: Sendable, Equatable {
    public enum Scoring: Sendable, Equatable {
        /// softmax over all experts, then top-k (Mixtral, Qwen-MoE, OLMoE, GraniteMoE).
        case softmax
    }
    public var scoring: Scoring
    public var topK: Int
    /// Divide the chosen weights by their sum.
    public var normalize: Bool
    /// Multiplier applied to the final weights.
    public var scale: Float

    public init(scoring: Scoring = .softmax, topK: Int, normalize: Bool, scale: Float = 1) {
        self.scoring = scoring
        self.topK = topK
        self.normalize = normalize
        self.scale = scale
    }

    /// Chooses `topK` experts from `logits[0..<count]`. Writes ids (by descending score; ties to
    /// the lower id, as `torch.topk` does on CPU) and weights; `scores` is scratch of `count` floats.
    public func route(logits: UnsafePointer<Float>, count: Int, scores: UnsafeMutablePointer<Float>,
                      ids: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>) {
        switch scoring {
        case .softmax:
            var m = -Float.infinity
            for e in 0..<count where logits[e] > m { m = logits[e] }
            var s: Float = 0
            for e in 0..<count {
                scores[e] = expf(logits[e] - m)
                s += scores[e]
            }
            for e in 0..<count { scores[e] /= s }
        }
        // Partial selection: k is small.
        for j in 0..<topK {
            var best = -1
            var bestScore = -Float.infinity
            for e in 0..<count {
                var taken = false
                for q in 0..<j where ids[q] == Int32(e) { taken = true; break }
                if !taken && (best < 0 || scores[e] > bestScore) {
                    best = e
                    bestScore = scores[e]
                }
            }
            ids[j] = Int32(best)
            weights[j] = bestScore
        }
        if normalize {
            var s: Float = 0
            for j in 0..<topK { s += weights[j] }
            for j in 0..<topK { weights[j] /= s }
        }
        if scale != 1 {
            for j in 0..<topK { weights[j] *= scale }
        }
    }
}
