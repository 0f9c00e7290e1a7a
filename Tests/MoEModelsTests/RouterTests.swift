import Testing
import MoEModels

func route(_ r: Router, _ logits: [Float]) -> (ids: [Int32], weights: [Float]) {
    var ids = [Int32](repeating: -1, count: r.topK)
    var w = [Float](repeating: 0, count: r.topK)
    var scratch = [Float](repeating: 0, count: Router.scratchCount(experts: logits.count))
    r.route(logits: logits, count: logits.count, scratch: &scratch, ids: &ids, weights: &w)
    return (ids, w)
}

@Suite struct RouterTests {
    // Hand-computed: softmax of [ln 1, ln 2, ln 3, ln 4] is [0.1, 0.2, 0.3, 0.4].
    let logits: [Float] = [1, 2, 3, 4].map { logf($0) }

    @Test func softmaxTopKWithoutRenormalisation() {
        let (ids, w) = route(Router(topK: 2, normalize: false), logits)
        #expect(ids == [3, 2])
        #expect(abs(w[0] - 0.4) < 1e-6 && abs(w[1] - 0.3) < 1e-6)
    }

    @Test func softmaxTopKRenormalised() {
        let (ids, w) = route(Router(topK: 2, normalize: true), logits)
        #expect(ids == [3, 2])
        #expect(abs(w[0] - 4.0 / 7) < 1e-6 && abs(w[1] - 3.0 / 7) < 1e-6)
    }

    @Test func tiesGoToTheLowerId() {
        let (ids, _) = route(Router(topK: 2, normalize: false), [0, 1, 1, 0])
        #expect(ids == [1, 2])
    }

    @Test func sigmoidWithCorrectionBiasChoosesByBiasButWeighsWithout() {
        // sigmoid(0) = 0.5, sigmoid(ln 3) = 0.75. Expert 0's bias lifts it above expert 1 for the
        // choice; its weight is still its own sigmoid score.
        let r = Router(scoring: .sigmoid, topK: 1, normalize: false, scale: 2.5, correctionBias: [0.5, 0, 0, 0])
        let (ids, w) = route(r, [0, logf(3), -10, -10])
        #expect(ids == [0])
        #expect(abs(w[0] - 0.5 * 2.5) < 1e-6)
    }

    @Test func groupLimitedChoice() {
        // 4 groups of 2. Sigmoid scores: group sums decide; the single best expert (id 6, in a weak
        // group) must not be chosen when only 2 groups are allowed.
        let s: [Float] = [0.6, 0.6, 0.7, 0.7, 0.1, 0.1, 0.95, 0.05]
        let logits = s.map { logf($0 / (1 - $0)) }   // inverse sigmoid
        let r = Router(scoring: .sigmoid, topK: 2, normalize: true, normalizeEpsilon: 1e-20, groups: 4, topKGroups: 2)
        let (ids, w) = route(r, logits)
        // group sums: 1.2, 1.4, 0.2, 1.0 -> groups 1 and 0 kept; best experts 2 and 3 (0.7 each).
        #expect(ids == [2, 3])
        #expect(abs(w[0] - 0.5) < 1e-6 && abs(w[1] - 0.5) < 1e-6)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
