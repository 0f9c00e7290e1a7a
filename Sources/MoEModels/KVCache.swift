/// Keys and values of every attention layer for the positions seen so far:
/// per layer `keys`/`values` are `[capacity, kvHeads*headDim]` f32 rows. Grows by doubling.
public final class KVCache: @unchecked Sendable {
    public let layers: Int
    public let rowWidth: Int
    public private(set) var capacity: Int
    /// Positions stored.
    public internal(set) var length: Int = 0
    var keys: [UnsafeMutablePointer<Float>]
    var values: [UnsafeMutablePointer<Float>]

    public init(layers: Int, rowWidth: Int, capacity: Int = 256) {
        self.layers = layers
        self.rowWidth = rowWidth
        self.capacity = max(1, capacity)
        keys = (0..<layers).map { _ in .allocate(capacity: max(1, capacity) * rowWidth) }
        values = (0..<layers).map { _ in .allocate(capacity: max(1, capacity) * rowWidth) }
    }

    deinit {
        for p in keys { p.deallocate() }
        for p in values { p.deallocate() }
    }

    /// Bytes held per cached position across all layers.
    public var bytesPerPosition: Int { layers * 2 * rowWidth * MemoryLayout<Float>.size }

    /// Makes room for `n` positions in total.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        var c = capacity
        while c < n { c *= 2 }
        for l in 0..<layers {
            keys[l] = grow(keys[l], to: c)
            values[l] = grow(values[l], to: c)
        }
        capacity = c
    }

    private func grow(_ p: UnsafeMutablePointer<Float>, to c: Int) -> UnsafeMutablePointer<Float> {
        let q = UnsafeMutablePointer<Float>.allocate(capacity: c * rowWidth)
        q.update(from: p, count: length * rowWidth)
        p.deallocate()
        return q
    }

    /// Forgets everything after the first `n` positions.
    public func truncate(to n: Int) {
        length = min(length, max(0, n))
    }
}
