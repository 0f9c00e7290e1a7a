import Foundation
import Testing
import MoETokenizer

/// Every tokenizer × every corpus line: ids with and without special tokens, and decodes, identical to HF.
@Suite("HF tokenizers oracle")
struct OracleTests {
    @Test("ids and decodes match HF", arguments: Oracle.entries)
    func matchesHF(_ entry: Oracle.Entry) throws {
        let tok = try Oracle.tokenizer(entry)
        let cases = Oracle.cases(entry.expected)
        #expect(cases.count == Oracle.corpus.count)
        var failures: [String] = []
        for (i, (text, c)) in zip(Oracle.corpus, cases).enumerated() {
            let ids = tok.encode(text, addSpecialTokens: true)
            if ids != c.ids { failures.append("line \(i) \(show(text)): ids\n  got  \(ids)\n  want \(c.ids)") }
            let plain = tok.encode(text, addSpecialTokens: false)
            if plain != c.idsNoSpecial {
                failures.append("line \(i) \(show(text)): ids without specials\n  got  \(plain)\n  want \(c.idsNoSpecial)")
            }
            let d = tok.decode(c.ids, skipSpecialTokens: false)
            if !sameBytes(d, c.decoded) { failures.append("line \(i): decode\n  got  \(show(d))\n  want \(show(c.decoded))") }
            let ds = tok.decode(c.ids, skipSpecialTokens: true)
            if !sameBytes(ds, c.decodedSkipSpecial) {
                failures.append("line \(i): decode skipping specials\n  got  \(show(ds))\n  want \(show(c.decodedSkipSpecial))")
            }
        }
        #expect(failures.isEmpty, "\(entry.name): \(failures.count) mismatches\n\(failures.prefix(8).joined(separator: "\n"))")
    }
}

/// The FULL real DeepSeek-V3 and Qwen2 tokenizers (too large to commit): scripts/fetch_models.sh (which
/// scripts/test.sh runs) writes them with their HF outputs to .cache/tokenizers-full
/// (`make_oracle.py --full-only`); MOEKIT_TOKENIZER_FULL_ORACLE=DIR points elsewhere.
@Suite("HF tokenizers oracle, full real tokenizers")
struct FullOracleTests {
    static let directory: URL = ProcessInfo.processInfo.environment["MOEKIT_TOKENIZER_FULL_ORACLE"].map {
        URL(fileURLWithPath: $0)
    } ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".cache/tokenizers-full")

    @Test("full real tokenizers match HF")
    func fullRealTokenizers() throws {
        let dir = Self.directory
        try #require(FileManager.default.fileExists(atPath: dir.appendingPathComponent("manifest.json").path),
                     "the full tokenizers are missing: run scripts/fetch_models.sh (scripts/test.sh does)")
        let corpus = Oracle.json("corpus.json", in: dir).arrayValue!.map { $0.stringValue! }
        for e in Oracle.json("manifest.json", in: dir)["entries"]!.arrayValue! {
            let entry = Oracle.Entry(name: e["name"]!.stringValue!, tokenizer: e["tokenizer"]!.stringValue!,
                                     expected: e["expected"]!.stringValue!)
            let tok = try Oracle.tokenizer(entry, in: dir)
            let cases = Oracle.cases(entry.expected, in: dir)
            var failures = 0
            for (text, c) in zip(corpus, cases) {
                if tok.encode(text) != c.ids || tok.encode(text, addSpecialTokens: false) != c.idsNoSpecial
                    || !sameBytes(tok.decode(c.ids), c.decoded)
                    || !sameBytes(tok.decode(c.ids, skipSpecialTokens: true), c.decodedSkipSpecial) {
                    failures += 1
                    if failures < 4 { Issue.record("\(entry.name): \(show(text))") }
                }
            }
            #expect(failures == 0, "\(entry.name): \(failures) of \(corpus.count) lines differ")

            // The same vocabulary as a GGUF holds it, with its `tokenizer.ggml.pre` name.
            let j = Oracle.json(entry.tokenizer, in: dir)
            var tokens: [String: Int] = [:]
            for (t, id) in j["model"]!["vocab"]!.objectMembers! { tokens[t] = id.intValue! }
            var types: [Int: Int32] = [:]
            for a in j["added_tokens"]!.arrayValue! {
                tokens[a["content"]!.stringValue!] = a["id"]!.intValue!
                types[a["id"]!.intValue!] = a["special"]!.boolValue! ? 3 : 4
            }
            var list = [String](repeating: "", count: tokens.count)
            for (t, id) in tokens { list[id] = t }
            let merges = j["model"]!["merges"]!.arrayValue!.map {
                $0.stringValue ?? $0.arrayValue!.map { $0.stringValue! }.joined(separator: " ")
            }
            let v = TokenizerVocabulary(model: .gpt2, tokens: list, tokenTypes: (0..<list.count).map { types[$0] ?? 1 },
                                        merges: merges, preTokenizer: entry.name.hasPrefix("deepseek") ? "deepseek-v3" : "qwen2",
                                        addBOS: false)
            let fromVocabulary = try Tokenizer(vocabulary: v)
            var vfail = 0
            for (text, c) in zip(corpus, cases) where fromVocabulary.encode(text) != c.ids {
                vfail += 1
                if vfail < 4 { Issue.record("\(entry.name) as a GGUF vocabulary: \(show(text))") }
            }
            #expect(vfail == 0, "\(entry.name) as a GGUF vocabulary: \(vfail) lines differ")
        }
    }
}
