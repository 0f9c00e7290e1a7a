import Foundation
import MoEFormats

extension Tokenizer {
    /// Reads a Hugging Face tokenizer.json file.
    public convenience init(contentsOfFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.io(path: path, message: "cannot read the file")
        }
        try self.init(tokenizerJSON: [UInt8](data), fileName: path)
    }

    /// Builds the tokenizer a tokenizer.json describes. Errors name the key at fault.
    public convenience init(tokenizerJSON bytes: [UInt8], fileName: String = "tokenizer.json") throws {
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes, maxDepth: 64)
        } catch let e as JSONError {
            throw TokenizerError.invalidJSON(file: fileName, message: e.description)
        }
        try self.init(json: root)
    }

    /// `extraAddedTokens` are added after tokenizer.json's own (as transformers adds the special tokens of
    /// tokenizer_config.json).
    convenience init(json root: JSONValue, extraAddedTokens: [AddedToken] = []) throws {
        guard root.objectMembers != nil else {
            throw TokenizerError.invalidValue(key: "(top level)", message: "expected an object")
        }
        if let v = root["version"], !v.isNull {
            guard v.stringValue == "1.0" else {
                throw TokenizerError.invalidValue(key: "version", message: "unknown tokenizer version \(v.serialized())")
            }
        }
        guard let modelJSON = root["model"], !modelJSON.isNull else { throw TokenizerError.missingKey("model") }
        let normalizer = try JSONReader.normalizer(root["normalizer"], "normalizer")
        let steps = try JSONReader.preTokenizer(root["pre_tokenizer"], "pre_tokenizer")
        let model = try JSONReader.model(modelJSON, "model")
        let post = try JSONReader.postProcessor(root["post_processor"], "post_processor")
        let decoder = try JSONReader.decoder(root["decoder"], "decoder")
        var added: [AddedToken] = []
        if let list = root["added_tokens"], !list.isNull {
            guard let items = list.arrayValue else {
                throw TokenizerError.invalidValue(key: "added_tokens", message: "expected an array")
            }
            for (i, item) in items.enumerated() {
                added.append(try JSONReader.addedToken(item, "added_tokens[\(i)]"))
            }
        }
        self.init(normalizer: normalizer, preTokenizer: PreTokenizerPipeline(steps: steps), model: model,
                  addedTokens: added + extraAddedTokens, postProcessor: post, decoder: decoder)
    }
}

/// Typed reads of tokenizer.json sections; every error names its key path.
enum JSONReader {
    static func object(_ v: JSONValue, _ key: String) throws -> JSONValue {
        guard v.objectMembers != nil else { throw TokenizerError.invalidValue(key: key, message: "expected an object") }
        return v
    }

    static func type(_ v: JSONValue, _ key: String) throws -> String {
        _ = try object(v, key)
        guard let t = v["type"] else { throw TokenizerError.missingKey("\(key).type") }
        guard let s = t.stringValue else { throw TokenizerError.invalidValue(key: "\(key).type", message: "expected a string") }
        return s
    }

    static func string(_ v: JSONValue, _ field: String, _ key: String) throws -> String {
        guard let x = v[field] else { throw TokenizerError.missingKey("\(key).\(field)") }
        guard let s = x.stringValue else {
            throw TokenizerError.invalidValue(key: "\(key).\(field)", message: "expected a string")
        }
        return s
    }

    static func optionalString(_ v: JSONValue, _ field: String, _ key: String) throws -> String? {
        guard let x = v[field], !x.isNull else { return nil }
        guard let s = x.stringValue else {
            throw TokenizerError.invalidValue(key: "\(key).\(field)", message: "expected a string")
        }
        return s
    }

    static func bool(_ v: JSONValue, _ field: String, _ key: String, default d: Bool? = nil) throws -> Bool {
        guard let x = v[field], !x.isNull else {
            if let d { return d }
            throw TokenizerError.missingKey("\(key).\(field)")
        }
        guard let b = x.boolValue else { throw TokenizerError.invalidValue(key: "\(key).\(field)", message: "expected a boolean") }
        return b
    }

    static func int(_ v: JSONValue, _ field: String, _ key: String, default d: Int? = nil) throws -> Int {
        guard let x = v[field], !x.isNull else {
            if let d { return d }
            throw TokenizerError.missingKey("\(key).\(field)")
        }
        guard let i = x.intValue else { throw TokenizerError.invalidValue(key: "\(key).\(field)", message: "expected an integer") }
        return i
    }

    static func array(_ v: JSONValue, _ field: String, _ key: String) throws -> [JSONValue] {
        guard let x = v[field] else { throw TokenizerError.missingKey("\(key).\(field)") }
        guard let a = x.arrayValue else { throw TokenizerError.invalidValue(key: "\(key).\(field)", message: "expected an array") }
        return a
    }

    static func singleScalar(_ s: String, _ key: String) throws -> UInt32 {
        let scalars = Array(s.unicodeScalars)
        guard scalars.count == 1 else {
            throw TokenizerError.invalidValue(key: key, message: "expected one character, found \"\(s)\"")
        }
        return scalars[0].value
    }

    /// `{"String": …}` or `{"Regex": …}`.
    static func pattern(_ v: JSONValue?, _ key: String) throws -> Pattern {
        guard let v else { throw TokenizerError.missingKey(key) }
        if let s = v["String"]?.stringValue {
            guard !s.isEmpty else { throw TokenizerError.invalidValue(key: "\(key).String", message: "empty pattern") }
            return .literal(Array(s.utf8))
        }
        if let r = v["Regex"]?.stringValue {
            do {
                return .regex(try PieceMatcher(pattern: r))
            } catch TokenizerError.badPattern(_, let p, let m) {
                throw TokenizerError.badPattern(key: "\(key).Regex", pattern: p, message: m)
            }
        }
        throw TokenizerError.invalidValue(key: key, message: "expected {\"String\": …} or {\"Regex\": …}")
    }

    // MARK: normalizer

    static func normalizer(_ v: JSONValue?, _ key: String) throws -> Normalizer? {
        guard let v, !v.isNull else { return nil }
        let t = try type(v, key)
        switch t {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "ByteLevel": return .byteLevel
        case "Prepend": return .prepend(Array(try string(v, "prepend", key).utf8))
        case "Replace":
            return .replace(try pattern(v["pattern"], "\(key).pattern"), content: Array(try string(v, "content", key).utf8))
        case "Strip":
            return .strip(left: try bool(v, "strip_left", key, default: false), right: try bool(v, "strip_right", key, default: false))
        case "Sequence":
            let list = try array(v, "normalizers", key)
            return .sequence(try list.enumerated().map { i, n in
                guard let x = try normalizer(n, "\(key).normalizers[\(i)]") else {
                    throw TokenizerError.invalidValue(key: "\(key).normalizers[\(i)]", message: "null normalizer")
                }
                return x
            })
        default:
            throw TokenizerError.unsupportedType(key: "\(key).type", type: t)
        }
    }

    // MARK: pre-tokenizer

    static func behavior(_ v: JSONValue, _ key: String, default d: SplitBehavior? = nil) throws -> SplitBehavior {
        guard let x = v["behavior"], !x.isNull else {
            if let d { return d }
            throw TokenizerError.missingKey("\(key).behavior")
        }
        guard let s = x.stringValue, let b = SplitBehavior(rawValue: s) else {
            throw TokenizerError.invalidValue(key: "\(key).behavior", message: "unknown split behavior \(x.serialized())")
        }
        return b
    }

    static func prependScheme(_ v: JSONValue, _ key: String) throws -> PrependScheme {
        var scheme = PrependScheme.always
        if let x = v["prepend_scheme"], !x.isNull {
            guard let s = x.stringValue, let p = PrependScheme(rawValue: s) else {
                throw TokenizerError.invalidValue(key: "\(key).prepend_scheme", message: "expected first, always or never")
            }
            scheme = p
        }
        if let x = v["add_prefix_space"], x.boolValue == false {
            guard scheme == .never else {
                throw TokenizerError.invalidValue(key: "\(key).add_prefix_space",
                                                  message: "add_prefix_space does not match declared prepend_scheme")
            }
        }
        return scheme
    }

    static func preTokenizer(_ v: JSONValue?, _ key: String) throws -> [PreTokenizerStep] {
        guard let v, !v.isNull else { return [] }
        let t = try type(v, key)
        switch t {
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: try bool(v, "add_prefix_space", key, default: true),
                               useRegex: try bool(v, "use_regex", key, default: true))]
        case "Split":
            let behavior = try behavior(v, key)
            let invert = try bool(v, "invert", key, default: false)
            switch try pattern(v["pattern"], "\(key).pattern") {
            case .literal(let bytes): return [.literalSplit(bytes, behavior, invert: invert)]
            case .regex(let m): return [.split(m, behavior, invert: invert)]
            }
        case "Digits":
            return [.digits(individual: try bool(v, "individual_digits", key, default: false))]
        case "Metaspace":
            let rep = try singleScalar(try string(v, "replacement", key), "\(key).replacement")
            return [.metaspace(replacement: rep, prepend: try prependScheme(v, key),
                               split: try bool(v, "split", key, default: true))]
        case "Whitespace":
            return [.whitespace]
        case "WhitespaceSplit":
            return [.whitespaceSplit]
        case "Punctuation":
            return [.punctuation(try behavior(v, key, default: .isolated))]
        case "BertPreTokenizer":
            return [.whitespaceSplit, .punctuation(.isolated)]
        case "CharDelimiterSplit":
            let d = try string(v, "delimiter", key)
            _ = try singleScalar(d, "\(key).delimiter")
            return [.literalSplit(Array(d.utf8), .removed, invert: false)]
        case "Sequence":
            let list = try array(v, "pretokenizers", key)
            var steps: [PreTokenizerStep] = []
            for (i, p) in list.enumerated() {
                steps.append(contentsOf: try preTokenizer(p, "\(key).pretokenizers[\(i)]"))
            }
            return steps
        default:
            throw TokenizerError.unsupportedType(key: "\(key).type", type: t)
        }
    }

    // MARK: model

    static func model(_ v: JSONValue, _ key: String) throws -> BPEModel {
        _ = try object(v, key)
        if let t = v["type"], !t.isNull {
            guard let s = t.stringValue else {
                throw TokenizerError.invalidValue(key: "\(key).type", message: "expected a string")
            }
            guard s == "BPE" else { throw TokenizerError.unsupportedType(key: "\(key).type", type: s) }
        }
        guard let vocabJSON = v["vocab"] else { throw TokenizerError.missingKey("\(key).vocab") }
        guard let members = vocabJSON.objectMembers else {
            throw TokenizerError.invalidValue(key: "\(key).vocab", message: "expected an object of token → id")
        }
        var vocab: [([UInt8], Int32)] = []
        vocab.reserveCapacity(members.count)
        for (token, id) in members {
            guard let i = id.intValue, i >= 0, i <= Int(Int32.max) else {
                throw TokenizerError.invalidValue(key: "\(key).vocab[\"\(token)\"]", message: "expected a non-negative id")
            }
            vocab.append((Array(token.utf8), Int32(i)))
        }
        guard let mergesJSON = v["merges"] else { throw TokenizerError.missingKey("\(key).merges") }
        guard let list = mergesJSON.arrayValue else {
            throw TokenizerError.invalidValue(key: "\(key).merges", message: "expected an array")
        }
        var merges: [([UInt8], [UInt8])] = []
        merges.reserveCapacity(list.count)
        var rank = 0
        for (i, m) in list.enumerated() {
            if let s = m.stringValue {
                if s.hasPrefix("#version") { continue }
                // Split the bytes: splitting the String would split grapheme clusters (" \u{301}" is one).
                let parts = Array(s.utf8).split(separator: 0x20, omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.badMerge(key: "\(key).merges[\(i)]",
                                                  message: "\"\(s)\" is not two tokens separated by one space")
                }
                merges.append((Array(parts[0]), Array(parts[1])))
            } else if let pair = m.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                merges.append((Array(a.utf8), Array(b.utf8)))
            } else {
                throw TokenizerError.badMerge(key: "\(key).merges[\(i)]",
                                              message: "expected \"a b\" or [\"a\", \"b\"], found \(m.serialized())")
            }
            rank += 1
        }
        if let d = v["dropout"], let p = d.doubleValue, p > 0 {
            throw TokenizerError.invalidValue(key: "\(key).dropout", message: "BPE dropout is not supported")
        }
        return try BPEModel(
            vocab: vocab, merges: merges, mergesKey: "\(key).merges",
            unkToken: try optionalString(v, "unk_token", key).map { Array($0.utf8) },
            fuseUnk: try bool(v, "fuse_unk", key, default: false),
            byteFallback: try bool(v, "byte_fallback", key, default: false),
            ignoreMerges: try bool(v, "ignore_merges", key, default: false),
            continuingSubwordPrefix: try optionalString(v, "continuing_subword_prefix", key).map { Array($0.utf8) },
            endOfWordSuffix: try optionalString(v, "end_of_word_suffix", key).map { Array($0.utf8) })
    }

    // MARK: added tokens

    static func addedToken(_ v: JSONValue, _ key: String) throws -> AddedToken {
        _ = try object(v, key)
        let special = try bool(v, "special", key, default: false)
        return AddedToken(content: try string(v, "content", key),
                          singleWord: try bool(v, "single_word", key, default: false),
                          lstrip: try bool(v, "lstrip", key, default: false),
                          rstrip: try bool(v, "rstrip", key, default: false),
                          normalized: try bool(v, "normalized", key, default: !special),
                          special: special)
    }

    // MARK: post-processor

    static func postProcessor(_ v: JSONValue?, _ key: String) throws -> PostProcessor? {
        guard let v, !v.isNull else { return nil }
        let t = try type(v, key)
        switch t {
        case "ByteLevel": return .byteLevel
        case "TemplateProcessing":
            let single = try array(v, "single", key)
            let specials = v["special_tokens"] ?? .object([])
            var prefix: [Int32] = [], suffix: [Int32] = []
            var seenSequence = false
            for (i, piece) in single.enumerated() {
                let pk = "\(key).single[\(i)]"
                if let seq = piece["Sequence"] {
                    guard let id = seq["id"]?.stringValue, id == "A" else {
                        throw TokenizerError.invalidValue(key: "\(pk).Sequence.id", message: "a single template can only hold $A")
                    }
                    seenSequence = true
                } else if let sp = piece["SpecialToken"] {
                    let name = try string(sp, "id", "\(pk).SpecialToken")
                    guard let entry = specials[name] else {
                        throw TokenizerError.missingKey("\(key).special_tokens.\(name)")
                    }
                    let ids = try array(entry, "ids", "\(key).special_tokens.\(name)")
                    for (j, x) in ids.enumerated() {
                        guard let n = x.intValue, n >= 0, n <= Int(Int32.max) else {
                            throw TokenizerError.invalidValue(key: "\(key).special_tokens.\(name).ids[\(j)]", message: "expected an id")
                        }
                        if seenSequence { suffix.append(Int32(n)) } else { prefix.append(Int32(n)) }
                    }
                } else {
                    throw TokenizerError.invalidValue(key: pk, message: "expected {\"Sequence\": …} or {\"SpecialToken\": …}")
                }
            }
            return .template(prefix: prefix, suffix: suffix)
        case "BertProcessing", "RobertaProcessing":
            func pair(_ field: String) throws -> Int32 {
                let a = try array(v, field, key)
                guard a.count == 2, let id = a[1].intValue, id >= 0 else {
                    throw TokenizerError.invalidValue(key: "\(key).\(field)", message: "expected [token, id]")
                }
                return Int32(id)
            }
            let cls = try pair("cls"), sep = try pair("sep")
            return t == "BertProcessing" ? .bert(cls: cls, sep: sep) : .roberta(cls: cls, sep: sep)
        case "Sequence":
            let list = try array(v, "processors", key)
            return .sequence(try list.enumerated().map { i, p in
                guard let x = try postProcessor(p, "\(key).processors[\(i)]") else {
                    throw TokenizerError.invalidValue(key: "\(key).processors[\(i)]", message: "null post-processor")
                }
                return x
            })
        default:
            throw TokenizerError.unsupportedType(key: "\(key).type", type: t)
        }
    }

    // MARK: decoder

    static func decoder(_ v: JSONValue?, _ key: String) throws -> Decoder? {
        guard let v, !v.isNull else { return nil }
        let t = try type(v, key)
        switch t {
        case "ByteLevel": return .byteLevel
        case "Metaspace":
            let rep = try singleScalar(try string(v, "replacement", key), "\(key).replacement")
            return .metaspace(replacement: rep, prepend: try prependScheme(v, key))
        case "Replace":
            return .replace(try pattern(v["pattern"], "\(key).pattern"), content: Array(try string(v, "content", key).utf8))
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            let c = try singleScalar(try string(v, "content", key), "\(key).content")
            return .strip(content: c, start: try int(v, "start", key), stop: try int(v, "stop", key))
        case "BPEDecoder":
            return .bpe(suffix: Array((try optionalString(v, "suffix", key) ?? "</w>").utf8))
        case "WordPiece":
            return .wordPiece(prefix: Array((try optionalString(v, "prefix", key) ?? "##").utf8),
                              cleanup: try bool(v, "cleanup", key, default: true))
        case "Sequence":
            let list = try array(v, "decoders", key)
            return .sequence(try list.enumerated().map { i, d in
                guard let x = try decoder(d, "\(key).decoders[\(i)]") else {
                    throw TokenizerError.invalidValue(key: "\(key).decoders[\(i)]", message: "null decoder")
                }
                return x
            })
        default:
            throw TokenizerError.unsupportedType(key: "\(key).type", type: t)
        }
    }
}
