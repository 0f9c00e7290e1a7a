/// The per-position state every attention layer keeps, f32 rows that grow by doubling:
/// - GQA layers: `keys` and `values`, each `[capacity, kvHeads*headDim]`;
/// - MLA layers: `keys` holds the compressed latent `[capacity, kvLoraRank + ropeDim]` (normalised
///   latent, then the rotated shared key), `values` is empty — the absorbed form needs nothing else;
/// - layers with their own DSA indexer also keep the indexer keys `[capacity, indexHeadDim]`.
public final class KVCache: @unchecked Sendable {
    /// Row widths per layer, in floats.
    public struct Widths: Sendable, Equatable {
        public var keys: Int
        public var values: Int
        public var index: Int
        public init(keys: Int, values: Int, index: Int = 0) {
            self.keys = keys
            self.values = values
            self.index = index
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
            keys[l] = grow(keys[l], width: w.keys, to: c)
            values[l] = grow(values[l], width: w.values, to: c)
            indexKeys[l] = grow(indexKeys[l], width: w.index, to: c)
        }
        capacity = c
    }

    private func grow(_ p: UnsafeMutablePointer<Float>, width: Int, to c: Int) -> UnsafeMutablePointer<Float> {
        guard width > 0 else { return p }
        let q = UnsafeMutablePointer<Float>.allocate(capacity: c * width)
        q.update(from: p, count: length * width)
        p.deallocate()
        return q
    }

    /// Forgets everything after the first `n` positions.
    public func truncate(to n: Int) {
        length = min(length, max(0, n))
    }
}
