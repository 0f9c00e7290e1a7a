/// Character classes as the pre-tokenizer regexes see them (Oniguruma in HF `tokenizers`, Rust `regex` for the
/// added-token word checks), from the Swift standard library's Unicode data:
///
/// - `\p{L}` `\p{N}` `\p{M}` `\p{P}` `\p{S}`: General_Category L* / N* / M* / P* / S*.
/// - `\s`: White_Space (U+0009–000D, U+0020, U+0085, U+00A0, U+1680, U+2000–200A, U+2028, U+2029, U+202F,
///   U+205F, U+3000). Oniguruma's Unicode `\s` is this set, and so are Rust's `char::is_whitespace` and `\s`.
/// - `\w` (Rust regex, used for `single_word`): Alphabetic, M, Nd, Pc, Join_Control.
///
/// Gap: the Unicode version of the toolchain's data can be newer than Oniguruma's; characters assigned in
/// between (none in the corpus) can classify differently.
@usableFromInline
struct CharClass: OptionSet, Sendable {
    @usableFromInline let rawValue: UInt16
    @inlinable init(rawValue: UInt16) { self.rawValue = rawValue }

    @usableFromInline static let letter = CharClass(rawValue: 1 << 0)
    @usableFromInline static let number = CharClass(rawValue: 1 << 1)
    @usableFromInline static let mark = CharClass(rawValue: 1 << 2)
    @usableFromInline static let punct = CharClass(rawValue: 1 << 3)
    @usableFromInline static let symbol = CharClass(rawValue: 1 << 4)
    @usableFromInline static let space = CharClass(rawValue: 1 << 5)
    /// Rust regex `\w`.
    @usableFromInline static let word = CharClass(rawValue: 1 << 6)
    @usableFromInline static let upper = CharClass(rawValue: 1 << 7)    // Lu
    @usableFromInline static let lower = CharClass(rawValue: 1 << 8)    // Ll
    @usableFromInline static let title = CharClass(rawValue: 1 << 9)    // Lt
    @usableFromInline static let modifier = CharClass(rawValue: 1 << 10) // Lm
    @usableFromInline static let otherLetter = CharClass(rawValue: 1 << 11) // Lo
    /// Rust `char::is_alphanumeric` (Alphabetic or N*).
    @usableFromInline static let alnum = CharClass(rawValue: 1 << 12)
    @usableFromInline static let decimal = CharClass(rawValue: 1 << 13) // Nd
}

enum UnicodeClasses {
    /// Flags of every BMP scalar (surrogates read as nothing), built once.
    nonisolated(unsafe) static let bmp: UnsafeMutablePointer<UInt16> = {
        let p = UnsafeMutablePointer<UInt16>.allocate(capacity: 0x10000)
        for v in 0..<0x10000 {
            p[v] = compute(UInt32(v))
        }
        return p
    }()

    @inline(__always)
    static func flags(_ v: UInt32) -> CharClass {
        if v < 0x10000 { return CharClass(rawValue: bmp[Int(v)]) }
        return CharClass(rawValue: compute(v))
    }

    static func compute(_ v: UInt32) -> UInt16 {
        guard let s = Unicode.Scalar(v) else { return 0 }
        let p = s.properties
        var f: UInt16 = 0
        switch p.generalCategory {
        case .uppercaseLetter: f |= CharClass.letter.rawValue | CharClass.upper.rawValue
        case .lowercaseLetter: f |= CharClass.letter.rawValue | CharClass.lower.rawValue
        case .titlecaseLetter: f |= CharClass.letter.rawValue | CharClass.title.rawValue
        case .modifierLetter: f |= CharClass.letter.rawValue | CharClass.modifier.rawValue
        case .otherLetter: f |= CharClass.letter.rawValue | CharClass.otherLetter.rawValue
        case .decimalNumber: f |= CharClass.number.rawValue | CharClass.decimal.rawValue
        case .letterNumber, .otherNumber: f |= CharClass.number.rawValue
        case .nonspacingMark, .spacingMark, .enclosingMark: f |= CharClass.mark.rawValue
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            f |= CharClass.punct.rawValue
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: f |= CharClass.symbol.rawValue
        default: break
        }
        if p.isWhitespace { f |= CharClass.space.rawValue }
        let gc = p.generalCategory
        if p.isAlphabetic || f & CharClass.mark.rawValue != 0 || gc == .decimalNumber || gc == .connectorPunctuation
            || p.isJoinControl {
            f |= CharClass.word.rawValue
        }
        if p.isAlphabetic || f & CharClass.number.rawValue != 0 { f |= CharClass.alnum.rawValue }
        return f
    }
}

// MARK: - UTF-8

/// Decodes the scalar starting at `i` of valid UTF-8 (as every Swift string is). Returns value and length.
@inline(__always)
func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 {
        return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
    }
    return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
            | UInt32(p[i + 3] & 0x3F), 4)
}

/// Length of the scalar whose first byte is `b` (valid UTF-8).
@inline(__always)
func scalarLength(_ b: UInt8) -> Int {
    if b < 0x80 { return 1 }
    if b < 0xE0 { return 2 }
    if b < 0xF0 { return 3 }
    return 4
}

/// Start of the scalar that ends right before `i` (valid UTF-8).
@inline(__always)
func previousScalarStart(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
    var j = i - 1
    while j > 0 && p[j] & 0xC0 == 0x80 { j -= 1 }
    return j
}

@inline(__always)
func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
    if v < 0x80 {
        out.append(UInt8(v))
    } else if v < 0x800 {
        out.append(UInt8(0xC0 | (v >> 6)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else if v < 0x10000 {
        out.append(UInt8(0xE0 | (v >> 12)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (v >> 18)))
        out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    }
}

/// Length of the valid UTF-8 sequence at `i`, or 0 if the bytes there do not start one (truncated or invalid).
/// Follows the Unicode table of well-formed byte sequences (no overlongs, surrogates or values past U+10FFFF).
@inline(__always)
func validSequenceLength(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
    let n = p.count
    let b0 = p[i]
    if b0 < 0x80 { return 1 }
    @inline(__always) func cont(_ k: Int) -> Bool { k < n && p[k] & 0xC0 == 0x80 }
    switch b0 {
    case 0xC2...0xDF:
        return cont(i + 1) ? 2 : 0
    case 0xE0...0xEF:
        guard i + 1 < n else { return 0 }
        let b1 = p[i + 1]
        let ok1: Bool
        switch b0 {
        case 0xE0: ok1 = (0xA0...0xBF).contains(b1)
        case 0xED: ok1 = (0x80...0x9F).contains(b1)
        default: ok1 = b1 & 0xC0 == 0x80
        }
        return ok1 && cont(i + 2) ? 3 : 0
    case 0xF0...0xF4:
        guard i + 1 < n else { return 0 }
        let b1 = p[i + 1]
        let ok1: Bool
        switch b0 {
        case 0xF0: ok1 = (0x90...0xBF).contains(b1)
        case 0xF4: ok1 = (0x80...0x8F).contains(b1)
        default: ok1 = b1 & 0xC0 == 0x80
        }
        return ok1 && cont(i + 2) && cont(i + 3) ? 4 : 0
    default:
        return 0
    }
}

/// How many bytes from `i` form the maximal prefix of a valid sequence (at least 1): the unit that lossy
/// decoding replaces by one U+FFFD (the Unicode "maximal subpart" practice, as Rust's `from_utf8_lossy` does).
@inline(__always)
func invalidSubpartLength(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
    let n = p.count
    let b0 = p[i]
    var need = 0
    var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
    switch b0 {
    case 0xC2...0xDF: need = 1
    case 0xE0: need = 2; lo = 0xA0
    case 0xE1...0xEC, 0xEE, 0xEF: need = 2
    case 0xED: need = 2; hi = 0x9F
    case 0xF0: need = 3; lo = 0x90
    case 0xF1...0xF3: need = 3
    case 0xF4: need = 3; hi = 0x8F
    default: return 1
    }
    var k = 1
    while k <= need, i + k < n {
        let b = p[i + k]
        if k == 1 {
            guard b >= lo && b <= hi else { break }
        } else {
            guard b & 0xC0 == 0x80 else { break }
        }
        k += 1
    }
    return k
}

/// UTF-8 bytes to a String, replacing each maximal invalid subpart by U+FFFD (as Rust's `from_utf8_lossy`).
func lossyString(_ bytes: [UInt8]) -> String {
    bytes.withUnsafeBufferPointer { p in
        var out: [UInt8] = []
        out.reserveCapacity(p.count)
        var i = 0
        var clean = true
        while i < p.count {
            if p[i] < 0x80 { out.append(p[i]); i += 1; continue }
            let len = validSequenceLength(p, i)
            if len > 0 {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<(i + len)]))
                i += len
            } else {
                clean = false
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                i += invalidSubpartLength(p, i)
            }
        }
        if clean { return String(decoding: p, as: UTF8.self) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Whether `bytes` is entirely valid UTF-8.
func isValidUTF8(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBufferPointer { p in
        var i = 0
        while i < p.count {
            if p[i] < 0x80 { i += 1; continue }
            let len = validSequenceLength(p, i)
            if len == 0 { return false }
            i += len
        }
        return true
    }
}

let replacementCharacterUTF8: [UInt8] = [0xEF, 0xBF, 0xBD]
