/// Turns generated ids into text as they arrive, never emitting part of a character: bytes of an unfinished
/// UTF-8 sequence (a byte-level token holding half an emoji, byte-fallback tokens like `<0xE2>`) are held back
/// until the sequence completes. The concatenation of every `append` and the final `finish` equals
/// `tokenizer.decode(allIds, skipSpecialTokens:)`.
///
/// It decodes a short window of ids — the ids emitted by the previous step as context, then the new ones — and
/// emits the text past the context's own decode (HF's `DecodeStream` scheme), so decoders that treat the first
/// token specially (Strip, Metaspace) stay exact. The window is held while its text ends in U+FFFD, which is
/// what an unfinished sequence decodes to.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: Tokenizer
    public let skipSpecialTokens: Bool
    private var ids: [Int32] = []
    /// Text of `ids[..<prefixIndex]`, already emitted.
    private var prefix: [UInt8] = []
    private var prefixIndex = 0

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    private func decodeBytes(_ ids: ArraySlice<Int32>) -> [UInt8] {
        Array(tokenizer.decode(Array(ids), skipSpecialTokens: skipSpecialTokens).utf8)
    }

    private static func endsWithReplacement(_ b: [UInt8]) -> Bool {
        b.count >= 3 && b[b.count - 3] == 0xEF && b[b.count - 2] == 0xBF && b[b.count - 1] == 0xBD
    }

    /// Adds one id; returns the text it completes ("" while held back).
    public mutating func append(_ id: Int32) -> String {
        if prefix.isEmpty && !ids.isEmpty {
            let p = decodeBytes(ids[...])
            if !Self.endsWithReplacement(p) {
                prefix = p
                prefixIndex = ids.count
            }
        }
        ids.append(id)
        let text = decodeBytes(ids[...])
        guard text.count > prefix.count, !Self.endsWithReplacement(text), text.starts(with: prefix) else { return "" }
        let new = Array(text[prefix.count...])
        // Keep the ids that produced `new` as the context of the next step.
        ids.removeFirst(prefixIndex)
        prefix = decodeBytes(ids[...])
        prefixIndex = ids.count
        return String(decoding: new, as: UTF8.self)
    }

    /// Adds several ids; returns the text they complete.
    public mutating func append(contentsOf newIds: [Int32]) -> String {
        var out = ""
        for id in newIds { out += append(id) }
        return out
    }

    /// Ends the stream: returns whatever was held back (an unfinished sequence decodes to U+FFFD, as in `decode`).
    public mutating func finish() -> String {
        defer {
            ids.removeAll()
            prefix.removeAll()
            prefixIndex = 0
        }
        let text = decodeBytes(ids[...])
        guard text.count > prefix.count, text.starts(with: prefix) else { return "" }
        return String(decoding: text[prefix.count...], as: UTF8.self)
    }
}
