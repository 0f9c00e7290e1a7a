import Foundation
import MoEFormats
import Testing
import MoETokenizer

/// The hand-written scanners against HF's own pre-tokenizer output, and against the general regex engine.
@Suite("pre-tokenizer scanners")
struct ScannerTests {
    struct PatternCase: Sendable, CustomStringConvertible {
        let name: String
        let pattern: String
        let pieces: [[String]]
        var description: String { name }
    }

    static let cases: [PatternCase] = Oracle.json("pretok.json").objectMembers!.map { name, v in
        PatternCase(name: name, pattern: v["pattern"]!.stringValue!,
                    pieces: v["pieces"]!.arrayValue!.map { $0.arrayValue!.map { $0.stringValue! } })
    }

    /// An Isolated split: matches and the gaps between them.
    static func isolated(_ matcher: PieceMatcher, _ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var out: [String] = []
        var prev = 0
        for r in matcher.matchRanges(in: text) {
            if r.lowerBound > prev { out.append(String(decoding: bytes[prev..<r.lowerBound], as: UTF8.self)) }
            if !r.isEmpty { out.append(String(decoding: bytes[r], as: UTF8.self)) }
            prev = r.upperBound
        }
        if prev < bytes.count { out.append(String(decoding: bytes[prev...], as: UTF8.self)) }
        return out
    }

    static func same(_ a: [String], _ b: [String]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { sameBytes($0, $1) }
    }

    @Test("scanner pieces equal HF's Split pieces on the corpus", arguments: cases)
    func scannerMatchesHF(_ c: PatternCase) throws {
        let m = try PieceMatcher(pattern: c.pattern)
        if c.name != "o200k" { #expect(m.known != nil, "\(c.name) should have a scanner") }
        var bad: [String] = []
        for (text, want) in zip(Oracle.corpus, c.pieces) {
            // The Whitespace pre-tokenizer removes what its regex does not match.
            let got = c.name == "whitespace_pretokenizer" ? m.matches(in: text) : Self.isolated(m, text)
            if !Self.same(got, want) { bad.append("\(show(text))\n  got  \(got.map(show))\n  want \(want.map(show))") }
        }
        #expect(bad.isEmpty, "\(c.name): \(bad.count) lines differ\n\(bad.prefix(5).joined(separator: "\n"))")
    }

    /// The general regex engine (Swift Regex) as the reference of each scanner. Lines where the regex engine
    /// itself departs from Oniguruma are listed in `regexEngineGaps` (and the scanner, checked against HF above,
    /// is the one that is right there).
    @Test("scanner equals the regex engine on the corpus", arguments: KnownPattern.allCases)
    func scannerMatchesRegex(_ k: KnownPattern) throws {
        let scanner = try PieceMatcher(pattern: k.pattern)
        #expect(scanner.known == k)
        let regex = try PieceMatcher(regexOnly: k.referencePattern)
        var bad: [String] = []
        let extra = ["a'S b'ſ c'RE", "x\u{0301}y", " \u{0301}\u{0301}a", "''s", "\t\tword", "a \n\n b", "٣٤٥٦"]
        for text in Oracle.corpus + extra where !Self.regexEngineGaps.contains(text) {
            let a = Self.isolated(scanner, text), b = Self.isolated(regex, text)
            if !Self.same(a, b) { bad.append("\(show(text))\n  scanner \(a.map(show))\n  regex   \(b.map(show))") }
        }
        #expect(bad.isEmpty, "\(k): \(bad.count) lines differ\n\(bad.prefix(5).joined(separator: "\n"))")
    }

    /// Corpus lines on which Swift's regex engine differs from Oniguruma (see the report in the module docs).
    static let regexEngineGaps: Set<String> = []

    @Test func recognisesPatternsWithLiteralNewlines() {
        let literal = KnownPattern.deepseekV3.pattern.replacingOccurrences(of: #"\r"#, with: "\r")
            .replacingOccurrences(of: #"\n"#, with: "\n")
        #expect(KnownPattern.recognise(literal) == .deepseekV3)
        #expect(KnownPattern.recognise(#"\p{N}+"#) == nil)
    }
}
