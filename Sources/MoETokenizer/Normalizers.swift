import Foundation

/// A text normalizer of tokenizer.json (`normalizer`), working on UTF-8 bytes.
indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case prepend([UInt8])
    case replace(Pattern, content: [UInt8])
    case strip(left: Bool, right: Bool)
    case stripAccents
    /// The ByteLevel normalizer: every byte becomes its GPT-2 character.
    case byteLevel
    case sequence([Normalizer])

    func normalize(_ input: [UInt8]) -> [UInt8] {
        switch self {
        case .nfc: return unicodeNormalize(input, form: .nfc)
        case .nfd: return unicodeNormalize(input, form: .nfd)
        case .nfkc: return unicodeNormalize(input, form: .nfkc)
        case .nfkd: return unicodeNormalize(input, form: .nfkd)
        case .lowercase: return lowercase(input)
        case .prepend(let p):
            return input.isEmpty ? input : p + input
        case .replace(let pattern, let content):
            return pattern.replaceAll(in: input, with: content)
        case .strip(let left, let right):
            return strip(input, left: left, right: right)
        case .stripAccents:
            return stripAccents(input)
        case .byteLevel:
            var out: [UInt8] = []
            input.withUnsafeBufferPointer { ByteLevelTable.encode($0, into: &out) }
            return out
        case .sequence(let list):
            var s = input
            for n in list { s = n.normalize(s) }
            return s
        }
    }

    enum Form { case nfc, nfd, nfkc, nfkd }

    private func unicodeNormalize(_ input: [UInt8], form: Form) -> [UInt8] {
        // Fast path: text below U+0300 is unchanged by NFC and NFD-stable only if ASCII; NFKC/NFKD: ASCII only.
        var maxByte: UInt8 = 0
        var needs = false
        input.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let b = p[i]
                if b >= 0x80 {
                    maxByte = max(maxByte, b)
                    if form != .nfc { needs = true; return }
                    let (v, l) = decodeScalar(p, i)
                    if v >= 0x300 { needs = true; return }
                    i += l
                } else {
                    i += 1
                }
            }
        }
        if !needs { return input }
        let s = String(decoding: input, as: UTF8.self)
        let r: String
        switch form {
        case .nfc: r = s.precomposedStringWithCanonicalMapping
        case .nfd: r = s.decomposedStringWithCanonicalMapping
        case .nfkc: r = s.precomposedStringWithCompatibilityMapping
        case .nfkd: r = s.decomposedStringWithCompatibilityMapping
        }
        return Array(r.utf8)
    }

    /// Per-scalar full lowercase mapping, no context (as Rust's `char::to_lowercase` per char).
    private func lowercase(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        input.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let b = p[i]
                if b < 0x80 {
                    out.append(b >= 0x41 && b <= 0x5A ? b + 32 : b)
                    i += 1
                    continue
                }
                let (v, l) = decodeScalar(p, i)
                let mapped = Unicode.Scalar(v)!.properties.lowercaseMapping
                out.append(contentsOf: mapped.utf8)
                i += l
            }
        }
        return out
    }

    private func strip(_ input: [UInt8], left: Bool, right: Bool) -> [UInt8] {
        input.withUnsafeBufferPointer { p in
            var s = 0, e = p.count
            if left {
                while s < e {
                    let (v, l) = decodeScalar(p, s)
                    if UnicodeClasses.flags(v).contains(.space) { s += l } else { break }
                }
            }
            if right {
                while e > s {
                    let j = previousScalarStart(p, e)
                    let (v, _) = decodeScalar(p, j)
                    if UnicodeClasses.flags(v).contains(.space) { e = j } else { break }
                }
            }
            return Array(p[s..<e])
        }
    }

    /// Removes combining marks (HF's StripAccents; usually after NFD).
    private func stripAccents(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        input.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let (v, l) = decodeScalar(p, i)
                if !UnicodeClasses.flags(v).contains(.mark) {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<(i + l)]))
                }
                i += l
            }
        }
        return out
    }
}

/// A `String` or `Regex` pattern of `Replace` / `Split`.
enum Pattern: Sendable {
    case literal([UInt8])
    case regex(PieceMatcher)

    /// Non-overlapping matches, leftmost first, as (start, end) byte offsets.
    func matches(in input: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        switch self {
        case .literal(let needle):
            let n = needle.count
            guard n > 0, input.count >= n else { return }
            needle.withUnsafeBufferPointer { q in
                var i = 0
                let first = q[0]
                while i + n <= input.count {
                    if input[i] == first && memcmpBytes(input.baseAddress! + i, q.baseAddress!, n) {
                        out.append(i)
                        out.append(i + n)
                        i += n
                    } else {
                        i += 1
                    }
                }
            }
        case .regex(let m):
            m.matches(in: input, into: &out)
        }
    }

    func replaceAll(in input: [UInt8], with content: [UInt8]) -> [UInt8] {
        var spans: [Int] = []
        input.withUnsafeBufferPointer { matches(in: $0, into: &spans) }
        if spans.isEmpty { return input }
        var out: [UInt8] = []
        out.reserveCapacity(input.count + spans.count / 2 * content.count)
        var prev = 0
        var k = 0
        while k < spans.count {
            out.append(contentsOf: input[prev..<spans[k]])
            out.append(contentsOf: content)
            prev = spans[k + 1]
            k += 2
        }
        out.append(contentsOf: input[prev...])
        return out
    }
}

extension Normalizer {
    /// The steps of a normalizer (sequences flattened), as text that is equal for equal normalizers.
    static func signature(_ n: Normalizer?) -> [String] {
        guard let n else { return [] }
        switch n {
        case .sequence(let list): return list.flatMap { signature($0) }
        case .replace(.literal(let s), let c): return ["Replace(\(s), \(c))"]
        case .replace(.regex(let m), let c): return ["Replace(\(m.pattern), \(c))"]
        default: return ["\(n)"]
        }
    }
}
