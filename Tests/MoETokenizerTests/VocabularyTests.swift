import Foundation
import MoEFormats
import Testing
import TestSupport
import MoETokenizer

/// `Tokenizer(vocabulary:)`, the constructor the GGUF loader uses, against HF.
@Suite("GGUF-style vocabularies")
struct VocabularyTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let vocabulary: String
        let expected: String
        var description: String { name }
    }

    static let cases: [Case] = Oracle.json("manifest.json")["gguf_entries"]!.arrayValue!.map {
        Case(name: $0["name"]!.stringValue!, vocabulary: $0["vocabulary"]!.stringValue!, expected: $0["expected"]!.stringValue!)
    }

    static func vocabulary(_ j: JSONValue) -> TokenizerVocabulary {
        func id(_ k: String) -> Int32? { j[k]?.intValue.map { Int32($0) } }
        return TokenizerVocabulary(
            model: TokenizerVocabulary.Model(rawValue: j["model"]!.stringValue!)!,
            tokens: j["tokens"]!.arrayValue!.map { $0.stringValue! },
            tokenTypes: j["token_type"]?.arrayValue?.map { Int32($0.intValue!) },
            scores: j["scores"]?.arrayValue?.map { Float($0.doubleValue!) },
            merges: j["merges"]?.arrayValue?.map { $0.stringValue! },
            preTokenizer: j["pre"]?.stringValue,
            bosTokenId: id("bos_token_id"), eosTokenId: id("eos_token_id"), unknownTokenId: id("unknown_token_id"),
            addBOS: j["add_bos_token"]?.boolValue, addEOS: j["add_eos_token"]?.boolValue,
            addSpacePrefix: j["add_space_prefix"]?.boolValue)
    }

    static func compare(_ tok: Tokenizer, _ expected: [Oracle.Case], skip: (String) -> Bool = { _ in false }) -> [String] {
        var failures: [String] = []
        for (i, (text, c)) in zip(Oracle.corpus, expected).enumerated() where !skip(text) {
            if tok.encode(text) != c.ids { failures.append("line \(i) \(show(text)): ids \(tok.encode(text)) want \(c.ids)") }
            if tok.encode(text, addSpecialTokens: false) != c.idsNoSpecial { failures.append("line \(i): ids without specials") }
            if !sameBytes(tok.decode(c.ids), c.decoded) { failures.append("line \(i): decode \(show(tok.decode(c.ids)))") }
            if !sameBytes(tok.decode(c.ids, skipSpecialTokens: true), c.decodedSkipSpecial) {
                failures.append("line \(i): decode skipping specials")
            }
        }
        return failures
    }

    @Test("GGUF vocabularies tokenize as HF", arguments: cases)
    func ggufVocabulary(_ c: Case) throws {
        let tok = try Tokenizer(vocabulary: Self.vocabulary(Oracle.json(c.vocabulary)))
        // transformers' GGUF path adds GPT2Tokenizer's default "<|endoftext|>" as a new token when the
        // vocabulary has none (a phantom id past the vocabulary): lines holding that string are not compared there.
        let phantom = c.name == "gguf_gpt2_llama_bpe"
        let failures = Self.compare(tok, Oracle.cases(c.expected)) { phantom && $0.contains("<|endoftext|>") }
        #expect(failures.isEmpty, "\(c.name): \(failures.count) mismatches\n\(failures.prefix(6).joined(separator: "\n"))")
    }

    /// The real SmolLM2 vocabulary, as its GGUF holds it (tokens, merges, control tokens), with transformers'
    /// GGUF pre-tokenizer choice for it (plain GPT-2 ByteLevel).
    @Test func smollm2AsGGUF() throws {
        let j = Oracle.json("smollm2/tokenizer.json")
        let vocab = j["model"]!["vocab"]!.objectMembers!
        var tokens = [String](repeating: "", count: vocab.count)
        for (t, id) in vocab { tokens[id.intValue!] = t }
        var types = [Int32](repeating: 1, count: tokens.count)
        for a in j["added_tokens"]!.arrayValue! where a["special"]!.boolValue! { types[a["id"]!.intValue!] = 3 }
        let merges = j["model"]!["merges"]!.arrayValue!.map { $0.arrayValue!.map { $0.stringValue! }.joined(separator: " ") }
        let v = TokenizerVocabulary(model: .gpt2, tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: "gpt2",
                                    bosTokenId: 1, eosTokenId: 2, unknownTokenId: 0, paddingTokenId: 2, addBOS: false)
        let tok = try Tokenizer(vocabulary: v)
        let failures = Self.compare(tok, Oracle.cases("expected/smollm2.json"))
        #expect(failures.isEmpty, "\(failures.count) mismatches\n\(failures.prefix(6).joined(separator: "\n"))")
    }

    @Test func vocabularyErrorsNameTheKey() {
        #expect(throws: TokenizerError.missingKey("tokenizer.ggml.merges")) {
            try Tokenizer(vocabulary: TokenizerVocabulary(model: .gpt2, tokens: ["a", "b"]))
        }
        #expect(throws: TokenizerError.invalidValue(key: "tokenizer.ggml.pre", message: "unknown pre-tokenizer \"nonesuch\"")) {
            try Tokenizer(vocabulary: TokenizerVocabulary(model: .gpt2, tokens: ["a"], merges: [], preTokenizer: "nonesuch"))
        }
        do {
            _ = try Tokenizer(vocabulary: TokenizerVocabulary(model: .gpt2, tokens: ["a", "b"], merges: ["a c"]))
            Issue.record("expected an error")
        } catch let e as TokenizerError {
            #expect(e.description.contains("tokenizer.ggml.merges[0]"))
        } catch { Issue.record("\(error)") }
        #expect(throws: TokenizerError.self) {
            try Tokenizer(vocabulary: TokenizerVocabulary(model: .llama, tokens: ["a"], tokenTypes: [1, 1], scores: [0]))
        }
    }

    /// SentencePiece merges derived from scores skip cuts no token could fill, so a hostile 1 MB
    /// token costs linear time (every cut tried by lookup took quadratic time: about half an hour),
    /// and the merges found are the same.
    @Test func longTokenIsLinear() throws {
        let long = "\u{2581}" + String(repeating: "a", count: 1 << 20)
        let tokens = ["<unk>", "<s>", "</s>", "a", "aa", "\u{2581}", "\u{2581}a", long]
        let start = Date()
        let tok = try Tokenizer(vocabulary: TokenizerVocabulary(
            model: .llama, tokens: tokens, tokenTypes: [2, 3, 3, 1, 1, 1, 1, 1], scores: [0, 0, 0, -1, -2, -3, -4, -5],
            bosTokenId: 1, eosTokenId: 2, unknownTokenId: 0))
        let seconds = Date().timeIntervalSince(start)
        #expect(seconds < 10 * sanitizerSlowdown, "\(seconds) s to build a vocabulary with a 1 MB token")
        // "▁aaaa": "a a" (from "aa", score -2) outranks "▁ a" (from "▁a", -4).
        #expect(tok.encode("aaaa", addSpecialTokens: false) == [5, 4, 4])
    }
}
