import Foundation

/// Hand-written scanners for the pre-tokenizer regexes that real tokenizers use, and the general regex engine
/// for any other pattern. A scanner reports exactly the matches Oniguruma's leftmost-first backtracking search
/// reports for its pattern (checked against the regex on the corpus by the tests).

/// The regexes recognised by their exact text (after writing literal CR/LF characters as `\r` / `\n`).
public enum KnownPattern: String, Sendable, CaseIterable {
    /// GPT-2's: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Llama 3 / cl100k / GLM-4: `(?i:'s|…|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// Qwen2 / Qwen3: as Llama 3 with single digits (`\p{N}`).
    case qwen2
    /// DeepSeek-V3's first Split: `\p{N}{1,3}`.
    case digits3
    /// DeepSeek-V3's second Split: `[一-龥぀-ゟ゠-ヿ]+` (CJK unified ideographs U+4E00–U+9FA5, hiragana, katakana).
    case deepseekCJK
    /// DeepSeek-V3's third Split (ASCII-punctuation-led words, letters with marks, punctuation/symbol runs, spaces).
    case deepseekV3
    /// HF's Whitespace pre-tokenizer: `\w+|[^\w\s]+` (Rust regex classes).
    case wordsAndPunctuation

    public var pattern: String {
        switch self {
        case .gpt2: return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        case .llama3:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .qwen2:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .digits3: return #"\p{N}{1,3}"#
        case .deepseekCJK: return "[一-龥぀-ゟ゠-ヿ]+"
        case .deepseekV3:
            return ##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"##
        case .wordsAndPunctuation: return #"\w+|[^\w\s]+"#
        }
    }

    /// The known pattern with this text, if any.
    public static func recognise(_ pattern: String) -> KnownPattern? {
        // Some files hold CR and LF characters themselves instead of the escapes (the same regex).
        var canonical = String.UnicodeScalarView()
        for u in pattern.unicodeScalars {
            switch u {
            case "\r": canonical.append(contentsOf: #"\r"#.unicodeScalars)
            case "\n": canonical.append(contentsOf: #"\n"#.unicodeScalars)
            default: canonical.append(u)
            }
        }
        let text = String(canonical)
        return allCases.first { Array($0.pattern.utf8) == Array(text.utf8) }
    }

    /// The same regex written for Swift's regex engine (the tests' reference): Rust's `\w` spelled out, since
    /// Swift's `\w` leaves out combining marks.
    public var referencePattern: String {
        switch self {
        case .wordsAndPunctuation:
            let w = #"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}"#
            return "[\(w)]+|[^\(w)\\s]+"
        default: return pattern
        }
    }
}

/// Finds the matches of one Split/Replace regex in a piece: a scanner when the pattern is known, else the
/// general regex engine.
public struct PieceMatcher: Sendable {
    public let pattern: String
    public let known: KnownPattern?
    let regex: RegexBox?

    /// Picks the scanner for a known pattern, else compiles the pattern for the general engine.
    public init(pattern: String) throws {
        self.pattern = pattern
        if let k = KnownPattern.recognise(pattern) {
            known = k
            regex = nil
        } else {
            known = nil
            regex = try RegexBox(pattern)
        }
    }

    /// Always the general regex engine (the tests' reference for the scanners).
    public init(regexOnly pattern: String) throws {
        self.pattern = pattern
        known = nil
        regex = try RegexBox(pattern)
    }

    init(known: KnownPattern) {
        self.pattern = known.pattern
        self.known = known
        regex = nil
    }

    /// Appends (start, end) byte offsets of the matches, in order.
    func matches(in p: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        if let k = known {
            let s = Scanner(p: p)
            switch k {
            case .gpt2: s.gpt2(&out)
            case .llama3: s.llama3(maxDigits: 3, &out)
            case .qwen2: s.llama3(maxDigits: 1, &out)
            case .digits3: s.numberRuns(maxDigits: 3, &out)
            case .deepseekCJK: s.cjkRuns(&out)
            case .deepseekV3: s.deepseekV3(&out)
            case .wordsAndPunctuation: s.wordsAndPunctuation(&out)
            }
        } else {
            regex!.matches(in: p, into: &out)
        }
    }

    /// The byte ranges (in `text.utf8`) of the matches, in order.
    public func matchRanges(in text: String) -> [Range<Int>] {
        var spans: [Int] = []
        Array(text.utf8).withUnsafeBufferPointer { matches(in: $0, into: &spans) }
        return stride(from: 0, to: spans.count, by: 2).map { spans[$0]..<spans[$0 + 1] }
    }

    /// The matched substrings of `text` (for tests and tools).
    public func matches(in text: String) -> [String] {
        var spans: [Int] = []
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { matches(in: $0, into: &spans) }
        return stride(from: 0, to: spans.count, by: 2).map {
            String(decoding: bytes[spans[$0]..<spans[$0 + 1]], as: UTF8.self)
        }
    }
}

/// Swift's regex engine with Unicode-scalar semantics, for patterns without a scanner.
/// Gaps against Oniguruma: case-insensitive matching follows Swift's case folding.
final class RegexBox: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>

    init(_ pattern: String) throws {
        // Swift's case-insensitive matching does not fold U+017F (long s) to "s" as Oniguruma does.
        let adjusted = pattern.replacingOccurrences(of: "(?i:'s|", with: "(?i:'[s\u{17F}]|")
        do {
            regex = try Regex(adjusted).matchingSemantics(.unicodeScalar)
        } catch {
            throw TokenizerError.badPattern(key: "pattern", pattern: pattern, message: "\(error)")
        }
    }

    func matches(in p: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        let s = String(decoding: p, as: UTF8.self)
        let utf8 = s.utf8
        for m in s.matches(of: regex) {
            let a = utf8.distance(from: utf8.startIndex, to: m.range.lowerBound)
            let b = utf8.distance(from: utf8.startIndex, to: m.range.upperBound)
            out.append(a)
            out.append(b)
        }
    }
}

/// Scans UTF-8 (always valid: it comes from a Swift String or a normalizer).
struct Scanner {
    let p: UnsafeBufferPointer<UInt8>
    var n: Int { p.count }

    @inline(__always) func at(_ i: Int) -> (v: UInt32, len: Int, f: CharClass) {
        let b = p[i]
        if b < 0x80 { return (UInt32(b), 1, ascii[Int(b)]) }
        let (v, l) = decodeScalar(p, i)
        return (v, l, UnicodeClasses.flags(v))
    }

    /// End of the run of characters satisfying `test`, from `i`.
    @inline(__always) func run(from i: Int, _ test: (CharClass, UInt32) -> Bool) -> Int {
        var j = i
        while j < n {
            let c = at(j)
            if !test(c.f, c.v) { break }
            j += c.len
        }
        return j
    }

    @inline(__always) static func isOther(_ f: CharClass) -> Bool {
        f.isDisjoint(with: [.space, .letter, .number])
    }

    @inline(__always) static func isCRLF(_ v: UInt32) -> Bool { v == 0x0A || v == 0x0D }

    /// Whitespace at `i` (which is whitespace): the match of `\s+(?!\S)|\s+` — the run, minus its last
    /// character when more than one and followed by a non-space.
    @inline(__always) func spaceRunMatch(_ i: Int) -> Int {
        let j = run(from: i) { f, _ in f.contains(.space) }
        if j == n { return j }
        let last = previousScalarStart(p, j)
        return last > i ? last : j
    }

    /// `\s*[\r\n]+` at `i` (whitespace): end after the last CR/LF of the whitespace run, or nil.
    @inline(__always) func spaceThenNewlines(_ i: Int) -> Int? {
        var j = i
        var lastNL = -1
        while j < n {
            let c = at(j)
            if !c.f.contains(.space) { break }
            if Scanner.isCRLF(c.v) { lastNL = j + 1 }
            j += c.len
        }
        return lastNL > 0 ? lastNL : nil
    }

    // GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    func gpt2(_ out: inout [Int]) {
        var i = 0
        while i < n {
            let c = at(i)
            var end = -1
            if c.v == 0x27, let e = contraction(i, caseInsensitive: false) {
                end = e
            } else if c.f.contains(.letter) {
                end = run(from: i + c.len) { f, _ in f.contains(.letter) }
            } else if c.f.contains(.number) {
                end = run(from: i + c.len) { f, _ in f.contains(.number) }
            } else if !c.f.contains(.space) {
                end = run(from: i + c.len) { f, _ in Scanner.isOther(f) }
            } else {
                if c.v == 0x20 && i + 1 < n {
                    let d = at(i + 1)
                    if d.f.contains(.letter) {
                        end = run(from: i + 1 + d.len) { f, _ in f.contains(.letter) }
                    } else if d.f.contains(.number) {
                        end = run(from: i + 1 + d.len) { f, _ in f.contains(.number) }
                    } else if Scanner.isOther(d.f) {
                        end = run(from: i + 1 + d.len) { f, _ in Scanner.isOther(f) }
                    }
                }
                if end < 0 { end = spaceRunMatch(i) }
            }
            out.append(i)
            out.append(end)
            i = end
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` at `i` (an apostrophe); case-insensitively with Unicode simple case folding
    /// (so `ſ` U+017F matches `s`, as Oniguruma's `(?i)` does).
    @inline(__always) func contraction(_ i: Int, caseInsensitive: Bool) -> Int? {
        guard i + 1 < n else { return nil }
        let c1 = at(i + 1)
        func fold(_ v: UInt32) -> UInt32 {
            if !caseInsensitive { return v }
            if v >= 0x41 && v <= 0x5A { return v + 32 }
            if v == 0x17F { return 0x73 }  // ſ → s
            return v
        }
        let a = fold(c1.v)
        let j = i + 1 + c1.len
        switch a {
        case 0x73, 0x74, 0x6D, 0x64: return j  // s t m d
        case 0x72, 0x76, 0x6C:                  // r v l
            guard j < n else { return nil }
            let c2 = at(j)
            let b = fold(c2.v)
            if (a == 0x72 || a == 0x76) && b == 0x65 { return j + c2.len }  // re ve
            if a == 0x6C && b == 0x6C { return j + c2.len }                 // ll
            return nil
        default: return nil
        }
    }

    // Llama 3 (maxDigits 3) / Qwen2 (maxDigits 1):
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    func llama3(maxDigits: Int, _ out: inout [Int]) {
        var i = 0
        while i < n {
            let c = at(i)
            var end = -1
            if c.v == 0x27, let e = contraction(i, caseInsensitive: true) {
                end = e
            } else if c.f.contains(.letter) {
                end = run(from: i + c.len) { f, _ in f.contains(.letter) }
            } else if c.f.contains(.number) {
                var j = i + c.len
                var k = 1
                while k < maxDigits && j < n {
                    let d = at(j)
                    if !d.f.contains(.number) { break }
                    j += d.len
                    k += 1
                }
                end = j
            } else {
                // c is whitespace or "other" (not L, not N).
                if !Scanner.isCRLF(c.v) && i + c.len < n {
                    let d = at(i + c.len)
                    if d.f.contains(.letter) {
                        end = run(from: i + c.len + d.len) { f, _ in f.contains(.letter) }
                    }
                }
                if end < 0 {
                    var start = -1
                    if !c.f.contains(.space) {
                        start = i
                    } else if c.v == 0x20 && i + 1 < n && Scanner.isOther(at(i + 1).f) {
                        start = i + 1
                    }
                    if start >= 0 {
                        let j = run(from: start) { f, _ in Scanner.isOther(f) }
                        end = run(from: j) { _, v in Scanner.isCRLF(v) }
                    }
                }
                if end < 0 {
                    end = spaceThenNewlines(i) ?? spaceRunMatch(i)
                }
            }
            out.append(i)
            out.append(end)
            i = end
        }
    }

    // \p{N}{1,k}: runs of numbers cut every k characters; other characters are not matched.
    func numberRuns(maxDigits: Int, _ out: inout [Int]) {
        var i = 0
        while i < n {
            let c = at(i)
            if !c.f.contains(.number) { i += c.len; continue }
            var j = i + c.len
            var k = 1
            while k < maxDigits && j < n {
                let d = at(j)
                if !d.f.contains(.number) { break }
                j += d.len
                k += 1
            }
            out.append(i)
            out.append(j)
            i = j
        }
    }

    @inline(__always) static func isDeepSeekCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FA5).contains(v) || (0x3040...0x309F).contains(v) || (0x30A0...0x30FF).contains(v)
    }

    func cjkRuns(_ out: inout [Int]) {
        var i = 0
        while i < n {
            let c = at(i)
            if !Scanner.isDeepSeekCJK(c.v) { i += c.len; continue }
            let j = run(from: i + c.len) { _, v in Scanner.isDeepSeekCJK(v) }
            out.append(i)
            out.append(j)
            i = j
        }
    }

    @inline(__always) static func isASCIIPunct(_ v: UInt32) -> Bool {
        (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v)
    }

    @inline(__always) static func isASCIILetter(_ v: UInt32) -> Bool {
        (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
    }

    // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    func deepseekV3(_ out: inout [Int]) {
        var i = 0
        while i < n {
            let c = at(i)
            var end = -1
            let next: (v: UInt32, len: Int, f: CharClass)? = i + c.len < n ? at(i + c.len) : nil
            // 1. ASCII punctuation then ASCII letters.
            if Scanner.isASCIIPunct(c.v), let d = next, Scanner.isASCIILetter(d.v) {
                end = run(from: i + c.len + d.len) { _, v in Scanner.isASCIILetter(v) }
            }
            // 2. Optional prefix (not CR/LF/L/P/S) then letters and marks.
            if end < 0 {
                let lm: CharClass = [.letter, .mark]
                if !Scanner.isCRLF(c.v) && c.f.isDisjoint(with: [.letter, .punct, .symbol]),
                   let d = next, !d.f.isDisjoint(with: lm) {
                    end = run(from: i + c.len + d.len) { f, _ in !f.isDisjoint(with: lm) }
                } else if !c.f.isDisjoint(with: lm) {
                    end = run(from: i + c.len) { f, _ in !f.isDisjoint(with: lm) }
                }
            }
            // 3. Optional space, punctuation/symbol run, CR/LF run.
            if end < 0 {
                let ps: CharClass = [.punct, .symbol]
                var start = -1
                if !c.f.isDisjoint(with: ps) {
                    start = i
                } else if c.v == 0x20, let d = next, !d.f.isDisjoint(with: ps) {
                    start = i + 1
                }
                if start >= 0 {
                    let j = run(from: start) { f, _ in !f.isDisjoint(with: ps) }
                    end = run(from: j) { _, v in Scanner.isCRLF(v) }
                }
            }
            // 4–6. Whitespace.
            if end < 0 && c.f.contains(.space) {
                end = spaceThenNewlines(i) ?? spaceRunMatch(i)
            }
            if end < 0 {
                i += c.len   // no match here
                continue
            }
            out.append(i)
            out.append(end)
            i = end
        }
    }

    // \w+|[^\w\s]+ (Rust regex classes)
    func wordsAndPunctuation(_ out: inout [Int]) {
        var i = 0
        while i < n {
            let c = at(i)
            if c.f.contains(.word) {
                let j = run(from: i + c.len) { f, _ in f.contains(.word) }
                out.append(i); out.append(j); i = j
            } else if !c.f.contains(.space) {
                let j = run(from: i + c.len) { f, _ in !f.contains(.word) && !f.contains(.space) }
                out.append(i); out.append(j); i = j
            } else {
                i += c.len
            }
        }
    }
}

/// Classes of the ASCII characters (hot path).
private let ascii: [CharClass] = (0..<128).map { CharClass(rawValue: UnicodeClasses.compute(UInt32($0))) }
