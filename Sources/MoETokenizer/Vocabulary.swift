/// A tokenizer described the way a GGUF file does (`tokenizer.ggml.*`), for the GGUF loader.
///
/// `model` is `tokenizer.ggml.model`: `gpt2` (byte-level BPE) or `llama` (SentencePiece-style BPE with byte
/// fallback). The pre-tokenizer comes from `tokenizer.ggml.pre` (see `Tokenizer.init(vocabulary:)` for the
/// names). Token types are llama.cpp's: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
public struct TokenizerVocabulary: Sendable {
    public enum Model: String, Sendable {
        case gpt2
        case llama
    }

    public var model: Model
    /// `tokenizer.ggml.tokens`: the token of each id.
    public var tokens: [String]
    /// `tokenizer.ggml.token_type`.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.scores` (SentencePiece vocabularies: merges are derived from them when `merges` is nil).
    public var scores: [Float]?
    /// `tokenizer.ggml.merges`: "left right", highest priority first.
    public var merges: [String]?
    /// `tokenizer.ggml.pre`.
    public var preTokenizer: String?
    public var bosTokenId: Int32?
    public var eosTokenId: Int32?
    public var unknownTokenId: Int32?
    public var paddingTokenId: Int32?
    /// `tokenizer.ggml.add_bos_token` (default: true for `llama`, false for `gpt2`).
    public var addBOS: Bool?
    /// `tokenizer.ggml.add_eos_token` (default false).
    public var addEOS: Bool?
    /// `tokenizer.ggml.add_space_prefix` (`llama` only; default true).
    public var addSpacePrefix: Bool?

    public init(model: Model, tokens: [String], tokenTypes: [Int32]? = nil, scores: [Float]? = nil,
                merges: [String]? = nil, preTokenizer: String? = nil, bosTokenId: Int32? = nil,
                eosTokenId: Int32? = nil, unknownTokenId: Int32? = nil, paddingTokenId: Int32? = nil,
                addBOS: Bool? = nil, addEOS: Bool? = nil, addSpacePrefix: Bool? = nil) {
        self.model = model
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.scores = scores
        self.merges = merges
        self.preTokenizer = preTokenizer
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.unknownTokenId = unknownTokenId
        self.paddingTokenId = paddingTokenId
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
    }
}

/// The pre-tokenizer families a GGUF names in `tokenizer.ggml.pre`.
public enum PreTokenizerPreset: String, Sendable, CaseIterable {
    /// GPT-2's ByteLevel regex (`gpt2`, `default`, `olmo`, `mpt`, `starcoder`, `refact`, `jais`, `phi-2`, …).
    case gpt2
    /// `\p{N}` digits one by one, then GPT-2's regex (`smollm`, as SmolLM2's tokenizer.json).
    case smollm
    /// Llama 3's regex with `ignore_merges` (`llama3`, `llama-v3`, `llama-bpe`).
    case llama3
    /// Llama 3's regex without `ignore_merges` (`dbrx`, `smaug-bpe`, `falcon3`, `pixtral`, `chatglm-bpe`, `glm4`, …).
    case llama3Regex
    /// NFC, then Qwen2's regex (`qwen2`, `deepseek-r1-qwen`, `stablelm2`, `megrez`, …), as Qwen's tokenizer.json.
    case qwen2
    /// DeepSeek-V3's three splits (`deepseek-v3`, `deepseek3-llm`).
    case deepseekV3
    /// gpt-4o's (o200k) regex (`gpt-4o`, `llama4`, `minimax-m2`).
    case gpt4o
    /// Mistral's Tekken regex (`tekken`).
    case tekken

    /// The names llama.cpp uses for each family in `tokenizer.ggml.pre`, the one MoEKit writes first (llama.cpp's
    /// converter names a pre-tokenizer after a model: the first is the model whose tokenizer MoEKit's family
    /// reproduces; the others are models whose pre-tokenizer does the same).
    static let ggufNames: [(preset: PreTokenizerPreset, names: [String])] = [
        (.gpt2, ["gpt-2", "default", "gpt2", "olmo", "mpt", "starcoder", "refact", "jais", "phi-2", "bloom", "gpt3-finnish",
                 "poro-chat", "viking", "codeshell", "exaone", "trillion", "granite-docling"]),
        (.smollm, ["smollm"]),
        (.llama3, ["llama-bpe", "llama3", "llama-v3"]),
        (.llama3Regex, ["dbrx", "smaug-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "chatglm-bpe", "glm4",
                        "jina-v5-nano"]),
        (.qwen2, ["qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "kormo", "f2llmv2", "hunyuan"]),
        (.deepseekV3, ["deepseek-v3", "deepseek3-llm"]),
        (.gpt4o, ["gpt-4o", "llama4", "minimax-m2", "kanana2", "talkie"]),
        (.tekken, ["tekken"]),
    ]

    /// The family a GGUF names (a missing name is `default`, GPT-2's).
    public init?(ggufName name: String?) {
        let n = name ?? "default"
        guard let p = Self.ggufNames.first(where: { $0.names.contains(n) })?.preset else { return nil }
        self = p
    }

    /// The name MoEKit writes in `tokenizer.ggml.pre` for this family.
    public var ggufName: String { Self.ggufNames.first { $0.preset == self }!.names[0] }

    /// The normalizer the family implies (Qwen2's tokenizer.json has NFC).
    var normalizer: Normalizer? { self == .qwen2 ? .nfc : nil }

    /// Whether words found whole in the vocabulary skip the merges (Llama 3's `ignore_merges`).
    var ignoresMerges: Bool { self == .llama3 }

    static let tekkenPattern =
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt4oPattern =
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    func steps() throws -> [PreTokenizerStep] {
        let byteLevel = PreTokenizerStep.byteLevel(addPrefixSpace: false, useRegex: false)
        switch self {
        case .gpt2: return [.byteLevel(addPrefixSpace: false, useRegex: true)]
        case .smollm: return [.digits(individual: true), .byteLevel(addPrefixSpace: false, useRegex: true)]
        case .llama3, .llama3Regex: return [.split(PieceMatcher(known: .llama3), .isolated, invert: false), byteLevel]
        case .qwen2: return [.split(PieceMatcher(known: .qwen2), .isolated, invert: false), byteLevel]
        case .deepseekV3:
            return [.split(PieceMatcher(known: .digits3), .isolated, invert: false),
                    .split(PieceMatcher(known: .deepseekCJK), .isolated, invert: false),
                    .split(PieceMatcher(known: .deepseekV3), .isolated, invert: false), byteLevel]
        case .gpt4o: return [.split(try PieceMatcher(pattern: Self.gpt4oPattern), .isolated, invert: false), byteLevel]
        case .tekken: return [.split(try PieceMatcher(pattern: Self.tekkenPattern), .isolated, invert: false), byteLevel]
        }
    }
}

extension Tokenizer {
    /// Builds the tokenizer a GGUF's `tokenizer.ggml.*` metadata describes, as the model's own tokenizer.json
    /// would tokenize:
    ///
    /// - `gpt2`: byte-level BPE with the given merges; normal tokens that use characters outside the byte-level
    ///   alphabet are respelled byte by byte (as transformers' GGUF converter does; control and user-defined
    ///   tokens keep their spelling, as llama.cpp writes them); the pre-tokenizer from
    ///   `preTokenizer` (`PreTokenizerPreset`; an unknown name is an error naming `tokenizer.ggml.pre`);
    ///   ByteLevel decoder.
    /// - `llama`: SentencePiece-style BPE with byte fallback and fused unknowns; merges from the file or, when
    ///   absent, derived from the scores as transformers does; Metaspace (prepend `first`, or `never` without
    ///   `add_space_prefix`); decoder Replace ▁ → space, ByteFallback, Fuse, Strip one leading space.
    ///
    /// Control tokens (type 3) and the BOS/EOS/unknown/padding tokens become special added tokens, user-defined
    /// ones (type 4) plain added tokens, all matched in the raw text. BOS/EOS are added by `encode` per
    /// `addBOS`/`addEOS`.
    public convenience init(vocabulary v: TokenizerVocabulary) throws {
        let n = v.tokens.count
        guard n > 0 else { throw TokenizerError.invalidValue(key: "tokenizer.ggml.tokens", message: "empty vocabulary") }
        if let t = v.tokenTypes, t.count != n {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.token_type", message: "\(t.count) types for \(n) tokens")
        }
        if let s = v.scores, s.count != n {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.scores", message: "\(s.count) scores for \(n) tokens")
        }
        for (key, id) in [("tokenizer.ggml.bos_token_id", v.bosTokenId), ("tokenizer.ggml.eos_token_id", v.eosTokenId),
                          ("tokenizer.ggml.unknown_token_id", v.unknownTokenId),
                          ("tokenizer.ggml.padding_token_id", v.paddingTokenId)] {
            if let id, id < 0 || Int(id) >= n {
                throw TokenizerError.invalidValue(key: key, message: "id \(id) is outside the vocabulary of \(n)")
            }
        }
        let byteLevel = v.model == .gpt2
        // Token spellings as the model sees them.
        var spelled: [[UInt8]] = []
        spelled.reserveCapacity(n)
        for (i, t) in v.tokens.enumerated() {
            var bytes = Array(t.utf8)
            // Control and user-defined tokens are stored in their own spelling ("<｜begin▁of▁sentence｜>");
            // other tokens outside the byte-level alphabet are respelled byte by byte.
            let type = v.tokenTypes?[i] ?? 1
            if byteLevel && type != 3 && type != 4 {
                let inAlphabet = t.unicodeScalars.allSatisfy { ByteLevelTable.byte(for: $0.value) != nil }
                if !inAlphabet {
                    var respelled: [UInt8] = []
                    bytes.withUnsafeBufferPointer { ByteLevelTable.encode($0, into: &respelled) }
                    bytes = respelled
                }
            }
            spelled.append(bytes)
        }
        let vocabEntries = spelled.enumerated().map { ($0.element, Int32($0.offset)) }

        var merges: [([UInt8], [UInt8])] = []
        if let list = v.merges {
            merges.reserveCapacity(list.count)
            for (i, m) in list.enumerated() {
                let parts = Array(m.utf8).split(separator: 0x20, omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.badMerge(key: "tokenizer.ggml.merges[\(i)]",
                                                  message: "\"\(m)\" is not two tokens separated by one space")
                }
                merges.append((Array(parts[0]), Array(parts[1])))
            }
        } else if byteLevel {
            throw TokenizerError.missingKey("tokenizer.ggml.merges")
        } else {
            guard let scores = v.scores else { throw TokenizerError.missingKey("tokenizer.ggml.scores") }
            merges = Tokenizer.mergesFromScores(tokens: spelled, scores: scores)
        }

        let preset: PreTokenizerPreset?
        if byteLevel {
            guard let p = PreTokenizerPreset(ggufName: v.preTokenizer) else {
                throw TokenizerError.invalidValue(key: "tokenizer.ggml.pre",
                                                  message: "unknown pre-tokenizer \"\(v.preTokenizer ?? "")\"")
            }
            preset = p
        } else {
            preset = nil
        }

        let unkToken = v.model == .llama ? v.unknownTokenId.map { spelled[Int($0)] } : nil
        let model = try BPEModel(vocab: vocabEntries, merges: merges, mergesKey: "tokenizer.ggml.merges",
                                 unkToken: unkToken, fuseUnk: !byteLevel, byteFallback: !byteLevel,
                                 ignoreMerges: preset?.ignoresMerges ?? false, continuingSubwordPrefix: nil, endOfWordSuffix: nil)

        // Added tokens: control tokens and the named special ids, then user-defined tokens.
        var added: [AddedToken] = []
        var seen = Set<Int32>()
        func addToken(_ id: Int, special: Bool) {
            guard seen.insert(Int32(id)).inserted else { return }
            added.append(AddedToken(content: String(decoding: spelled[id], as: UTF8.self), normalized: false,
                                    special: special))
        }
        for id in [v.unknownTokenId, v.bosTokenId, v.eosTokenId, v.paddingTokenId].compactMap({ $0 }) {
            addToken(Int(id), special: true)
        }
        if let types = v.tokenTypes {
            for (i, t) in types.enumerated() where t == 3 { addToken(i, special: true) }
            for (i, t) in types.enumerated() where t == 4 { addToken(i, special: false) }
        }

        let normalizer = preset?.normalizer
        let steps: [PreTokenizerStep]
        let decoder: Decoder
        let addPrefix = v.addSpacePrefix ?? true
        if let preset {
            steps = try preset.steps()
            decoder = .byteLevel
        } else {
            steps = [.metaspace(replacement: 0x2581, prepend: addPrefix ? .first : .never, split: false)]
            var chain: [Decoder] = [.replace(.literal(Array("\u{2581}".utf8)), content: [0x20]), .byteFallback, .fuse]
            if addPrefix { chain.append(.strip(content: 0x20, start: 1, stop: 0)) }
            decoder = .sequence(chain)
        }
        var prefix: [Int32] = [], suffix: [Int32] = []
        if v.addBOS ?? (v.model == .llama), let b = v.bosTokenId { prefix = [b] }
        if v.addEOS ?? false, let e = v.eosTokenId { suffix = [e] }
        self.init(normalizer: normalizer, preTokenizer: PreTokenizerPipeline(steps: steps), model: model,
                  addedTokens: added, postProcessor: .template(prefix: prefix, suffix: suffix), decoder: decoder)
    }

    /// Merges implied by a SentencePiece vocabulary, as transformers' `generate_merges`: every split of every
    /// token into two vocabulary tokens, ordered by the token's score (highest first), then by the lengths of
    /// the two parts in characters (longest first), keeping vocabulary order among equals.
    static func mergesFromScores(tokens: [[UInt8]], scores: [Float]) -> [([UInt8], [UInt8])] {
        var ids = ByteKeyTable(capacity: tokens.count)
        for (i, t) in tokens.enumerated() { ids.set(t, Int32(i)) }   // later duplicates win, as in a dict
        var firstIndex = ByteKeyTable(capacity: tokens.count)
        var order: [Int] = []          // tokens in first-occurrence order, score of the last occurrence
        var scoreOf: [Float] = []
        for (i, t) in tokens.enumerated() {
            let f = firstIndex.find(t)
            if f >= 0 {
                scoreOf[Int(f)] = scores[i]
            } else {
                firstIndex.set(t, Int32(order.count))
                order.append(i)
                scoreOf.append(scores[i])
            }
        }
        struct Candidate {
            var left: [UInt8]
            var right: [UInt8]
            var score: Float
            var leftChars: Int
            var rightChars: Int
            var seq: Int
        }
        // Byte lengths that some token has: a cut whose left or right part has another length
        // cannot split a token into two, so it is skipped without hashing. This keeps a long token
        // linear (trying every cut of a 1 MB token by lookup would take quadratic time).
        var hasLength = [Bool](repeating: false, count: (tokens.map(\.count).max() ?? 0) + 1)
        for t in tokens { hasLength[t.count] = true }
        var all: [Candidate] = []
        for (k, i) in order.enumerated() {
            let t = tokens[i]
            var starts: [Int] = []
            var j = 0
            while j < t.count {
                starts.append(j)
                j += scalarLength(t[j])
            }
            var local: [(Candidate, Int32, Int32)] = []
            t.withUnsafeBytes { bytes in
                for (c, cut) in starts.enumerated() where c > 0 && hasLength[cut] && hasLength[t.count - cut] {
                    let il = ids.find(UnsafeRawBufferPointer(rebasing: bytes[..<cut]))
                    guard il >= 0 else { continue }
                    let ir = ids.find(UnsafeRawBufferPointer(rebasing: bytes[cut...]))
                    guard ir >= 0 else { continue }
                    local.append((Candidate(left: Array(t[..<cut]), right: Array(t[cut...]), score: scoreOf[k], leftChars: c,
                                            rightChars: starts.count - c, seq: 0), il, ir))
                }
            }
            local.sort { ($0.1, $0.2) < ($1.1, $1.2) }
            for (cand, _, _) in local {
                var x = cand
                x.seq = all.count
                all.append(x)
            }
        }
        all.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.leftChars != b.leftChars { return a.leftChars > b.leftChars }
            if a.rightChars != b.rightChars { return a.rightChars > b.rightChars }
            return a.seq < b.seq
        }
        return all.map { ($0.left, $0.right) }
    }
}
