/// A post-processor of tokenizer.json (`post_processor`), for single sequences: the special tokens it adds
/// around the ids when `addSpecialTokens` is true.
indirect enum PostProcessor: Sendable {
    /// `TemplateProcessing`'s `single` template: special-token ids before and after the sequence.
    case template(prefix: [Int32], suffix: [Int32])
    /// ByteLevel's post-processing only trims offsets: the ids are unchanged.
    case byteLevel
    case bert(cls: Int32, sep: Int32)
    case roberta(cls: Int32, sep: Int32)
    case sequence([PostProcessor])

    func process(_ ids: [Int32], addSpecialTokens: Bool) -> [Int32] {
        guard addSpecialTokens else { return ids }
        switch self {
        case .template(let prefix, let suffix):
            return prefix + ids + suffix
        case .byteLevel:
            return ids
        case .bert(let cls, let sep), .roberta(let cls, let sep):
            return [cls] + ids + [sep]
        case .sequence(let list):
            var out = ids
            for p in list { out = p.process(out, addSpecialTokens: true) }
            return out
        }
    }

    /// How many ids it adds to a single sequence.
    var addedCount: Int {
        switch self {
        case .template(let p, let s): return p.count + s.count
        case .byteLevel: return 0
        case .bert, .roberta: return 2
        case .sequence(let list): return list.reduce(0) { $0 + $1.addedCount }
        }
    }
}
