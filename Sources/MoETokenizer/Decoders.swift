/// A decoder of tokenizer.json (`decoder`): turns token strings (UTF-8 bytes) into text, as HF's
/// `decode_chain` does, step by step.
indirect enum Decoder: Sendable {
    case byteLevel
    case metaspace(replacement: UInt32, prepend: PrependScheme)
    case replace(Pattern, content: [UInt8])
    case byteFallback
    case fuse
    case strip(content: UInt32, start: Int, stop: Int)
    case bpe(suffix: [UInt8])
    case wordPiece(prefix: [UInt8], cleanup: Bool)
    case sequence([Decoder])

    /// The final text.
    func decode(_ tokens: [[UInt8]]) -> String {
        let parts = chain(tokens)
        var all: [UInt8] = []
        for p in parts { all.append(contentsOf: p) }
        return String(decoding: all, as: UTF8.self)
    }

    func chain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens { Decoder.appendByteLevel(t, to: &bytes) }
            return [Array(lossyString(bytes).utf8)]
        case .metaspace(let replacement, let prepend):
            return tokens.enumerated().map { i, t in
                var out: [UInt8] = []
                t.withUnsafeBufferPointer { p in
                    var k = 0
                    while k < p.count {
                        let (v, l) = decodeScalar(p, k)
                        if v == replacement {
                            if !(i == 0 && prepend != .never) { out.append(0x20) }
                        } else {
                            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[k..<(k + l)]))
                        }
                        k += l
                    }
                }
                return out
            }
        case .replace(let pattern, let content):
            return tokens.map { pattern.replaceAll(in: $0, with: content) }
        case .byteFallback:
            var out: [[UInt8]] = []
            var pending: [UInt8] = []
            func flush() {
                if pending.isEmpty { return }
                if isValidUTF8(pending) {
                    out.append(pending)
                } else {
                    for _ in pending { out.append(replacementCharacterUTF8) }
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Decoder.byteToken(t) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            var all: [UInt8] = []
            for t in tokens { all.append(contentsOf: t) }
            return [all]
        case .strip(let content, let start, let stop):
            return tokens.map { t in
                var scalars: [(UInt32, Int, Int)] = []   // value, offset, length
                t.withUnsafeBufferPointer { p in
                    var k = 0
                    while k < p.count {
                        let (v, l) = decodeScalar(p, k)
                        scalars.append((v, k, l))
                        k += l
                    }
                }
                var startCut = 0
                for i in 0..<min(start, scalars.count) {
                    if scalars[i].0 == content { startCut = i + 1 } else { break }
                }
                var stopCut = scalars.count
                for i in 0..<min(stop, scalars.count) {
                    let index = scalars.count - i - 1
                    if scalars[index].0 == content { stopCut = index } else { break }
                }
                if startCut >= stopCut { return [] }
                let a = scalars[startCut].1
                let b = stopCut < scalars.count ? scalars[stopCut].1 : t.count
                return Array(t[a..<b])
            }
        case .bpe(let suffix):
            let n = tokens.count
            return tokens.enumerated().map { i, t in
                Pattern.literal(suffix).replaceAll(in: t, with: i == n - 1 ? [] : [0x20])
            }
        case .wordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { i, t in
                var s = t
                if i != 0 {
                    if !prefix.isEmpty && s.starts(with: prefix) {
                        s.removeFirst(prefix.count)
                    } else {
                        s.insert(0x20, at: 0)
                    }
                }
                if cleanup { s = Decoder.cleanup(s) }
                return s
            }
        case .sequence(let list):
            var t = tokens
            for d in list { t = d.chain(t) }
            return t
        }
    }

    /// `<0xXX>` → the byte (HF: six bytes, `<0x` prefix, `>` suffix, two hex digits).
    static func byteToken(_ t: [UInt8]) -> UInt8? {
        guard t.count == 6, t[0] == 0x3C, t[1] == 0x30, t[2] == 0x78, t[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        guard let h = hex(t[3]), let l = hex(t[4]) else { return nil }
        return h << 4 | l
    }

    /// The bytes of a byte-level token: each character's byte when all characters are of the GPT-2 table, else
    /// the token's own UTF-8.
    static func appendByteLevel(_ t: [UInt8], to out: inout [UInt8]) {
        let start = out.count
        var ok = true
        t.withUnsafeBufferPointer { p in
            var k = 0
            while k < p.count {
                let (v, l) = decodeScalar(p, k)
                guard let b = ByteLevelTable.byte(for: v) else { ok = false; return }
                out.append(b)
                k += l
            }
        }
        if !ok {
            out.removeSubrange(start...)
            out.append(contentsOf: t)
        }
    }

    /// WordPiece's `cleanup`: removes spaces before punctuation and in English contractions.
    static func cleanup(_ s: [UInt8]) -> [UInt8] {
        var text = String(decoding: s, as: UTF8.self)
        for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                       (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            text = String(decoding: Pattern.literal(Array(a.utf8)).replaceAll(in: Array(text.utf8), with: Array(b.utf8)),
                          as: UTF8.self)
        }
        return Array(text.utf8)
    }
}
