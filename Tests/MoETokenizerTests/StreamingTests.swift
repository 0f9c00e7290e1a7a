import Foundation
import Testing
import MoETokenizer

@Suite("streaming detokenizer")
struct StreamingTests {
    static func stream(_ tok: Tokenizer, _ ids: [Int32], skip: Bool) -> [String] {
        var s = StreamingDetokenizer(tokenizer: tok, skipSpecialTokens: skip)
        var chunks = ids.map { s.append($0) }
        chunks.append(s.finish())
        return chunks
    }

    @Test("streamed text equals decode for every tokenizer and corpus line", arguments: Oracle.entries)
    func equalsDecode(_ entry: Oracle.Entry) throws {
        let tok = try Oracle.tokenizer(entry)
        var bad: [String] = []
        for (text, c) in zip(Oracle.corpus, Oracle.cases(entry.expected)) {
            for skip in [false, true] {
                let chunks = Self.stream(tok, c.ids, skip: skip)
                let whole = tok.decode(c.ids, skipSpecialTokens: skip)
                if !sameBytes(chunks.joined(), whole) { bad.append("\(show(text)) skip=\(skip): \(chunks.map(show))") }
                // No chunk shows a replacement character that the full decode does not have.
                if !whole.unicodeScalars.contains("\u{FFFD}") && chunks.contains(where: { $0.unicodeScalars.contains("\u{FFFD}") }) {
                    bad.append("\(show(text)): a chunk holds U+FFFD")
                }
            }
        }
        #expect(bad.isEmpty, "\(entry.name): \(bad.count) lines\n\(bad.prefix(5).joined(separator: "\n"))")
    }

    @Test func byteFallbackBytesAreHeldUntilTheCharacterCompletes() throws {
        let tok = try Oracle.tokenizer(Oracle.entries.first { $0.name == "spm_metaspace" }!)
        let e2 = tok.tokenToId("<0xE2>")!, x82 = tok.tokenToId("<0x82>")!, xAC = tok.tokenToId("<0xAC>")!
        let a = tok.encode("a", addSpecialTokens: false)
        var s = StreamingDetokenizer(tokenizer: tok)
        var out: [String] = a.map { s.append($0) }
        #expect(out.joined() == "a")
        out = [s.append(e2), s.append(x82)]
        #expect(out == ["", ""])                  // "€" is E2 82 AC: nothing yet
        #expect(s.append(xAC) == "€")
        #expect(s.finish() == "")
        // An unfinished sequence at the end comes out as decode gives it.
        var t = StreamingDetokenizer(tokenizer: tok)
        let ids = a + [e2, x82]
        let chunks = ids.map { t.append($0) } + [t.finish()]
        #expect(sameBytes(chunks.joined(), tok.decode(ids)))
        #expect(chunks.last == "\u{FFFD}\u{FFFD}")  // ByteFallback: one U+FFFD per byte of a bad group
    }

    @Test func byteLevelTokensSplittingACharacter() throws {
        let tok = try Oracle.tokenizer(Oracle.entries.first { $0.name == "smollm2" }!)
        // "😀" is F0 9F 98 80; the byte-level vocabulary spells single bytes as tokens.
        let bytes: [UInt8] = [0xF0, 0x9F, 0x98, 0x80]
        let ids = bytes.map { tok.tokenToId(byteLevelCharacter($0))! }
        var s = StreamingDetokenizer(tokenizer: tok)
        let chunks = ids.map { s.append($0) }
        #expect(chunks == ["", "", "", "😀"])
        #expect(s.finish() == "")
    }
}
