import Synchronization

/// A text tokenizer that gives the ids and decodes of Hugging Face `tokenizers` for byte-level BPE
/// (GPT-2, Llama 3, Qwen2/3, DeepSeek-V3, GLM-4, SmolLM2) and SentencePiece-style BPE with byte fallback
/// (Llama 2, Mistral, Mixtral).
///
/// Encoding follows HF's pipeline: added tokens that are not normalized are cut out of the raw text (leftmost
/// longest, with their lstrip/rstrip/single_word rules); each remaining part is normalized; normalized added
/// tokens are cut out of that; the pre-tokenizer splits the rest; BPE encodes each piece; the post-processor adds
/// BOS/EOS. Thread-safe: every call keeps its scratch (and its word cache) to itself.
public final class Tokenizer: Sendable {
    /// One encode call's scratch and word cache, kept between calls (a call running while another holds it
    /// makes its own). The cache is dropped when it grows past `cacheLimit` pieces.
    private let workPool = Mutex<BPEWork?>(nil)
    private static let cacheLimit = 200_000
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizerPipeline
    let model: BPEModel
    let added: AddedVocabulary
    let postProcessor: PostProcessor?
    let decoder: Decoder?

    init(normalizer: Normalizer?, preTokenizer: PreTokenizerPipeline, model: BPEModel, addedTokens: [AddedToken],
         postProcessor: PostProcessor?, decoder: Decoder?) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        var added = AddedVocabulary()
        added.add(addedTokens, model: model, normalizer: normalizer)
        self.added = added
        self.postProcessor = postProcessor
        self.decoder = decoder
    }

    // MARK: Encoding

    /// Token ids of `text`. With `addSpecialTokens`, the post-processor's BOS/EOS are added (HF
    /// `tokenizer.encode(text)`); without, as `add_special_tokens=False`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        var work = workPool.withLock { pooled -> BPEWork in
            defer { pooled = nil }
            return pooled ?? BPEWork()
        }
        let ids = encode(text, addSpecialTokens: addSpecialTokens, work: &work)
        if work.cacheStart.count > Tokenizer.cacheLimit { work = BPEWork() }
        workPool.withLock { pooled in
            if pooled == nil { pooled = work }
        }
        return ids
    }

    func encode(_ text: String, addSpecialTokens: Bool, work: inout BPEWork) -> [Int32] {
        let input = Array(text.utf8)
        var ids: [Int32] = []
        ids.reserveCapacity(input.count / 3 + 4)
        var arena: [UInt8] = []
        var pieces: [Piece] = []
        var spans: [Int] = []
        let segments = input.withUnsafeBufferPointer { added.split($0, normalizedTokens: false) }
        for (id, s, e) in segments {
            if id >= 0 { ids.append(id); continue }
            if e <= s { continue }
            let raw = Array(input[s..<e])
            let normalized = normalizer?.normalize(raw) ?? raw
            let parts = normalized.withUnsafeBufferPointer { added.split($0, normalizedTokens: true) }
            for (id2, s2, e2) in parts {
                if id2 >= 0 { ids.append(id2); continue }
                if e2 <= s2 { continue }
                arena.removeAll(keepingCapacity: true)
                arena.append(contentsOf: normalized[s2..<e2])
                pieces.removeAll(keepingCapacity: true)
                pieces.append(Piece(start: 0, end: arena.count, atStart: s == 0 && s2 == 0))
                preTokenizer.run(&arena, &pieces, &spans)
                arena.withUnsafeBufferPointer { a in
                    for p in pieces {
                        model.tokenize(UnsafeBufferPointer(rebasing: a[p.start..<p.end]),
                                       byteLevel: preTokenizer.byteLevelInput, into: &ids, work: &work)
                    }
                }
            }
        }
        if let pp = postProcessor { return pp.process(ids, addSpecialTokens: addSpecialTokens) }
        return ids
    }

    /// How `encode` cuts `text` around added tokens, before pre-tokenization: each part is an added token (its
    /// id) or normalized text. For inspection and tests.
    public func splitOnAddedTokens(_ text: String) -> [(id: Int32?, text: String)] {
        var out: [(id: Int32?, text: String)] = []
        let input = Array(text.utf8)
        let segments = input.withUnsafeBufferPointer { added.split($0, normalizedTokens: false) }
        for (id, s, e) in segments {
            if id >= 0 { out.append((id, String(decoding: input[s..<max(s, e)], as: UTF8.self))); continue }
            if e <= s { continue }
            let raw = Array(input[s..<e])
            let normalized = normalizer?.normalize(raw) ?? raw
            for (id2, s2, e2) in normalized.withUnsafeBufferPointer({ added.split($0, normalizedTokens: true) }) {
                if e2 <= s2 && id2 < 0 { continue }
                out.append((id2 >= 0 ? id2 : nil, String(decoding: normalized[s2..<max(s2, e2)], as: UTF8.self)))
            }
        }
        return out
    }

    // MARK: Decoding

    /// The text of `ids`, as HF's `decode(ids, skip_special_tokens:)`. Unknown ids are skipped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let t = added.decodeString(id) ?? model.token(id) else { continue }
            if skipSpecialTokens && added.isSpecial(t) { continue }
            tokens.append(t)
        }
        if let d = decoder { return d.decode(tokens) }
        var all: [UInt8] = []
        for (i, t) in tokens.enumerated() {
            if i > 0 { all.append(0x20) }
            all.append(contentsOf: t)
        }
        return String(decoding: all, as: UTF8.self)
    }

    // MARK: Vocabulary

    /// The id of a token string (an added token's content or a model token), or nil.
    public func tokenToId(_ token: String) -> Int32? {
        let bytes = Array(token.utf8)
        let a = added.idByContent.find(bytes)
        if a >= 0 { return a }
        let m = model.vocab.find(bytes)
        return m >= 0 ? m : nil
    }

    /// The token string of an id (added tokens first), or nil.
    public func idToToken(_ id: Int32) -> String? {
        guard let t = added.decodeString(id) ?? model.token(id) else { return nil }
        return String(decoding: t, as: UTF8.self)
    }

    /// Model vocabulary entries plus added tokens that are not in it (HF `get_vocab_size(with_added_tokens=True)`).
    public var vocabularySize: Int {
        model.vocabCount + added.ids.filter { model.vocab.find(Array(added.byId[$0]!.content.utf8)) < 0 }.count
    }

    /// One past the largest id (the embedding rows a model needs at least).
    public var idLimit: Int {
        max(model.tokens.count, Int((added.ids.last ?? -1) + 1))
    }

    /// Ids of the added tokens marked special.
    public var specialTokenIds: [Int32] {
        added.ids.filter { added.byId[$0]!.special }
    }

    /// The added tokens by id.
    public var addedTokens: [(id: Int32, token: AddedToken)] {
        added.ids.map { ($0, added.byId[$0]!) }
    }

    /// How many ids `encode(…, addSpecialTokens: true)` adds around the text.
    public var specialTokensAddedCount: Int { postProcessor?.addedCount ?? 0 }
}
