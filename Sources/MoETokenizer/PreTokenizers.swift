/// How a Split treats the delimiters it finds (HF `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

enum PrependScheme: String, Sendable {
    case first, always, never
}

/// A piece of text between pre-tokenizer steps: a byte range of the encode call's arena.
struct Piece {
    var start: Int
    var end: Int
    /// Whether the piece begins at offset 0 of the original input (Metaspace `prepend_scheme: first`).
    var atStart: Bool
}

/// One pre-tokenizer of tokenizer.json (sequences are flattened).
enum PreTokenizerStep: Sendable {
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(PieceMatcher, SplitBehavior, invert: Bool)
    case literalSplit([UInt8], SplitBehavior, invert: Bool)
    case digits(individual: Bool)
    case metaspace(replacement: UInt32, prepend: PrependScheme, split: Bool)
    case whitespace
    case whitespaceSplit
    case punctuation(SplitBehavior)
}

/// The flattened pre-tokenizer. When the last step is ByteLevel, its byte → character mapping is left to the
/// model (`byteLevelInput`), which looks bytes up directly.
struct PreTokenizerPipeline: Sendable {
    let steps: [PreTokenizerStep]
    let byteLevelInput: Bool

    init(steps: [PreTokenizerStep]) {
        self.steps = steps
        if case .byteLevel = steps.last { byteLevelInput = true } else { byteLevelInput = false }
    }

    private static let gpt2 = PieceMatcher(known: .gpt2)

    /// Splits `pieces` (ranges of `arena`) by every step in turn.
    func run(_ arena: inout [UInt8], _ pieces: inout [Piece], _ spans: inout [Int]) {
        for (k, step) in steps.enumerated() {
            let last = k == steps.count - 1
            var out: [Piece] = []
            out.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                apply(step, piece, materializeByteLevel: !last, &arena, &out, &spans)
            }
            pieces = out
        }
    }

    private func apply(_ step: PreTokenizerStep, _ piece: Piece, materializeByteLevel: Bool,
                       _ arena: inout [UInt8], _ out: inout [Piece], _ spans: inout [Int]) {
        switch step {
        case .byteLevel(let addPrefixSpace, let useRegex):
            var p = piece
            if addPrefixSpace && (p.start == p.end || arena[p.start] != 0x20) {
                let s = arena.count
                arena.append(0x20)
                arena.append(contentsOf: arena[p.start..<p.end])
                p = Piece(start: s, end: arena.count, atStart: p.atStart)
            }
            let first = out.count
            if useRegex {
                split(p, matcher: PreTokenizerPipeline.gpt2, .isolated, invert: false, &arena, &out, &spans)
            } else if p.end > p.start {
                out.append(p)
            }
            if materializeByteLevel {
                for i in first..<out.count {
                    let q = out[i]
                    let s = arena.count
                    let bytes = Array(arena[q.start..<q.end])
                    bytes.withUnsafeBufferPointer { ByteLevelTable.encode($0, into: &arena) }
                    out[i] = Piece(start: s, end: arena.count, atStart: q.atStart)
                }
            }
        case .split(let matcher, let behavior, let invert):
            split(piece, matcher: matcher, behavior, invert: invert, &arena, &out, &spans)
        case .literalSplit(let needle, let behavior, let invert):
            spans.removeAll(keepingCapacity: true)
            arena.withUnsafeBufferPointer { a in
                Pattern.literal(needle).matches(in: UnsafeBufferPointer(rebasing: a[piece.start..<piece.end]), into: &spans)
            }
            emit(piece, behavior, invert: invert, &out, spans)
        case .digits(let individual):
            charSplit(piece, individual ? .isolated : .contiguous, &arena, &out, &spans) { f, _ in f.contains(.number) }
        case .whitespaceSplit:
            charSplit(piece, .removed, &arena, &out, &spans) { f, _ in f.contains(.space) }
        case .punctuation(let behavior):
            charSplit(piece, behavior, &arena, &out, &spans) { f, v in
                f.contains(.punct) || (v < 0x80 && Scanner.isASCIIPunct(v))
            }
        case .whitespace:
            split(piece, matcher: PieceMatcher(known: .wordsAndPunctuation), .removed, invert: true, &arena, &out, &spans)
        case .metaspace(let replacement, let scheme, let doSplit):
            var rep: [UInt8] = []
            appendUTF8(replacement, to: &rep)
            let s = arena.count
            let startsWithRep: Bool
            do {
                // Replace ' ' by the replacement character.
                var content: [UInt8] = []
                content.reserveCapacity(piece.end - piece.start + 3)
                for b in arena[piece.start..<piece.end] {
                    if b == 0x20 { content.append(contentsOf: rep) } else { content.append(b) }
                }
                startsWithRep = content.starts(with: rep)
                var prepend = false
                switch scheme {
                case .always: prepend = !startsWithRep
                case .first: prepend = !startsWithRep && piece.atStart
                case .never: prepend = false
                }
                if prepend { arena.append(contentsOf: rep) }
                arena.append(contentsOf: content)
            }
            let p = Piece(start: s, end: arena.count, atStart: piece.atStart)
            if doSplit {
                charSplit(p, .mergedWithNext, &arena, &out, &spans) { _, v in v == replacement }
            } else if p.end > p.start {
                out.append(p)
            }
        }
    }

    private func split(_ piece: Piece, matcher: PieceMatcher, _ behavior: SplitBehavior, invert: Bool,
                       _ arena: inout [UInt8], _ out: inout [Piece], _ spans: inout [Int]) {
        spans.removeAll(keepingCapacity: true)
        arena.withUnsafeBufferPointer { a in
            matcher.matches(in: UnsafeBufferPointer(rebasing: a[piece.start..<piece.end]), into: &spans)
        }
        emit(piece, behavior, invert: invert, &out, spans)
    }

    /// A split whose delimiters are single characters satisfying `test`.
    private func charSplit(_ piece: Piece, _ behavior: SplitBehavior, _ arena: inout [UInt8], _ out: inout [Piece],
                           _ spans: inout [Int], _ test: (CharClass, UInt32) -> Bool) {
        spans.removeAll(keepingCapacity: true)
        arena.withUnsafeBufferPointer { a in
            let p = UnsafeBufferPointer(rebasing: a[piece.start..<piece.end])
            var i = 0
            while i < p.count {
                let (v, l) = decodeScalar(p, i)
                if test(UnicodeClasses.flags(v), v) {
                    spans.append(i)
                    spans.append(i + l)
                }
                i += l
            }
        }
        emit(piece, behavior, invert: false, &out, spans)
    }

    /// HF's `NormalizedString::split`: matches and the gaps between them, combined by the behaviour; empty
    /// results dropped. `spans` are match offsets relative to the piece.
    private func emit(_ piece: Piece, _ behavior: SplitBehavior, invert: Bool, _ out: inout [Piece], _ spans: [Int]) {
        let length = piece.end - piece.start
        if length == 0 { return }
        // (start, end, isMatch) covering the piece.
        var parts: [(Int, Int, Bool)] = []
        parts.reserveCapacity(spans.count + 1)
        var prev = 0
        var k = 0
        while k < spans.count {
            let s = spans[k], e = spans[k + 1]
            if prev != s { parts.append((prev, s, invert)) }
            parts.append((s, e, !invert))
            prev = e
            k += 2
        }
        if prev != length { parts.append((prev, length, invert)) }

        var result: [(Int, Int, Bool)] = []   // (start, end, remove)
        switch behavior {
        case .isolated:
            result = parts.map { ($0.0, $0.1, false) }
        case .removed:
            result = parts
        case .contiguous:
            var previousMatch = false
            for (s, e, m) in parts {
                if m == previousMatch, !result.isEmpty {
                    result[result.count - 1].1 = e
                } else {
                    result.append((s, e, false))
                }
                previousMatch = m
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for (s, e, m) in parts {
                if m && !previousMatch, !result.isEmpty {
                    result[result.count - 1].1 = e
                } else {
                    result.append((s, e, false))
                }
                previousMatch = m
            }
        case .mergedWithNext:
            var previousMatch = false
            for (s, e, m) in parts.reversed() {
                if m && !previousMatch, !result.isEmpty {
                    result[result.count - 1].0 = s
                } else {
                    result.append((s, e, false))
                }
                previousMatch = m
            }
            result.reverse()
        }
        for (s, e, remove) in result where !remove && e > s {
            out.append(Piece(start: piece.start + s, end: piece.start + e, atStart: piece.atStart && s == 0))
        }
    }
}

extension PreTokenizerStep {
    /// What the step does, as text that is equal for equal steps (a regex by its pattern).
    var signature: String {
        switch self {
        case .byteLevel(let p, let r): return "ByteLevel(prefix: \(p), regex: \(r))"
        case .split(let m, let b, let i): return "Split(\(m.known?.pattern ?? m.pattern), \(b.rawValue), invert: \(i))"
        case .literalSplit(let s, let b, let i): return "Split(\(s), \(b.rawValue), invert: \(i))"
        case .digits(let i): return "Digits(individual: \(i))"
        case .metaspace(let r, let p, let s): return "Metaspace(\(r), \(p.rawValue), split: \(s))"
        case .whitespace: return "Whitespace"
        case .whitespaceSplit: return "WhitespaceSplit"
        case .punctuation(let b): return "Punctuation(\(b.rawValue))"
        }
    }
}
