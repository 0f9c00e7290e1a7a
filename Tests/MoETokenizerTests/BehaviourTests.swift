import Foundation
import Testing
import MoETokenizer

/// Readable checks of HF semantics (all of them also covered by the oracle corpus).
@Suite("added tokens and pipeline behaviour")
struct BehaviourTests {
    static func tokenizer(_ name: String) throws -> Tokenizer {
        try Oracle.tokenizer(Oracle.entries.first { $0.name == name }!)
    }

    static func pieces(_ tok: Tokenizer, _ text: String) -> [String] {
        tok.encode(text, addSpecialTokens: false).map { tok.idToToken($0)! }
    }

    @Test func lstripAbsorbsTheSpacesBefore() throws {
        let tok = try Self.tokenizer("gpt2_bytelevel")          // "<mask>": lstrip
        let p = Self.pieces(tok, "a  <mask>b")
        #expect(p == ["a", "<mask>", "b"])
    }

    @Test func rstripAbsorbsTheSpacesAfter() throws {
        let tok = try Self.tokenizer("gpt2_bytelevel")          // "[R]": rstrip
        #expect(Self.pieces(tok, "x[R]   y") == ["x", "[R]", "y"])
    }

    @Test func singleWordOnlyMatchesWholeWords() throws {
        let tok = try Self.tokenizer("gpt2_bytelevel")          // "cat": single_word, normalized, not special
        let cat = tok.tokenToId("cat")!
        func split(_ s: String) -> [String] {
            tok.splitOnAddedTokens(s).map { ($0.id == cat ? "#" : "") + $0.text }
        }
        #expect(split("a cat b") == ["a ", "#cat", " b"])
        #expect(split("cat") == ["#cat"])
        #expect(split("concat") == ["concat"])
        #expect(split("cats") == ["cats"])
        #expect(split("cat_x") == ["cat_x"])     // "_" is a word character (Rust regex \w)
        #expect(split("(cat)") == ["(", "#cat", ")"])
    }

    @Test func longestMatchWins() throws {
        let tok = try Self.tokenizer("gpt2_bytelevel")          // "<<" and "<<<x>>>"
        let long = tok.tokenToId("<<<x>>>")!, short = tok.tokenToId("<<")!
        #expect(tok.encode("<<<x>>>", addSpecialTokens: false) == [long])
        #expect(tok.encode("<<<x>>", addSpecialTokens: false).first == short)
    }

    @Test func normalizedTokensMatchTheNormalizedText() throws {
        let tok = try Self.tokenizer("llama3_split")            // NFC; "e\u{301}x" normalized, "u\u{308}!" raw
        let ex = tok.tokenToId("e\u{301}x")!
        #expect(tok.encode("\u{E9}x", addSpecialTokens: false) == [ex])        // composed input
        #expect(tok.encode("e\u{301}x", addSpecialTokens: false) == [ex])      // decomposed input
        let u = tok.tokenToId("u\u{308}!")!
        #expect(tok.encode("u\u{308}!", addSpecialTokens: false) == [u])       // raw form only
        #expect(!tok.encode("\u{FC}!", addSpecialTokens: false).contains(u))
    }

    @Test func specialTokensAreSkippedOnRequest() throws {
        let tok = try Self.tokenizer("llama3_split")
        let ids = tok.encode("<|start_header_id|>hi<|eot_id|>")
        #expect(ids.first == tok.tokenToId("<|begin_of_text|>"))
        #expect(tok.decode(ids) == "<|begin_of_text|><|start_header_id|>hi<|eot_id|>")
        #expect(tok.decode(ids, skipSpecialTokens: true) == "hi")
        #expect(tok.specialTokensAddedCount == 1)
    }

    @Test func metaspaceFirstPrependsOnlyAtTheStart() throws {
        let tok = try Self.tokenizer("spm_metaspace")           // prepend_scheme first, BOS template
        #expect(Self.pieces(tok, "[INST] hi").prefix(1) == ["[INST]"])
        #expect(Self.pieces(tok, "hi").first?.hasPrefix("\u{2581}") == true)
        // After an added token the text is not at the start: no "▁" is prepended.
        let after = Self.pieces(tok, "[INST]hi")
        #expect(after.count >= 2 && !after[1].hasPrefix("\u{2581}"))
        #expect(tok.decode(tok.encode("Hello world")) == "<s> Hello world")
        #expect(tok.decode(tok.encode("Hello world"), skipSpecialTokens: true) == "Hello world")
    }

    @Test func byteFallbackSpellsUnknownCharacters() throws {
        let tok = try Self.tokenizer("spm_metaspace")
        let p = Self.pieces(tok, "\u{1F600}")
        #expect(p.suffix(4) == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"])
        #expect(tok.decode(tok.encode("\u{1F600}"), skipSpecialTokens: true) == "\u{1F600}")
    }

    @Test func emptyTextGivesOnlyTheTemplate() throws {
        let tok = try Self.tokenizer("spm_metaspace_always")
        #expect(tok.encode("") == [tok.tokenToId("<s>")!, tok.tokenToId("</s>")!])
        #expect(tok.encode("", addSpecialTokens: false).isEmpty)
    }

    @Test func vocabularyAccessors() throws {
        let tok = try Self.tokenizer("smollm2")
        #expect(tok.vocabularySize == 49152)
        #expect(tok.idLimit == 49152)
        #expect(tok.specialTokenIds.count == 17)
        #expect(tok.idToToken(0) == "<|endoftext|>")
        #expect(tok.tokenToId("<|im_start|>") == 1)
        #expect(tok.tokenToId("no such token at all") == nil)
        #expect(tok.idToToken(1_000_000) == nil)
        #expect(tok.decode([1_000_000, 19556]) == "Hello")          // unknown ids are skipped
    }

    @Test func lossyDecodingFollowsRust() throws {
        // The ByteLevel decoder ends in Rust's from_utf8_lossy: one U+FFFD per maximal invalid subpart.
        let tok = try Self.tokenizer("gpt2_bytelevel")          // trained with all 256 byte characters
        func decode(_ bytes: [UInt8]) -> String { tok.decode(bytes.map { tok.tokenToId(byteLevelCharacter($0))! }) }
        #expect(decode([0x61, 0xE2, 0x82, 0x41]) == "a\u{FFFD}A")
        #expect(decode([0xF0, 0x80, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(decode([0xED, 0xA0, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(decode([0xF4, 0x8F, 0xBF, 0xBF]) == "\u{10FFFF}")
        #expect(decode([0xC0, 0xAF, 0xE0, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
    }
}

@Suite("tokenizer.json errors")
struct ErrorTests {
    static let good: String = """
    {"version": "1.0", "added_tokens": [], "normalizer": null,
     "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
     "post_processor": null, "decoder": {"type": "ByteLevel"},
     "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}
    """

    static func load(_ text: String) throws -> Tokenizer { try Tokenizer(tokenizerJSON: Array(text.utf8)) }

    static func error(_ text: String) -> TokenizerError? {
        do { _ = try load(text); return nil } catch let e as TokenizerError { return e } catch { return nil }
    }

    @Test func theGoodOneLoads() throws {
        let tok = try Self.load(Self.good)
        #expect(tok.encode("ab") == [2])
        #expect(tok.decode([2, 0]) == "aba")
    }

    @Test func missingModel() {
        let e = Self.error(#"{"version": "1.0", "added_tokens": []}"#)
        #expect(e == .missingKey("model"))
        #expect(e?.description == "tokenizer.json: missing key 'model'")
        // A GGUF file's tokenizer keys are named as GGUF metadata, not as tokenizer.json.
        #expect(TokenizerError.missingKey("tokenizer.ggml.merges").description == "GGUF metadata: missing key 'tokenizer.ggml.merges'")
    }

    @Test func badMerges() {
        let unknown = Self.error(Self.good.replacingOccurrences(of: #"["a b"]"#, with: #"["a c"]"#))
        #expect(unknown?.description.contains("model.merges[0]") == true)
        #expect(unknown?.description.contains("\"c\"") == true)
        let shape = Self.error(Self.good.replacingOccurrences(of: #"["a b"]"#, with: #"["a b c"]"#))
        #expect(shape?.description.contains("model.merges[0]") == true)
        let pair = Self.error(Self.good.replacingOccurrences(of: #"["a b"]"#, with: #"[["a"]]"#))
        #expect(pair?.description.contains("model.merges[0]") == true)
        let missing = Self.error(Self.good.replacingOccurrences(of: #", "merges": ["a b"]"#, with: ""))
        #expect(missing == .missingKey("model.merges"))
    }

    @Test func unknownTypes() {
        let pre = Self.error(Self.good.replacingOccurrences(of: #"{"type": "ByteLevel", "add_prefix_space""#,
                                                            with: #"{"type": "Frobnicate", "add_prefix_space""#))
        #expect(pre == .unsupportedType(key: "pre_tokenizer.type", type: "Frobnicate"))
        let seq = Self.error(Self.good.replacingOccurrences(
            of: #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#,
            with: #""pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "Nope"}]}"#))
        #expect(seq == .unsupportedType(key: "pre_tokenizer.pretokenizers[1].type", type: "Nope"))
        let model = Self.error(Self.good.replacingOccurrences(of: #""type": "BPE""#, with: #""type": "Unigram""#))
        #expect(model == .unsupportedType(key: "model.type", type: "Unigram"))
        let dec = Self.error(Self.good.replacingOccurrences(of: #"{"type": "ByteLevel"}"#, with: #"{"type": "CTC"}"#))
        #expect(dec == .unsupportedType(key: "decoder.type", type: "CTC"))
    }

    @Test func badValues() {
        let vocab = Self.error(Self.good.replacingOccurrences(of: #""ab": 2"#, with: #""ab": "two""#))
        #expect(vocab?.description.contains("model.vocab") == true)
        let json = Self.error("{\"model\": ")
        if case .invalidJSON = json {} else { Issue.record("expected invalidJSON, got \(String(describing: json))") }
        let version = Self.error(Self.good.replacingOccurrences(of: #""1.0""#, with: #""2.0""#))
        #expect(version?.description.contains("'version'") == true)
        let regex = Self.error(Self.good.replacingOccurrences(
            of: #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#,
            with: #""pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false}"#))
        #expect(regex?.description.contains("pre_tokenizer.pattern.Regex") == true)
        let unk = Self.error(Self.good.replacingOccurrences(of: #""merges": ["a b"]"#, with: #""merges": ["a b"], "unk_token": "<unk>""#))
        #expect(unk?.description.contains("model.unk_token") == true)
        let behavior = Self.error(Self.good.replacingOccurrences(
            of: #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#,
            with: #""pre_tokenizer": {"type": "Split", "pattern": {"String": "x"}, "behavior": "Sideways", "invert": false}"#))
        #expect(behavior?.description.contains("pre_tokenizer.behavior") == true)
    }

    @Test func readsAFile() throws {
        let tok = try Tokenizer(contentsOfFile: Oracle.directory.appendingPathComponent("smollm2/tokenizer.json").path)
        #expect(tok.encode("Hello world") == [19556, 905])
        #expect(throws: TokenizerError.self) { try Tokenizer(contentsOfFile: "/nonexistent/tokenizer.json") }
    }
}
