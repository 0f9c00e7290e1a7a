/// An entry of tokenizer.json's `added_tokens`.
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var singleWord: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    /// Matched against the normalized text (after the normalizer), else against the raw input.
    public var normalized: Bool
    /// Skipped by `decode(…, skipSpecialTokens: true)`.
    public var special: Bool

    public init(content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool? = nil, special: Bool = false) {
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized ?? !special
        self.special = special
    }
}

/// A byte trie for leftmost-longest matching of added tokens.
struct TokenTrie: Sendable {
    private var edges = PairTable(capacity: 64)   // (node, byte) → child
    private var terminal: [Int32] = [-1]         // node → token id
    private var firstByte = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { terminal.count == 1 }

    mutating func insert(_ bytes: [UInt8], id: Int32) {
        guard let f = bytes.first else { return }
        firstByte[Int(f)] = true
        var node: Int32 = 0
        for b in bytes {
            let child = edges.find(node, Int32(b)).result
            if child >= 0 {
                node = child
            } else {
                let new = Int32(terminal.count)
                terminal.append(-1)
                edges.set(node, Int32(b), rank: 0, result: new)
                node = new
            }
        }
        terminal[Int(node)] = id
    }

    /// Leftmost-longest non-overlapping matches: (id, start, end).
    func find(_ p: UnsafeBufferPointer<UInt8>) -> [(Int32, Int, Int)] {
        var out: [(Int32, Int, Int)] = []
        if isEmpty { return out }
        var i = 0
        let n = p.count
        while i < n {
            if !firstByte[Int(p[i])] { i += 1; continue }
            var node: Int32 = 0
            var j = i
            var best = -1
            var bestId: Int32 = -1
            while j < n {
                let child = edges.find(node, Int32(p[j])).result
                if child < 0 { break }
                node = child
                j += 1
                let t = terminal[Int(node)]
                if t >= 0 { best = j; bestId = t }
            }
            if best > 0 {
                out.append((bestId, i, best))
                i = best
            } else {
                i += 1
            }
        }
        return out
    }
}

/// Added tokens: ids, the two matching tries (raw and normalized), the special set and decode forms
/// (HF `AddedVocabulary`).
struct AddedVocabulary: Sendable {
    private(set) var byId: [Int32: AddedToken] = [:]
    private(set) var idByContent = ByteKeyTable(capacity: 16)
    /// Contents of special tokens.
    private(set) var specialContents = ByteKeyTable(capacity: 16)
    /// id → the string decode uses: the normalized content for normalized tokens whose normalization changes
    /// them, else the content.
    private(set) var decodeForm: [Int32: [UInt8]] = [:]
    private(set) var rawTrie = TokenTrie()
    private(set) var normalizedTrie = TokenTrie()
    private(set) var ids: [Int32] = []

    init() {}

    /// Adds tokens as HF's `add_tokens` does: an existing added token or model token with the same content keeps
    /// its id, others get ids from the model vocabulary size (or past the largest added id) upwards. The ids
    /// written in tokenizer.json are not consulted (HF only warns about them).
    mutating func add(_ tokens: [AddedToken], model: BPEModel, normalizer: Normalizer?) {
        let vocabSize = Int32(model.vocabCount)
        var nextId: Int32
        if let maxId = byId.keys.max() {
            nextId = (maxId >= vocabSize || vocabSize == 0) ? maxId + 1 : vocabSize
        } else {
            nextId = vocabSize
        }
        for token in tokens {
            let content = Array(token.content.utf8)
            if content.isEmpty { continue }
            let existing = idByContent.find(content)
            if existing >= 0, byId[existing] == token { continue }
            let id: Int32
            if existing >= 0 {
                id = existing
            } else {
                let m = model.vocab.find(content)
                if m >= 0 {
                    id = m
                } else {
                    id = nextId
                    nextId += 1
                }
            }
            if token.normalized, let n = normalizer {
                let normed = n.normalize(content)
                if normed != content { decodeForm[id] = normed }
            }
            idByContent.set(content, id)
            if token.special { specialContents.set(content, 1) }
            byId[id] = token
        }
        rebuildTries()
    }

    private mutating func rebuildTries() {
        var raw = TokenTrie(), norm = TokenTrie()
        // Insertion order does not matter: a content maps to one id.
        for (id, token) in byId.sorted(by: { $0.key < $1.key }) {
            if token.normalized {
                norm.insert(decodeForm[id] ?? Array(token.content.utf8), id: id)
            } else {
                raw.insert(Array(token.content.utf8), id: id)
            }
        }
        rawTrie = raw
        normalizedTrie = norm
        ids = byId.keys.sorted()
    }

    func isSpecial(_ bytes: [UInt8]) -> Bool { specialContents.find(bytes) >= 0 }

    /// The string of an added token id for decoding.
    func decodeString(_ id: Int32) -> [UInt8]? {
        guard let t = byId[id] else { return nil }
        return decodeForm[id] ?? Array(t.content.utf8)
    }

    /// HF's `find_matches`: splits `p` into (token id or -1, start, end) with the single_word / lstrip /
    /// rstrip rules. The result covers the text; an rstrip can overlap the next match as in HF.
    func split(_ p: UnsafeBufferPointer<UInt8>, normalizedTokens: Bool) -> [(Int32, Int, Int)] {
        let trie = normalizedTokens ? normalizedTrie : rawTrie
        if p.isEmpty { return [] }
        if trie.isEmpty { return [(-1, 0, p.count)] }
        var out: [(Int32, Int, Int)] = []
        var startOffset = 0
        for (id, s, e) in trie.find(p) {
            var start = s, stop = e
            let token = byId[id]!
            if token.singleWord {
                let startSpace = start == 0 || !endsWithWord(p, start)
                let stopSpace = stop == p.count || !startsWithWord(p, stop)
                if !startSpace || !stopSpace { continue }
            }
            if token.lstrip {
                start = max(trailingSpaceStart(p, start), startOffset)
            }
            if token.rstrip {
                stop = leadingSpaceEnd(p, stop)
            }
            if startOffset < start { out.append((-1, startOffset, start)) }
            out.append((id, start, stop))
            startOffset = stop
        }
        if startOffset != p.count { out.append((-1, startOffset, p.count)) }
        return out
    }

    private func endsWithWord(_ p: UnsafeBufferPointer<UInt8>, _ end: Int) -> Bool {
        let j = previousScalarStart(p, end)
        return UnicodeClasses.flags(decodeScalar(p, j).0).contains(.word)
    }

    private func startsWithWord(_ p: UnsafeBufferPointer<UInt8>, _ start: Int) -> Bool {
        UnicodeClasses.flags(decodeScalar(p, start).0).contains(.word)
    }

    /// Start of the whitespace run that ends at `end`.
    private func trailingSpaceStart(_ p: UnsafeBufferPointer<UInt8>, _ end: Int) -> Int {
        var i = end
        while i > 0 {
            let j = previousScalarStart(p, i)
            if !UnicodeClasses.flags(decodeScalar(p, j).0).contains(.space) { break }
            i = j
        }
        return i
    }

    /// End of the whitespace run that starts at `start`.
    private func leadingSpaceEnd(_ p: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < p.count {
            let (v, l) = decodeScalar(p, i)
            if !UnicodeClasses.flags(v).contains(.space) { break }
            i += l
        }
        return i
    }
}
