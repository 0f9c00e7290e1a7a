/// Hash tables keyed by raw bytes. Token strings are compared byte for byte: Swift `String` equality is
/// canonical equivalence ("é" == "e\u{301}"), which would merge distinct vocabulary entries.

@inline(__always)
func hashBytes(_ p: UnsafeRawBufferPointer) -> UInt64 {
    let n = p.count
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ (UInt64(truncatingIfNeeded: n) &* 0xC2B2_AE3D_27D4_EB4F)
    var i = 0
    while i + 8 <= n {
        let w = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 29
        i += 8
    }
    if i < n {
        var w: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            w |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ w) &* 0xC4CE_B9FE_1A85_EC53
    }
    h ^= h >> 33
    h = h &* 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 33
    return h
}

/// Byte string → Int32, open addressing. Keys live in one arena.
struct ByteKeyTable: Sendable {
    private var arena: [UInt8] = []
    private var keyStart: [Int32] = []
    private var keyLength: [Int32] = []
    private var values: [Int32] = []
    private var slots: [Int32]            // entry index, or -1
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    private func keyEquals(_ e: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let len = Int(keyLength[e])
        guard len == key.count else { return false }
        if len == 0 { return true }
        return arena.withUnsafeBytes { a in
            memcmpBytes(a.baseAddress! + Int(keyStart[e]), key.baseAddress!, len)
        }
    }

    /// The value of `key`, or -1.
    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer) -> Int32 {
        var i = Int(truncatingIfNeeded: hashBytes(key)) & mask
        while true {
            let e = slots[i]
            if e < 0 { return -1 }
            if keyEquals(Int(e), key) { return values[Int(e)] }
            i = (i + 1) & mask
        }
    }

    func find(_ key: [UInt8]) -> Int32 {
        key.withUnsafeBytes { find($0) }
    }

    /// Inserts or overwrites.
    mutating func set(_ key: UnsafeRawBufferPointer, _ value: Int32) {
        if (count + 1) * 2 > slots.count { grow() }
        var i = Int(truncatingIfNeeded: hashBytes(key)) & mask
        while true {
            let e = slots[i]
            if e < 0 { break }
            if keyEquals(Int(e), key) { values[Int(e)] = value; return }
            i = (i + 1) & mask
        }
        slots[i] = Int32(keyStart.count)
        keyStart.append(Int32(arena.count))
        keyLength.append(Int32(key.count))
        arena.append(contentsOf: key)
        values.append(value)
        count += 1
    }

    mutating func set(_ key: [UInt8], _ value: Int32) {
        key.withUnsafeBytes { set($0, value) }
    }

    private mutating func grow() {
        let size = slots.count * 2
        var newSlots = [Int32](repeating: -1, count: size)
        let newMask = size - 1
        arena.withUnsafeBytes { a in
            for e in 0..<keyStart.count {
                let key = UnsafeRawBufferPointer(rebasing: a[Int(keyStart[e])..<Int(keyStart[e] + keyLength[e])])
                var i = Int(truncatingIfNeeded: hashBytes(key)) & newMask
                while newSlots[i] >= 0 { i = (i + 1) & newMask }
                newSlots[i] = Int32(e)
            }
        }
        slots = newSlots
        mask = newMask
    }
}

@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// (left id, right id) → (rank, merged id), open addressing.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var ranks: [Int32]
    private var results: [Int32]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: PairTable.empty, count: size)
        ranks = [Int32](repeating: 0, count: size)
        results = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func slot(_ k: UInt64, _ mask: Int) -> Int {
        var h = k &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Later entries overwrite earlier ones (as a Rust HashMap built from the merges list does).
    mutating func set(_ a: Int32, _ b: Int32, rank: Int32, result: Int32) {
        if (count + 1) * 2 > keys.count { grow() }
        let k = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        var i = PairTable.slot(k, mask)
        while keys[i] != PairTable.empty && keys[i] != k { i = (i + 1) & mask }
        if keys[i] == PairTable.empty { count += 1 }
        keys[i] = k
        ranks[i] = rank
        results[i] = result
    }

    /// (rank, merged id), or rank -1.
    @inline(__always)
    func find(_ a: Int32, _ b: Int32) -> (rank: Int32, result: Int32) {
        let k = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        var i = PairTable.slot(k, mask)
        while true {
            let key = keys[i]
            if key == k { return (ranks[i], results[i]) }
            if key == PairTable.empty { return (-1, -1) }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldRanks = ranks, oldResults = results
        let size = keys.count * 2
        keys = [UInt64](repeating: PairTable.empty, count: size)
        ranks = [Int32](repeating: 0, count: size)
        results = [Int32](repeating: 0, count: size)
        mask = size - 1
        for i in 0..<oldKeys.count where oldKeys[i] != PairTable.empty {
            var j = PairTable.slot(oldKeys[i], mask)
            while keys[j] != PairTable.empty { j = (j + 1) & mask }
            keys[j] = oldKeys[i]
            ranks[j] = oldRanks[i]
            results[j] = oldResults[i]
        }
    }
}
