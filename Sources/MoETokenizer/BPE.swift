/// GPT-2's byte ↔ printable-character table: bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` stand for themselves, the other 68
/// bytes for U+0100 onwards in byte order.
enum ByteLevelTable {
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 + n
                n += 1
            }
        }
        return table
    }()

    /// UTF-8 of each byte's character.
    static let byteToUTF8: [[UInt8]] = byteToScalar.map { v in
        var out: [UInt8] = []
        appendUTF8(v, to: &out)
        return out
    }

    /// Scalar → byte for the 256 characters of the table (index < 0x144), -1 elsewhere.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, v) in byteToScalar.enumerated() { table[Int(v)] = Int16(b) }
        return table
    }()

    /// The byte a character stands for, or nil.
    @inline(__always)
    static func byte(for scalar: UInt32) -> UInt8? {
        guard scalar < 0x144 else { return nil }
        let b = scalarToByte[Int(scalar)]
        return b < 0 ? nil : UInt8(b)
    }

    /// Maps every byte of `bytes` to its character's UTF-8.
    static func encode(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        for b in bytes { out.append(contentsOf: byteToUTF8[Int(b)]) }
    }
}

/// Reusable scratch of one encode call.
struct BPEWork {
    var c: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var len: [Int32] = []
    var heap: [UInt64] = []
    var text: [UInt8] = []
    var key: [UInt8] = []
    /// Word cache: piece bytes → range in `cacheIds`.
    var cache = ByteKeyTable(capacity: 1024)
    var cacheStart: [Int32] = []
    var cacheCount: [Int32] = []
    var cacheIds: [Int32] = []
}

/// The BPE model of HF `tokenizers` (`models.BPE`): vocabulary, ranked merges, unknown token (optionally fused),
/// byte fallback to `<0xXX>` tokens, `ignore_merges`, `continuing_subword_prefix`, `end_of_word_suffix`.
/// Dropout is not supported (it is random).
final class BPEModel: Sendable {
    let vocab: ByteKeyTable
    /// id → token bytes (nil for ids the vocabulary does not use).
    let tokens: [[UInt8]?]
    let vocabCount: Int
    let merges: PairTable
    let unkId: Int32
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    let prefix: [UInt8]
    let suffix: [UInt8]
    /// `<0xXX>` ids per byte (-1 if absent).
    let byteFallbackIds: [Int32]
    /// Id of each byte's GPT-2 character (-1 if absent), for byte-level input.
    let byteLevelIds: [Int32]
    /// Whether any prefix/suffix is configured (slow path).
    let affixes: Bool
    /// Whether a word may be cut before every "▁" (U+2581) that follows another character without changing the
    /// result: true when "▁" is a token, no token has a character other than "▁" right before a "▁" (so no merge
    /// can join across such a cut), and neither `ignore_merges` nor affixes look at whole words. SentencePiece
    /// vocabularies (Llama 2, Mistral) have this shape; it keeps BPE on space-joined text linear.
    let cutsBeforeMetaspace: Bool

    /// `merges` are pairs of token strings, highest priority first. Throws for a merge whose parts or result are
    /// not in the vocabulary (the message names `mergesKey[i]`).
    init(vocab entries: [([UInt8], Int32)], merges: [([UInt8], [UInt8])], mergesKey: String,
         unkToken: [UInt8]?, fuseUnk: Bool, byteFallback: Bool, ignoreMerges: Bool,
         continuingSubwordPrefix: [UInt8]?, endOfWordSuffix: [UInt8]?) throws {
        var table = ByteKeyTable(capacity: entries.count)
        var maxId: Int32 = -1
        for (bytes, id) in entries {
            guard id >= 0 else {
                throw TokenizerError.invalidValue(key: "model.vocab", message: "negative id \(id)")
            }
            table.set(bytes, id)
            maxId = max(maxId, id)
        }
        var toks = [[UInt8]?](repeating: nil, count: Int(maxId + 1))
        for (bytes, id) in entries { toks[Int(id)] = bytes }
        vocab = table
        tokens = toks
        vocabCount = table.count

        let prefixBytes = continuingSubwordPrefix ?? []
        var pairs = PairTable(capacity: merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            let ia = table.find(a), ib = table.find(b)
            guard ia >= 0 else {
                throw TokenizerError.badMerge(key: "\(mergesKey)[\(rank)]",
                                              message: "token \"\(String(decoding: a, as: UTF8.self))\" is not in the vocabulary")
            }
            guard ib >= 0 else {
                throw TokenizerError.badMerge(key: "\(mergesKey)[\(rank)]",
                                              message: "token \"\(String(decoding: b, as: UTF8.self))\" is not in the vocabulary")
            }
            var merged = a
            if b.count >= prefixBytes.count, !prefixBytes.isEmpty, Array(b.prefix(prefixBytes.count)) == prefixBytes {
                merged.append(contentsOf: b.dropFirst(prefixBytes.count))
            } else if prefixBytes.isEmpty {
                merged.append(contentsOf: b)
            } else {
                // HF drops prefix.len() bytes from b whatever they are.
                merged.append(contentsOf: b.dropFirst(min(prefixBytes.count, b.count)))
            }
            let im = table.find(merged)
            guard im >= 0 else {
                throw TokenizerError.badMerge(key: "\(mergesKey)[\(rank)]",
                                              message: "merged token \"\(String(decoding: merged, as: UTF8.self))\" is not in the vocabulary")
            }
            pairs.set(ia, ib, rank: Int32(rank), result: im)
        }
        self.merges = pairs

        if let unk = unkToken {
            let id = table.find(unk)
            guard id >= 0 else {
                throw TokenizerError.invalidValue(key: "model.unk_token",
                                                  message: "\"\(String(decoding: unk, as: UTF8.self))\" is not in the vocabulary")
            }
            unkId = id
        } else {
            unkId = -1
        }
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        prefix = prefixBytes
        suffix = endOfWordSuffix ?? []
        affixes = !prefix.isEmpty || !suffix.isEmpty
        let hex = Array("0123456789ABCDEF".utf8)
        byteFallbackIds = (0..<256).map { b in
            table.find([UInt8(ascii: "<"), UInt8(ascii: "0"), UInt8(ascii: "x"), hex[b >> 4], hex[b & 15], UInt8(ascii: ">")])
        }
        byteLevelIds = (0..<256).map { b in table.find(ByteLevelTable.byteToUTF8[b]) }
        let meta: [UInt8] = [0xE2, 0x96, 0x81]
        var cuttable = !ignoreMerges && !affixes && table.find(meta) >= 0
        if cuttable {
            outer: for (bytes, _) in entries where bytes.count > 3 {
                var i = 1
                while i + 3 <= bytes.count {
                    if bytes[i] == 0xE2 && bytes[i + 1] == 0x96 && bytes[i + 2] == 0x81
                        && !(i >= 3 && bytes[i - 3] == 0xE2 && bytes[i - 2] == 0x96 && bytes[i - 1] == 0x81) {
                        cuttable = false
                        break outer
                    }
                    i += 1
                }
            }
        }
        cutsBeforeMetaspace = cuttable
    }

    func token(_ id: Int32) -> [UInt8]? {
        guard id >= 0, Int(id) < tokens.count else { return nil }
        return tokens[Int(id)]
    }

    /// Appends the ids of one pre-tokenized piece. With `byteLevel`, the piece is raw bytes that stand for their
    /// GPT-2 characters (the ByteLevel pre-tokenizer's mapping, applied here without building the mapped string).
    func tokenize(_ piece: UnsafeBufferPointer<UInt8>, byteLevel: Bool, into out: inout [Int32], work: inout BPEWork) {
        if piece.isEmpty { return }
        if cutsBeforeMetaspace && !byteLevel && piece.count > 3 {
            var start = 0
            var i = 1
            while i + 3 <= piece.count {
                if piece[i] == 0xE2 && piece[i + 1] == 0x96 && piece[i + 2] == 0x81
                    && !(i >= 3 && piece[i - 3] == 0xE2 && piece[i - 2] == 0x96 && piece[i - 1] == 0x81) {
                    tokenizeWord(UnsafeBufferPointer(rebasing: piece[start..<i]), byteLevel: false, into: &out, work: &work)
                    start = i
                    i += 3
                } else {
                    i += 1
                }
            }
            tokenizeWord(UnsafeBufferPointer(rebasing: piece[start...]), byteLevel: false, into: &out, work: &work)
            return
        }
        tokenizeWord(piece, byteLevel: byteLevel, into: &out, work: &work)
    }

    private func tokenizeWord(_ piece: UnsafeBufferPointer<UInt8>, byteLevel: Bool, into out: inout [Int32],
                              work: inout BPEWork) {
        if piece.isEmpty { return }
        let cacheable = piece.count < 256
        if cacheable {
            let hit = work.cache.find(UnsafeRawBufferPointer(piece))
            if hit >= 0 {
                let s = Int(work.cacheStart[Int(hit)]), n = Int(work.cacheCount[Int(hit)])
                out.append(contentsOf: work.cacheIds[s..<(s + n)])
                return
            }
        }
        let before = out.count
        tokenizeUncached(piece, byteLevel: byteLevel, into: &out, work: &work)
        if cacheable {
            let entry = Int32(work.cacheStart.count)
            work.cacheStart.append(Int32(work.cacheIds.count))
            work.cacheCount.append(Int32(out.count - before))
            work.cacheIds.append(contentsOf: out[before...])
            work.cache.set(UnsafeRawBufferPointer(piece), entry)
        }
    }

    private func tokenizeUncached(_ piece: UnsafeBufferPointer<UInt8>, byteLevel: Bool, into out: inout [Int32],
                                  work: inout BPEWork) {
        if ignoreMerges {
            let id: Int32
            if byteLevel {
                work.text.removeAll(keepingCapacity: true)
                ByteLevelTable.encode(piece, into: &work.text)
                id = work.text.withUnsafeBytes { vocab.find($0) }
            } else {
                id = vocab.find(UnsafeRawBufferPointer(piece))
            }
            if id >= 0 { out.append(id); return }
        }
        work.c.removeAll(keepingCapacity: true)
        work.len.removeAll(keepingCapacity: true)
        var pendingUnk: Int32 = -1
        var pendingLen: Int32 = 0

        @inline(__always) func add(_ id: Int32, _ n: Int32) {
            work.c.append(id)
            work.len.append(n)
        }
        // One "character" of the word: its string (with affixes) and its byte length in the piece.
        func handle(_ s: UnsafeRawBufferPointer, byteLen: Int32, knownId: Int32?) {
            let id = knownId ?? vocab.find(s)
            if id >= 0 {
                if pendingUnk >= 0 {
                    add(pendingUnk, pendingLen)
                    pendingUnk = -1
                }
                add(id, byteLen)
                return
            }
            if byteFallback {
                var all = true
                for b in s where byteFallbackIds[Int(b)] < 0 { all = false; break }
                if all {
                    for b in s { add(byteFallbackIds[Int(b)], 1) }
                    return
                }
            }
            if unkId >= 0 {
                if pendingUnk >= 0 && fuseUnk {
                    pendingLen += byteLen
                } else {
                    if pendingUnk >= 0 { add(pendingUnk, pendingLen) }
                    pendingUnk = unkId
                    pendingLen = byteLen
                }
            }
        }

        if !affixes && byteLevel {
            for b in piece {
                let id = byteLevelIds[Int(b)]
                if id >= 0 && pendingUnk < 0 {
                    add(id, 1)
                } else {
                    ByteLevelTable.byteToUTF8[Int(b)].withUnsafeBytes { handle($0, byteLen: 1, knownId: id) }
                }
            }
        } else if !affixes {
            var i = 0
            let raw = UnsafeRawBufferPointer(piece)
            while i < piece.count {
                let n = scalarLength(piece[i])
                handle(UnsafeRawBufferPointer(rebasing: raw[i..<(i + n)]), byteLen: Int32(n), knownId: nil)
                i += n
            }
        } else {
            // Characters with the continuing-subword prefix (all but the first) and end-of-word suffix (the last).
            var starts: [Int] = []
            var i = 0
            while i < piece.count {
                starts.append(i)
                i += byteLevel ? 1 : scalarLength(piece[i])
            }
            for (k, s) in starts.enumerated() {
                let e = k + 1 < starts.count ? starts[k + 1] : piece.count
                work.key.removeAll(keepingCapacity: true)
                if k > 0 { work.key.append(contentsOf: prefix) }
                if byteLevel {
                    work.key.append(contentsOf: ByteLevelTable.byteToUTF8[Int(piece[s])])
                } else {
                    work.key.append(contentsOf: UnsafeBufferPointer(rebasing: piece[s..<e]))
                }
                if k == starts.count - 1 { work.key.append(contentsOf: suffix) }
                let key = work.key
                key.withUnsafeBytes { handle($0, byteLen: Int32(e - s), knownId: nil) }
            }
        }
        if pendingUnk >= 0 { add(pendingUnk, pendingLen) }
        mergeAll(&work)
        for i in 0..<work.c.count where work.len[i] != 0 { out.append(work.c[i]) }
    }

    /// Applies merges lowest rank first, leftmost first among equal ranks (HF's `Word::merge_all` without dropout).
    /// Heap entries are `rank << 32 | position`; an entry is stale when the pair now at its position has another
    /// rank (for a merge table, the same rank means the same pair and so the same result, which is HF's test).
    private func mergeAll(_ w: inout BPEWork) {
        let n = w.c.count
        if n < 2 { return }
        var c = w.c, len = w.len, prev = w.prev, next = w.next, heap = w.heap
        w.c = []; w.len = []; w.prev = []; w.next = []; w.heap = []
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for i in 0..<n {
            prev.append(Int32(i - 1))
            next.append(i + 1 < n ? Int32(i + 1) : -1)
        }
        for i in 0..<(n - 1) {
            let m = merges.find(c[i], c[i + 1])
            if m.rank >= 0 { heap.append(UInt64(UInt32(m.rank)) << 32 | UInt64(i)) }
        }
        BPEModel.heapify(&heap)
        while !heap.isEmpty {
            let top = BPEModel.popMin(&heap)
            let rank = Int32(truncatingIfNeeded: top >> 32)
            let pos = Int(top & 0xFFFF_FFFF)
            if len[pos] == 0 { continue }
            let nx = next[pos]
            if nx < 0 { continue }
            let right = Int(nx)
            let m = merges.find(c[pos], c[right])
            if m.rank != rank { continue }
            let newId = m.result
            c[pos] = newId
            len[pos] += len[right]
            len[right] = 0
            let after = next[right]
            next[pos] = after
            if after >= 0 { prev[Int(after)] = Int32(pos) }
            let pv = prev[pos]
            if pv >= 0 {
                let mm = merges.find(c[Int(pv)], newId)
                if mm.rank >= 0 { BPEModel.push(&heap, UInt64(UInt32(mm.rank)) << 32 | UInt64(UInt32(pv))) }
            }
            if after >= 0 {
                let mm = merges.find(newId, c[Int(after)])
                if mm.rank >= 0 { BPEModel.push(&heap, UInt64(UInt32(mm.rank)) << 32 | UInt64(pos)) }
            }
        }
        w.c = c; w.len = len; w.prev = prev; w.next = next; w.heap = heap
    }

    private static func siftDown(_ h: UnsafeMutableBufferPointer<UInt64>, _ start: Int, _ count: Int) {
        var i = start
        let x = h[i]
        while true {
            let l = 2 * i + 1
            if l >= count { break }
            var s = l
            if l + 1 < count && h[l + 1] < h[l] { s = l + 1 }
            if h[s] >= x { break }
            h[i] = h[s]
            i = s
        }
        h[i] = x
    }

    private static func heapify(_ heap: inout [UInt64]) {
        let n = heap.count
        if n < 2 { return }
        heap.withUnsafeMutableBufferPointer { h in
            var i = n / 2 - 1
            while i >= 0 {
                siftDown(h, i, n)
                i -= 1
            }
        }
    }

    private static func popMin(_ heap: inout [UInt64]) -> UInt64 {
        let top = heap[0]
        let last = heap.removeLast()
        let n = heap.count
        if n > 0 {
            heap.withUnsafeMutableBufferPointer { h in
                h[0] = last
                siftDown(h, 0, n)
            }
        }
        return top
    }

    private static func push(_ heap: inout [UInt64], _ x: UInt64) {
        heap.append(x)
        heap.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let p = (i - 1) >> 1
                if h[p] <= x { break }
                h[i] = h[p]
                i = p
            }
            h[i] = x
        }
    }
}
