import Foundation
import MoEFormats

/// The `tokenizer.*` GGUF metadata of a Hugging Face checkpoint directory, as llama.cpp's converter
/// (convert_hf_to_gguf.py with gguf-py, reading the tokenizer through transformers) writes it: keys,
/// value types, values and their order. Checked against the converter by
/// scripts/oracle/tokenizer_to_gguf.py.
///
/// The directory's `tokenizer.json` is read with `tokenizer_config.json` and `special_tokens_map.json`
/// (named special tokens, `add_bos_token`/`add_eos_token`, `add_prefix_space`, `chat_template`),
/// `chat_template.jinja` (+ `additional_chat_templates/*.jinja`) or `chat_template.json`, and
/// `config.json` (`vocab_size`, `*_token_id`). Two of llama.cpp's routes are followed:
///
/// - byte-level BPE (`tokenizer.ggml.model` = `gpt2`): every id below `vocab_size`, `[PADn]` for ids
///   no token has; added tokens are control tokens when special (or looking special, `<|…|>`), else
///   user-defined; merges; `tokenizer.ggml.pre` names the pre-tokenizer family
///   (`PreTokenizerPreset.ggufName`). llama.cpp's converter recognises a vocabulary by hashing the ids
///   of a fixed text; MoEKit recognises the family from tokenizer.json's normalizer, pre-tokenizer and
///   `ignore_merges`, and writes the family's usual name: where llama.cpp names the same regex after
///   another model (`olmo` for OLMoE's GPT-2 regex), the name differs, the tokenization does not.
///   A byte-level tokenizer of no known family is an error, as it is for llama.cpp.
/// - SentencePiece-style BPE with byte fallback, for `llama` only (`LlamaModel` reads tokenizer.json
///   with gguf-py's `LlamaHfVocab`): model `llama`, pre `default`, every score -1000, `<0xXX>`
///   tokens as bytes. Those scores lose the merge order, so MoEKit also writes
///   `tokenizer.ggml.merges` (llama.cpp's converter does not; its loader ignores the key for `llama`),
///   with which `Tokenizer(gguf:)` tokenizes as tokenizer.json does.
///
/// Not followed: tokenizer.model (SentencePiece's own file, which llama.cpp prefers for `llama` and
/// `qwen2`/`qwen3` when present), vocab.json + merges.txt without tokenizer.json, CodeLlama's infill
/// ids.
public enum TokenizerGGUFExport {
    public typealias Entry = (key: String, value: GGUFValue, type: GGUFValueType)

    /// The metadata for `directory` converted as GGUF architecture `architecture` (`llama` takes
    /// llama.cpp's LlamaModel route), or nil when the directory has no tokenizer.json. Errors name the
    /// file and what is wrong in it.
    public static func metadata(directory dir: String, architecture: String) throws -> [Entry]? {
        let tokenizerPath = dir + "/tokenizer.json"
        guard FileManager.default.fileExists(atPath: tokenizerPath) else { return nil }
        guard let root = try readJSON(tokenizerPath) else { return nil }
        guard root.objectMembers != nil else {
            throw TokenizerError.inFile(path: tokenizerPath, .invalidValue(key: "(top level)", message: "expected an object"))
        }
        let config = try readJSON(dir + "/config.json", object: true)
        let tokenizerConfig = try readJSON(dir + "/tokenizer_config.json", object: true)
        let specialMap = try readJSON(dir + "/special_tokens_map.json", object: true)
        let hf = try HFTokenizer(root: root, config: tokenizerConfig, specialMap: specialMap, path: tokenizerPath)

        var out = Writer()
        var nVocab: Int?
        var loadMerges = true   // SpecialVocab(load_merges=True): the byte-level route
        if architecture == "llama" {
            if let p = tokenizerConfig?["add_prefix_space"]?.boolValue { out.bool("tokenizer.ggml.add_space_prefix", p) }
            if hf.isSentencePieceBPE {
                nVocab = try sentencePieceVocabulary(hf, into: &out, path: tokenizerPath)
                loadMerges = false
            } else {
                try byteLevelVocabulary(hf, config: config, into: &out, path: tokenizerPath)
            }
        } else {
            try byteLevelVocabulary(hf, config: config, into: &out, path: tokenizerPath)
        }
        var special = try SpecialVocabulary(tokenizerJSON: root, tokenizerConfig: tokenizerConfig, directory: dir,
                                            config: config, nVocab: nVocab)
        // For `llama` the merges are MoEKit's addition (see above).
        special.merges = try mergeList(root, path: tokenizerPath)
        if special.merges.isEmpty, loadMerges, let text = FileManager.default.contents(atPath: dir + "/merges.txt") {
            special.merges = mergesText(String(decoding: text, as: UTF8.self))
        }
        try special.write(into: &out, path: dir)
        // LlamaModel.set_vocab: "Apply to granite small models only".
        if architecture == "llama", config?["vocab_size"]?.intValue == 49152 { out.bool("tokenizer.ggml.add_bos_token", false) }
        return out.entries
    }

    // MARK: files

    /// The JSON of a file, nil when there is none; with `object`, anything but an object is an error.
    static func readJSON(_ path: String, object: Bool = false) throws -> JSONValue? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.io(path: path, message: "cannot read the file")
        }
        let v: JSONValue
        do {
            v = try JSONParser.parse([UInt8](data), maxDepth: 64)
        } catch let e as JSONError {
            throw TokenizerError.invalidJSON(file: path, message: e.description)
        }
        if object && v.objectMembers == nil { throw TokenizerError.io(path: path, message: "expected a JSON object") }
        return v
    }

    /// tokenizer.json's `model.merges` as gguf-py's SpecialVocab writes them: "a b" strings as they are,
    /// `["a", "b"]` pairs joined with a space, spaces inside a part written as U+0120.
    static func mergeList(_ root: JSONValue, path: String) throws -> [String] {
        guard let list = root["model"]?["merges"]?.arrayValue, let first = list.first else { return [] }
        if first.stringValue != nil {
            return try list.enumerated().map { i, m in
                guard let s = m.stringValue else {
                    throw TokenizerError.inFile(path: path, .badMerge(key: "model.merges[\(i)]", message: "expected a string like the first merge"))
                }
                return s
            }
        }
        return try list.enumerated().map { i, m in
            guard let pair = m.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue else {
                throw TokenizerError.inFile(path: path, .badMerge(key: "model.merges[\(i)]", message: "expected [\"a\", \"b\"] like the first merge"))
            }
            func escaped(_ s: String) -> String { String(String.UnicodeScalarView(s.unicodeScalars.map { $0 == " " ? "\u{120}" : $0 })) }
            return escaped(a) + " " + escaped(b)
        }
    }

    /// merges.txt as gguf-py reads it: a first line starting with "#" skipped, lines of two fields.
    static func mergesText(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        if lines.first?.hasPrefix("#") == true { lines.removeFirst() }
        return lines.compactMap { line in
            let parts = line.split(whereSeparator: { $0.isWhitespace })
            return parts.count == 2 ? "\(parts[0]) \(parts[1])" : nil
        }
    }

    // MARK: the two vocabularies

    /// gguf-py's LlamaHfVocab: the model's tokens (bytes, control tokens for transformers' special
    /// tokens), then the added tokens past them; every score -1000. Returns the token count.
    static func sentencePieceVocabulary(_ hf: HFTokenizer, into out: inout Writer, path: String) throws -> Int {
        let t = hf.tokenizer
        let base = t.model.vocabCount
        var tokens: [String] = [], types: [Int32] = []
        for id in 0..<base {
            guard let s = vocabToken(t, id) else {
                throw TokenizerError.inFile(path: path, .invalidValue(key: "model.vocab", message: "no token has id \(id), below the vocabulary size \(base)"))
            }
            tokens.append(s)
            types.append(isByteToken(s) ? TokenType.byte : hf.specialIds.contains(Int32(id)) ? TokenType.control : TokenType.normal)
        }
        for (id, token) in t.addedTokens where Int(id) >= base {
            tokens.append(token.content)
            types.append(hf.specialIds.contains(id) ? TokenType.control : TokenType.userDefined)
        }
        out.string("tokenizer.ggml.model", "llama")
        out.string("tokenizer.ggml.pre", "default")
        out.strings("tokenizer.ggml.tokens", tokens)
        out.set("tokenizer.ggml.scores", .array([GGUFValue](repeating: .float(-1000), count: tokens.count)), .array(6))
        out.set("tokenizer.ggml.token_type", .array(types.map { .int(Int64($0)) }), .array(5))
        return tokens.count
    }

    /// The converter's get_vocab_base + _set_vocab_gpt2: ids 0..<vocab_size, merges.
    static func byteLevelVocabulary(_ hf: HFTokenizer, config: JSONValue?, into out: inout Writer, path: String) throws {
        let t = hf.tokenizer
        guard let preset = PreTokenizerPreset.matching(t) else {
            throw TokenizerError.inFile(path: path, .invalidValue(
                key: "pre_tokenizer", message: "this normalizer and pre-tokenizer match no pre-tokenizer llama.cpp names (\(PreTokenizerPreset.ggufNames.map { $0.names[0] }.joined(separator: ", ")) are known)"))
        }
        let vocabSize = config?["vocab_size"]?.intValue ?? t.vocabularySize
        // As GGUFLayout bounds the model's vocab_size: every id must fit an Int32, and the token list memory.
        guard vocabSize >= 0, vocabSize <= 1 << 24 else {
            throw TokenizerError.inFile(path: path, .invalidValue(key: "vocab_size", message: "config.json's vocab_size \(vocabSize) is outside 0...\(1 << 24)"))
        }
        let limit = t.idLimit
        guard limit <= vocabSize else {
            throw TokenizerError.inFile(path: path, .invalidValue(key: "model.vocab", message: "token id \(limit - 1) is not below config.json's vocab_size \(vocabSize)"))
        }
        var tokens: [String] = [], types: [Int32] = []
        tokens.reserveCapacity(vocabSize)
        let added = Dictionary(t.addedTokens.map { ($0.id, $0.token) }, uniquingKeysWith: { a, _ in a })
        for id in 0..<vocabSize {
            guard var token = vocabToken(t, id) else {
                tokens.append("[PAD\(id)]")
                types.append(TokenType.unused)
                continue
            }
            if let a = added[Int32(id)] {
                // llama.cpp expects control and user-defined tokens pre-normalized.
                if !a.normalized { token = t.decode(t.encode(token, addSpecialTokens: false)) }
                if a.special || looksSpecial(token) {
                    types.append(TokenType.control)
                } else {
                    token = token.replacingOccurrences(of: "\u{2581}", with: " ")
                    types.append(TokenType.userDefined)
                }
            } else {
                types.append(TokenType.normal)
            }
            tokens.append(token)
        }
        out.string("tokenizer.ggml.model", "gpt2")
        out.string("tokenizer.ggml.pre", preset.ggufName)
        out.strings("tokenizer.ggml.tokens", tokens)
        out.set("tokenizer.ggml.token_type", .array(types.map { .int(Int64($0)) }), .array(5))
    }

    /// The token of an id as transformers' `get_vocab()` has it: an added token's content, else the model's token.
    static func vocabToken(_ t: Tokenizer, _ id: Int) -> String? {
        if let a = t.added.byId[Int32(id)] { return a.content }
        return t.model.token(Int32(id)).map { String(decoding: $0, as: UTF8.self) }
    }

    enum TokenType {
        static let normal: Int32 = 1, unknown: Int32 = 2, control: Int32 = 3, userDefined: Int32 = 4, unused: Int32 = 5, byte: Int32 = 6
    }

    /// A "<0xHH>" byte token (the decoder's own test).
    static func isByteToken(_ s: String) -> Bool { Decoder.byteToken(Array(s.utf8)) != nil }

    /// The converter's does_token_look_special.
    static func looksSpecial(_ t: String) -> Bool {
        ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(t)
            || (t.hasPrefix("<|") && t.hasSuffix("|>")) || (t.hasPrefix("<｜") && t.hasSuffix("｜>"))
            || (t.hasPrefix("<unused") && t.hasSuffix(">"))
    }

    // MARK: writing

    struct Writer {
        var entries: [Entry] = []

        /// Sets a key; a key set again keeps its place (a Python dict).
        mutating func set(_ key: String, _ value: GGUFValue, _ type: GGUFValueType) {
            if let i = entries.firstIndex(where: { $0.key == key }) { entries[i] = (key, value, type) } else { entries.append((key, value, type)) }
        }
        mutating func string(_ key: String, _ s: String) { set(key, .string(s), .string) }
        mutating func bool(_ key: String, _ b: Bool) { set(key, .bool(b), .bool) }
        mutating func strings(_ key: String, _ list: [String]) { set(key, .array(list.map { .string($0) }), .array(8)) }
    }
}

/// The tokenizer as transformers 5 loads a directory (`AutoTokenizer.from_pretrained`): tokenizer.json's
/// tokenizer, plus the special tokens tokenizer_config.json / special_tokens_map.json name. A named
/// token (`bos_token`, …) or an extra one (`extra_special_tokens`, else `additional_special_tokens`) that
/// is not among tokenizer.json's added tokens is added as a special token (keeping its id when the model's
/// vocabulary has it, else after the vocabulary); a named one that is becomes special.
struct HFTokenizer {
    static let namedTypes = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]

    let tokenizer: Tokenizer
    /// Ids of transformers' `all_special_tokens`.
    let specialIds: Set<Int32>
    /// Whether gguf-py's LlamaHfVocab takes it: BPE with byte fallback and a Sequence decoder, not Llama 3's
    /// shape (`ignore_merges` without byte fallback).
    let isSentencePieceBPE: Bool

    init(root: JSONValue, config: JSONValue?, specialMap: JSONValue?, path: String) throws {
        func content(_ v: JSONValue?) -> String? { v?.stringValue ?? v?["content"]?.stringValue }
        var named: [String] = []
        for typ in Self.namedTypes {
            if let c = content(specialMap?["\(typ)_token"]) ?? content(config?["\(typ)_token"]), !c.isEmpty { named.append(c) }
        }
        var extras: [String] = []
        let extraSource = [config?["extra_special_tokens"], config?["additional_special_tokens"],
                           specialMap?["extra_special_tokens"], specialMap?["additional_special_tokens"]]
            .first { $0 != nil && $0?.isNull == false } ?? nil
        if let list = extraSource?.arrayValue ?? extraSource?.objectMembers?.map(\.1) {
            extras = list.compactMap { content($0) }.filter { !$0.isEmpty }
        }
        var own: [String: AddedToken] = [:]
        for item in root["added_tokens"]?.arrayValue ?? [] {
            if let c = item["content"]?.stringValue { own[c] = try? JSONReader.addedToken(item, "added_tokens") }
        }
        var extra: [AddedToken] = []
        var seen = Set<String>()
        for (i, c) in (named + extras).enumerated() where seen.insert(c).inserted {
            if let t = own[c] {
                if i < named.count && !t.special {
                    var s = t
                    s.special = true
                    extra.append(s)
                }
            } else {
                extra.append(AddedToken(content: c, special: true))
            }
        }
        let t: Tokenizer
        do {
            t = try Tokenizer(json: root, extraAddedTokens: extra)
        } catch let e as TokenizerError {
            throw TokenizerError.inFile(path: path, e)
        }
        tokenizer = t
        specialIds = Set((named + extras).compactMap { t.tokenToId($0) })
        let model = root["model"]
        let bpe = (model?["type"]?.stringValue ?? "BPE") == "BPE"
        let llama3 = bpe && model?["ignore_merges"]?.boolValue == true && !(model?["byte_fallback"]?.boolValue ?? true)
        isSentencePieceBPE = !llama3 && bpe && model?["byte_fallback"]?.boolValue == true
            && root["decoder"]?["type"]?.stringValue == "Sequence"
    }
}

extension PreTokenizerPreset {
    /// The family whose normalizer, pre-tokenizer and `ignore_merges` are the tokenizer's, if any.
    static func matching(_ t: Tokenizer) -> PreTokenizerPreset? {
        let steps = t.preTokenizer.steps.map(\.signature), norm = Normalizer.signature(t.normalizer)
        return allCases.first { p in
            guard let pSteps = try? p.steps() else { return false }
            return pSteps.map(\.signature) == steps && Normalizer.signature(p.normalizer) == norm
                && p.ignoresMerges == t.model.ignoreMerges
        }
    }
}

/// gguf-py's SpecialVocab: special token ids, whether BOS/EOS/SEP are added, the chat template and the
/// normalizer flags, from tokenizer.json's post-processor and added tokens, tokenizer_config.json and
/// config.json, with its precedence rules.
struct SpecialVocabulary {
    var merges: [String] = []
    var types = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
    var ids: [(String, Int)] = []
    var add: [(String, Bool)] = []
    var chatTemplate: JSONValue?
    var lowercase: Bool?
    var stripAccents: Bool?
    let nVocab: Int?

    static let idKeys = ["bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "sep": "seperator_token_id",
                         "pad": "padding_token_id", "mask": "mask_token_id", "eot": "eot_token_id", "eom": "eom_token_id"]
    static let addKeys = ["bos": "add_bos_token", "eos": "add_eos_token", "sep": "add_sep_token"]

    init(tokenizerJSON root: JSONValue, tokenizerConfig: JSONValue?, directory dir: String, config: JSONValue?, nVocab: Int?) throws {
        self.nVocab = nVocab
        if let n = root["normalizer"] { parseNormalizer(n) }
        let addedTokens = root["added_tokens"]?.arrayValue ?? []
        var tc: [String: JSONValue]? = tokenizerConfig?.objectMembers.map { Dictionary($0, uniquingKeysWith: { _, b in b }) }
        let tcTruthy = !(tc?.isEmpty ?? true)
        func truthy(_ v: JSONValue?) -> Bool {
            switch v {
            case nil, .null?: return false
            case .bool(let b)?: return b
            case .int(let i)?: return i != 0
            case .double(let d)?: return d != 0
            case .string(let s)?: return !s.isEmpty
            case .array(let a)?: return !a.isEmpty
            case .object(let o)?: return !o.isEmpty
            }
        }
        func setAdd(_ typ: String, _ v: Bool) {
            if let i = add.firstIndex(where: { $0.0 == typ }) { add[i].1 = v } else { add.append((typ, v)) }
        }
        func setDefaultAdd(_ typ: String, _ v: Bool) { if !add.contains(where: { $0.0 == typ }) { add.append((typ, v)) } }
        func specialId(_ v: JSONValue?) -> JSONValue? { v?["SpecialToken"]?["id"] }

        var bos = tc?["bos_token"], cls = tc?["cls_token"], eos = tc?["eos_token"], sep = tc?["sep_token"]
        if !truthy(bos) && truthy(cls) && tcTruthy { tc?["bos_token"] = cls; bos = cls }
        if !truthy(eos) && truthy(sep) && tcTruthy { tc?["eos_token"] = sep; eos = sep }
        if let post = root["post_processor"], truthy(post) {
            for processor in post["processors"]?.arrayValue ?? [post] {
                switch processor["type"]?.stringValue {
                case "ByteLevel":
                    setDefaultAdd("bos", false)
                    setDefaultAdd("eos", false)
                case "RobertaProcessing":
                    setAdd("bos", true); setAdd("eos", true); setAdd("sep", true)
                    if !truthy(cls) && tcTruthy { cls = processor["cls"]?.arrayValue?.first ?? bos; tc?["cls_token"] = cls }
                    if !truthy(sep) && tcTruthy { sep = processor["sep"]?.arrayValue?.first ?? eos; tc?["sep_token"] = sep }
                case "TemplateProcessing":
                    let single = processor["single"]?.arrayValue ?? [], pair = processor["pair"]?.arrayValue ?? []
                    var first: JSONValue?, last: JSONValue?
                    if single.count > 1 {
                        first = specialId(single[0])
                        if truthy(first) {
                            if !tcTruthy {
                                bos = first
                            } else if first != bos && first != cls {
                                if !truthy(bos) { tc?["bos_token"] = first; bos = first }
                                if !truthy(cls) { tc?["cls_token"] = first; cls = first }
                            }
                            setAdd("bos", first == bos || first == cls)
                        }
                        last = specialId(single[single.count - 1])
                        if truthy(last) {
                            if !tcTruthy {
                                eos = last
                            } else if last != eos {
                                if !types.contains("eot") {
                                    types.append("eot"); tc?["eot_token"] = eos
                                } else if !types.contains("eom") {
                                    types.append("eom"); tc?["eom_token"] = eos
                                }
                                tc?["eos_token"] = last; eos = last
                            }
                            setAdd("eos", last == eos)
                        }
                    }
                    if !pair.isEmpty {
                        let start = truthy(first) && specialId(pair[0]) == first ? 1 : 0
                        let stop = truthy(last) && specialId(pair[pair.count - 1]) == last ? pair.count - 1 : pair.count
                        var middle = start < stop ? Array(pair[start..<stop]) : []
                        if !middle.isEmpty, middle[0]["Sequence"]?["id"]?.stringValue == "A",
                           middle[middle.count - 1]["Sequence"]?["id"]?.stringValue == "B" {
                            middle = middle.count > 2 ? Array(middle[1..<(middle.count - 1)]) : []
                            if !middle.isEmpty {
                                var addSep = false
                                let e1 = specialId(middle[0])
                                if truthy(e1), e1 == sep || e1 == eos, !truthy(last) { addSep = true }
                                if middle.count == 2, let e2 = specialId(middle[1]), truthy(e2), e2 == sep || e2 == eos { addSep = true }
                                setAdd("sep", addSep)
                                if addSep && !truthy(sep) && tcTruthy { tc?["sep_token"] = eos }
                            }
                        }
                    }
                default: break
                }
            }
        }
        guard tcTruthy, let tc else {
            idsFromConfig(config)
            return
        }
        try readChatTemplate(tc, directory: dir)
        for typ in types {
            if let a = tc["add_\(typ)_token"]?.boolValue { setDefaultAdd(typ, a) }
            guard let entry = tc["\(typ)_token"], let c = entry.stringValue ?? entry["content"]?.stringValue else { continue }
            // The first of tokenizer.json's added tokens with that content.
            if let id = addedTokens.first(where: { $0["content"]?.stringValue == c })?["id"]?.intValue { setId(typ, id) }
        }
        idsFromConfig(config)
    }

    mutating func setId(_ typ: String, _ id: Int) {
        guard id >= 0, nVocab.map({ id < $0 }) ?? true, !ids.contains(where: { $0.0 == typ }) else { return }
        ids.append((typ, id))
    }

    mutating func idsFromConfig(_ config: JSONValue?) {
        for typ in types {
            var v = config?["\(typ)_token_id"]
            if v == nil || v == .null { v = config?["text_config"]?["\(typ)_token_id"] }
            if case .int(let id)? = v { setId(typ, id) }
        }
    }

    mutating func parseNormalizer(_ n: JSONValue) {
        switch n["type"]?.stringValue {
        case "Lowercase": lowercase = true
        case "StripAccents": stripAccents = true
        case "BertNormalizer":
            if let v = n["lowercase"] { lowercase = v.boolValue }
            if let v = n["strip_accents"] { stripAccents = v.boolValue }
        case "Sequence": for m in n["normalizers"]?.arrayValue ?? [] { parseNormalizer(m) }
        default: break
        }
    }

    /// tokenizer_config.json's `chat_template` when it has the key, else chat_template.jinja (a list
    /// with the additional_chat_templates/*.jinja when there are some), else chat_template.json's.
    mutating func readChatTemplate(_ tc: [String: JSONValue], directory dir: String) throws {
        var alternative: JSONValue?
        let fm = FileManager.default
        func text(_ path: String) throws -> String {
            guard let d = fm.contents(atPath: path) else { throw TokenizerError.io(path: path, message: "cannot read the file") }
            return String(decoding: d, as: UTF8.self)
        }
        if fm.fileExists(atPath: dir + "/chat_template.jinja") {
            alternative = .string(try text(dir + "/chat_template.jinja"))
            let more = ((try? fm.contentsOfDirectory(atPath: dir + "/additional_chat_templates")) ?? []).filter { $0.hasSuffix(".jinja") }.sorted()
            if !more.isEmpty {
                var list: [JSONValue] = [.object([("name", .string("default")), ("template", alternative!)])]
                for f in more {
                    list.append(.object([("name", .string(String(f.dropLast(6)))),
                                         ("template", .string(try text(dir + "/additional_chat_templates/" + f)))]))
                }
                alternative = .array(list)
            }
        } else if let j = try TokenizerGGUFExport.readJSON(dir + "/chat_template.json") {
            alternative = j["chat_template"]
        }
        let t = tc.keys.contains("chat_template") ? tc["chat_template"] : alternative
        switch t {
        case .string?, .array?: chatTemplate = t
        default: chatTemplate = nil
        }
    }

    func write(into out: inout TokenizerGGUFExport.Writer, path dir: String) throws {
        if !merges.isEmpty { out.strings("tokenizer.ggml.merges", merges) }
        for (typ, id) in ids { if let k = Self.idKeys[typ] { out.set("tokenizer.ggml." + k, .uint(UInt64(id)), .u32) } }
        for (typ, v) in add { if let k = Self.addKeys[typ] { out.bool("tokenizer.ggml." + k, v) } }
        switch chatTemplate {
        case .string(let s)?: out.string("tokenizer.chat_template", s)
        case .array(let list)?:
            var names: [String] = []
            var fallback: String?
            for choice in list {
                guard choice.objectMembers != nil else {
                    throw TokenizerError.inFile(path: dir + "/tokenizer_config.json",
                                                .invalidValue(key: "chat_template", message: "expected a list of {\"name\": …, \"template\": …}"))
                }
                let raw = choice["name"]?.stringValue ?? ""
                let name = String(String.UnicodeScalarView(raw.unicodeScalars.map {
                    ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) ? $0 : "_"
                }))
                guard !name.isEmpty, let template = choice["template"]?.stringValue else { continue }
                if name == "default" {
                    fallback = template
                } else {
                    if !names.contains(name) { names.append(name) }
                    out.string("tokenizer.chat_template.\(name)", template)
                }
            }
            if !names.isEmpty { out.strings("tokenizer.chat_templates", names) }
            if let fallback { out.string("tokenizer.chat_template", fallback) }
        default: break
        }
        if let lowercase { out.bool("tokenizer.ggml.normalizer.lowercase", lowercase) }
        if let stripAccents { out.bool("tokenizer.ggml.normalizer.strip_accents", stripAccents) }
    }
}
