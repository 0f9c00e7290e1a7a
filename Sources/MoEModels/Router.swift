#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a MoE layer turns router logits into the experts that fire and their weights. Kept apart
/// from the layers, so each family only states its scheme:
/// - softmax over all experts, top-k, optionally renormalised (Mixtral, Qwen-MoE, OLMoE, GraniteMoE);
/// - sigmoid scores, a correction bias used for choosing but not for weighting, group-limited
///   choice and a scaling factor (DeepSeek-V3 `noaux_tc`, GLM-4.5/5).
public struct Router: Sendable, Equatable {
    public enum Scoring: Sendable, Equatable {
        case softmax
        case sigmoid
    }
    public var scoring: Scoring
    public var topK: Int
    /// Divide the chosen weights by their sum (plus `normalizeEpsilon`).
    public var normalize: Bool
    public var normalizeEpsilon: Float
    /// Multiplier applied to the final weights (`routed_scaling_factor`).
    public var scale: Float
    /// Added to the scores when choosing experts, never to their weights (`e_score_correction_bias`).
    public var correctionBias: [Float]?
    /// Experts form `groups` equal groups; only the `topKGroups` groups with the largest sum of
    /// their two best scores may be chosen from (`n_group`, `topk_group`).
    public var groups: Int
    public var topKGroups: Int

    public init(scoring: Scoring = .softmax, topK: Int, normalize: Bool, normalizeEpsilon: Float = 0, scale: Float = 1,
                correctionBias: [Float]? = nil, groups: Int = 1, topKGroups: Int = 1) {
        self.scoring = scoring
        self.topK = topK
        self.normalize = normalize
        self.normalizeEpsilon = normalizeEpsilon
        self.scale = scale
        self.correctionBias = correctionBias
        self.groups = groups
        self.topKGroups = topKGroups
    }

    /// Scratch floats `route` needs for `count` experts.
    public static func scratchCount(experts count: Int) -> Int { 3 * count }

    /// Chooses `topK` experts from `logits[0..<count]`, writing ids (by descending choice score;
    /// ties to the lower id) and weights. `scratch` holds `scratchCount(experts:)` floats.
    public func route(logits: UnsafePointer<Float>, count: Int, scratch: UnsafeMutablePointer<Float>,
                      ids: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>) {
        let scores = scratch              // the weights come from these
        let choice = scratch + count      // experts are chosen by these
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
        case .sigmoid:
            for e in 0..<count { scores[e] = 1 / (1 + expf(-logits[e])) }
        }
        for e in 0..<count { choice[e] = scores[e] + (correctionBias?[e] ?? 0) }
        if groups > 1 && topKGroups < groups {
            // Rank groups by the sum of their two best choice scores; the experts of the other
            // groups cannot be chosen (-inf, as transformers 5 and DeepSeek's inference code mask them).
            let per = count / groups
            let groupScore = scratch + 2 * count   // NaN marks a kept group
            for g in 0..<groups {
                var a = -Float.infinity, b = -Float.infinity
                for e in (g * per)..<((g + 1) * per) {
                    let v = choice[e]
                    if v > a { b = a; a = v } else if v > b { b = v }
                }
                groupScore[g] = per > 1 ? a + b : a
            }
            for _ in 0..<topKGroups {
                var best = -1
                for g in 0..<groups where !groupScore[g].isNaN && (best < 0 || groupScore[g] > groupScore[best]) { best = g }
                groupScore[best] = .nan
            }
            for g in 0..<groups where !groupScore[g].isNaN {
                for e in (g * per)..<((g + 1) * per) { choice[e] = -.infinity }
            }
        }
        // Partial selection: k is small.
        for j in 0..<topK {
            var best = -1
            for e in 0..<count {
                var taken = false
                for q in 0..<j where ids[q] == Int32(e) { taken = true; break }
                if !taken && (best < 0 || choice[e] > choice[best] || (choice[best].isNaN && !choice[e].isNaN)) { best = e }
            }
            ids[j] = Int32(best)
            weights[j] = scores[best]
        }
        if normalize {
            var s: Float = 0
            for j in 0..<topK { s += weights[j] }
            s += normalizeEpsilon
            for j in 0..<topK { weights[j] /= s }
        }
        if scale != 1 {
            for j in 0..<topK { weights[j] *= scale }
        }
    }
}
