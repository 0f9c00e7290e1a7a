#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a routing trace used the experts, layer by layer.
public struct ExpertStatistics: Sendable {
    public struct Layer: Sendable {
        /// Decoder-layer index.
        public var layer: Int
        /// Times each expert fired.
        public var histogram: [Int]
        /// Entropy of the usage distribution in bits (log2(experts) when perfectly balanced).
        public var entropyBits: Double
        /// Standard deviation over mean of the usage counts (0 when perfectly balanced).
        public var coefficientOfVariation: Double
        /// Share of a token's experts that the previous token also used.
        public var reuseRate: Double
        public var distinctUsed: Int { histogram.filter { $0 > 0 }.count }
    }

    public var layers: [Layer]
    public var experts: Int
    public var positions: Int

    /// From `experts[moeLayer][position][k]` over `expertCount` experts; `layerIndices` names the
    /// decoder layer of each MoE layer.
    public init(experts trace: [[[Int]]], expertCount: Int, layerIndices: [Int]) {
        experts = expertCount
        positions = trace.first?.count ?? 0
        layers = trace.enumerated().map { l, positions in
            var h = [Int](repeating: 0, count: expertCount)
            for p in positions { for e in p where e >= 0 && e < expertCount { h[e] += 1 } }
            let total = Double(h.reduce(0, +))
            var entropy = 0.0
            if total > 0 {
                for c in h where c > 0 {
                    let q = Double(c) / total
                    entropy -= q * log2(q)
                }
            }
            let mean = total / Double(max(expertCount, 1))
            let variance = h.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(max(expertCount, 1))
            var reused = 0, chosen = 0
            for i in positions.indices.dropFirst() {
                let prev = Set(positions[i - 1])
                reused += positions[i].filter { prev.contains($0) }.count
                chosen += positions[i].count
            }
            return Layer(layer: l < layerIndices.count ? layerIndices[l] : l, histogram: h, entropyBits: entropy,
                         coefficientOfVariation: mean > 0 ? variance.squareRoot() / mean : 0,
                         reuseRate: chosen > 0 ? Double(reused) / Double(chosen) : 0)
        }
    }
}
