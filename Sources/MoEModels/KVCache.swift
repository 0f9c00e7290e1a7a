/// The per-position state every attention layer keeps, f32 rows that grow by doubling:
/// - GQA layers: `keys` and `values`, each `[kvHeads, capacity, headDim]`: head-major, so the
///   attention of one key/value head streams contiguous memory;
/// - MLA layers: `keys` holds the compressed latent `[capacity, kvLoraRank + ropeDim]` (normalised
///   latent, then the rotated shared key), `values` is empty — the absorbed form needs nothing else;
/// - layers with their own DSA indexer also keep the indexer keys `[capacity, indexHeadDim]`.
public final class KVCache: @unchecked Sendable {
    /// Row widths per layer, in floats.
    public struct Widths: Sendable, Equatable {
        public var keys: Int
        public var values: Int
        public var index: Int
        /// Heads the key and value rows hold side by side; stored head-major when more than one.
        public var heads: Int
        public init(keys: Int, values: Int, index: Int = 0, heads: Int = 1) {
            self.keys = keys
            self.values = values
            self.index = index
            self.heads = max(1, heads)
        }
    }

    public let widths: [Widths]
    public private(set) var capacity: Int
    /// Positions stored.
    public internal(set) var length: Int = 0
    var keys: [UnsafeMutablePointer<Float>]
    var values: [UnsafeMutablePointer<Float>]
    var indexKeys: [UnsafeMutablePointer<Float>]

    public init(widths: [Widths], capacity: Int = 256) {
        self.widths = widths
        self.capacity = max(1, capacity)
        let c = max(1, capacity)
        keys = widths.map { .allocate(capacity: max(1, c * $0.keys)) }
        values = widths.map { .allocate(capacity: max(1, c * $0.values)) }
        indexKeys = widths.map { .allocate(capacity: max(1, c * $0.index)) }
    }

    deinit {
        for p in keys + values + indexKeys { p.deallocate() }
    }

    public var layers: Int { widths.count }

    /// Bytes held per cached position across all layers.
    public var bytesPerPosition: Int {
        widths.reduce(0) { $0 + ($1.keys + $1.values + $1.index) * MemoryLayout<Float>.size }
    }

    /// Makes room for `n` positions in total.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        var c = capacity
        while c < n { c *= 2 }
        for (l, w) in widths.enumerated() {
            keys[l] = grow(keys[l], width: w.keys, heads: w.heads, to: c)
            values[l] = grow(values[l], width: w.values, heads: w.heads, to: c)
            indexKeys[l] = grow(indexKeys[l], width: w.index, heads: 1, to: c)
        }
        capacity = c
    }

    /// A copy with room for `c` positions: each head's block of `length` rows moves to its new place.
    private func grow(_ p: UnsafeMutablePointer<Float>, width: Int, heads: Int, to c: Int) -> UnsafeMutablePointer<Float> {
        guard width > 0 else { return p }
        let q = UnsafeMutablePointer<Float>.allocate(capacity: c * width)
        let w = width / heads
        for h in 0..<heads { (q + h * c * w).update(from: p + h * capacity * w, count: length * w) }
        p.deallocate()
        return q
    }

    /// Head `h`'s rows of layer `l`'s keys (`values` false) or values: `[capacity, width / heads]`.
    func head(_ h: Int, layer l: Int, values v: Bool) -> UnsafeMutablePointer<Float> {
        let w = widths[l]
        return (v ? values[l] : keys[l]) + h * capacity * ((v ? w.values : w.keys) / w.heads)
    }

    /// Forgets everything after the first `n` positions.
    public func truncate(to n: Int) {
        length = min(length, max(0, n))
    }
}
