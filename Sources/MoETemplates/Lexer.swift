// Tokenizer following jinja2's lexer with trim_blocks=True and lstrip_blocks=True (as transformers configures it).

enum TokenKind: Equatable {
    case data(String)
    case variableBegin, variableEnd, blockBegin, blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
    case eof
}

struct Token {
    var kind: TokenKind
    var line: Int
    var column: Int
}

struct Lexer {
    let s: [Unicode.Scalar]
    var pos = 0
    var line = 1
    var lineStart = 0
    var tokens: [Token] = []

    init(source: String) {
        // Newlines are normalized to \n, and one trailing newline is dropped (keep_trailing_newline=False).
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(source.unicodeScalars.count)
        var it = source.unicodeScalars.makeIterator()
        var pendingCR = false
        while let u = it.next() {
            if pendingCR {
                pendingCR = false
                if u == "\n" { continue }
            }
            if u == "\r" { scalars.append("\n"); pendingCR = true } else { scalars.append(u) }
        }
        if scalars.last == "\n" { scalars.removeLast() }
        s = scalars
    }

    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default: return false
        }
    }

    func text(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(s[a..<b])) }

    func at(_ i: Int, _ str: String) -> Bool {
        var j = i
        for u in str.unicodeScalars {
            guard j < s.count, s[j] == u else { return false }
            j += 1
        }
        return true
    }

    var column: Int { pos - lineStart + 1 }

    func syntaxError(_ message: String, line: Int? = nil, column: Int? = nil) -> TemplateError {
        .syntax(message: message, line: line ?? self.line, column: column ?? self.column)
    }

    /// Advances `pos` to `end`, counting lines.
    mutating func advance(to end: Int) {
        while pos < end {
            if s[pos] == "\n" { line += 1; lineStart = pos + 1 }
            pos += 1
        }
    }

    mutating func emit(_ kind: TokenKind, line: Int, column: Int) {
        tokens.append(Token(kind: kind, line: line, column: column))
    }

    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = Lexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    enum TagKind { case variable, block, comment, raw }

    /// Finds the next tag opener at or after `from`.
    func nextTag(from: Int) -> (start: Int, kind: TagKind, sign: Unicode.Scalar?)? {
        var i = from
        while i + 1 < s.count {
            if s[i] == "{" {
                let c = s[i + 1]
                if c == "{" || c == "%" || c == "#" {
                    let sign: Unicode.Scalar? = (i + 2 < s.count && (s[i + 2] == "-" || s[i + 2] == "+")) ? s[i + 2] : nil
                    var kind: TagKind = c == "{" ? .variable : c == "%" ? .block : .comment
                    if kind == .block, isRawBegin(at: i) != nil { kind = .raw }
                    return (i, kind, sign)
                }
            }
            i += 1
        }
        return nil
    }

    /// If a `{% raw %}` opener starts at i, the index after it (after `-%}` also skips whitespace).
    func isRawBegin(at i: Int) -> Int? {
        var j = i + 2
        if j < s.count, s[j] == "-" || s[j] == "+" { j += 1 }
        while j < s.count, Lexer.isSpace(s[j]) { j += 1 }
        guard at(j, "raw") else { return nil }
        j += 3
        while j < s.count, Lexer.isSpace(s[j]) { j += 1 }
        if at(j, "-%}") {
            j += 3
            while j < s.count, Lexer.isSpace(s[j]) { j += 1 }
            return j
        }
        if at(j, "%}") { return j + 2 }
        return nil
    }

    /// jinja2's handling of the text before a tag: `-` strips all trailing whitespace; otherwise lstrip_blocks
    /// removes spaces and tabs between the line start and a block or comment tag.
    func stripText(_ a: Int, _ b: Int, kind: TagKind, sign: Unicode.Scalar?, lineStarting: Bool) -> String {
        var end = b
        if sign == "-" {
            while end > a, Lexer.isSpace(s[end - 1]) { end -= 1 }
        } else if sign != "+" && kind != .variable {
            var lpos = a
            var k = b
            while k > a { if s[k - 1] == "\n" { lpos = k; break }; k -= 1 }
            if lpos > a || lineStarting {
                if lpos < b && (lpos..<b).allSatisfy({ Lexer.isSpace(s[$0]) }) { end = lpos }
            }
        }
        return text(a, end)
    }

    mutating func run() throws {
        var lineStarting = true
        while pos < s.count {
            guard let tag = nextTag(from: pos) else {
                emit(.data(text(pos, s.count)), line: line, column: column)
                advance(to: s.count)
                break
            }
            let data = stripText(pos, tag.start, kind: tag.kind, sign: tag.sign, lineStarting: lineStarting)
            if !data.isEmpty { emit(.data(data), line: line, column: column) }
            advance(to: tag.start)
            let tagLine = line, tagColumn = column
            switch tag.kind {
            case .comment:
                var j = tag.start + 2
                var found = false
                while j + 1 < s.count {
                    if s[j] == "#" && s[j + 1] == "}" { found = true; break }
                    j += 1
                }
                guard found else { throw syntaxError("Missing end of comment tag", line: tagLine, column: tagColumn) }
                var end = j + 2
                if j > tag.start + 2 && s[j - 1] == "-" {
                    while end < s.count, Lexer.isSpace(s[end]) { end += 1 }
                } else if j > tag.start + 2 && s[j - 1] == "+" {
                    // keep following whitespace
                } else if end < s.count, s[end] == "\n" {
                    end += 1
                }
                advance(to: end)
                lineStarting = end > 0 && s[end - 1] == "\n"
            case .raw:
                let bodyStart = isRawBegin(at: tag.start)!
                advance(to: bodyStart)
                var j = bodyStart
                var endTag: (start: Int, sign: Unicode.Scalar?, after: Int)? = nil
                while j + 1 < s.count {
                    if s[j] == "{" && s[j + 1] == "%" {
                        var k = j + 2
                        var sign: Unicode.Scalar? = nil
                        if k < s.count, s[k] == "-" || s[k] == "+" { sign = s[k]; k += 1 }
                        while k < s.count, Lexer.isSpace(s[k]) { k += 1 }
                        if at(k, "endraw") {
                            k += 6
                            while k < s.count, Lexer.isSpace(s[k]) { k += 1 }
                            if at(k, "+%}") { endTag = (j, sign, k + 3); break }
                            if at(k, "-%}") {
                                k += 3
                                while k < s.count, Lexer.isSpace(s[k]) { k += 1 }
                                endTag = (j, sign, k); break
                            }
                            if at(k, "%}") {
                                k += 2
                                if k < s.count, s[k] == "\n" { k += 1 }
                                endTag = (j, sign, k); break
                            }
                        }
                    }
                    j += 1
                }
                guard let endTag else { throw syntaxError("Missing end of raw directive", line: tagLine, column: tagColumn) }
                let body = stripText(bodyStart, endTag.start, kind: .block, sign: endTag.sign, lineStarting: false)
                if !body.isEmpty { emit(.data(body), line: line, column: column) }
                advance(to: endTag.after)
                lineStarting = endTag.after > 0 && s[endTag.after - 1] == "\n"
            case .variable, .block:
                emit(tag.kind == .variable ? .variableBegin : .blockBegin, line: tagLine, column: tagColumn)
                advance(to: tag.start + 2 + (tag.sign != nil ? 1 : 0))
                let end = try lexExpression(isBlock: tag.kind == .block, tagLine: tagLine, tagColumn: tagColumn)
                lineStarting = end > 0 && s[end - 1] == "\n"
            }
        }
        emit(.eof, line: line, column: column)
    }

    static let operators: [String] = [
        "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ".", ":",
        "|", ",", ";", "=", "<", ">",
    ]

    /// Lexes the inside of `{{ }}` or `{% %}` up to the matching end tag; returns the index after the end tag.
    mutating func lexExpression(isBlock: Bool, tagLine: Int, tagColumn: Int) throws -> Int {
        var balance: [Unicode.Scalar] = []
        while true {
            guard pos < s.count else {
                throw syntaxError(isBlock ? "unexpected end of template, expected 'end of statement block'"
                                          : "unexpected end of template, expected 'end of print statement'",
                                  line: tagLine, column: tagColumn)
            }
            if balance.isEmpty {
                if isBlock {
                    if at(pos, "+%}") {
                        emit(.blockEnd, line: line, column: column); advance(to: pos + 3); return pos
                    }
                    if at(pos, "-%}") {
                        emit(.blockEnd, line: line, column: column)
                        var e = pos + 3
                        while e < s.count, Lexer.isSpace(s[e]) { e += 1 }
                        advance(to: e); return pos
                    }
                    if at(pos, "%}") {
                        emit(.blockEnd, line: line, column: column)
                        var e = pos + 2
                        if e < s.count, s[e] == "\n" { e += 1 }
                        advance(to: e); return pos
                    }
                } else {
                    if at(pos, "-}}") {
                        emit(.variableEnd, line: line, column: column)
                        var e = pos + 3
                        while e < s.count, Lexer.isSpace(s[e]) { e += 1 }
                        advance(to: e); return pos
                    }
                    if at(pos, "}}") {
                        emit(.variableEnd, line: line, column: column); advance(to: pos + 2); return pos
                    }
                }
            }
            let c = s[pos]
            let startLine = line, startColumn = column
            if Lexer.isSpace(c) { advance(to: pos + 1); continue }
            if c == "'" || c == "\"" {
                var j = pos + 1
                while j < s.count, s[j] != c {
                    if s[j] == "\\" { j += 1 }
                    j += 1
                }
                guard j < s.count else { throw syntaxError("unexpected char \(Py.stringRepr(String(c))) at \(pos)") }
                let raw = Array(s[(pos + 1)..<j])
                emit(.string(Lexer.unescape(raw)), line: startLine, column: startColumn)
                advance(to: j + 1)
                continue
            }
            if ("0"..."9").contains(c) {
                let (token, end) = try lexNumber()
                emit(token, line: startLine, column: startColumn)
                advance(to: end)
                continue
            }
            if c == "_" || c.properties.isAlphabetic {
                var j = pos + 1
                while j < s.count, s[j] == "_" || s[j].properties.isAlphabetic || ("0"..."9").contains(s[j]) { j += 1 }
                emit(.name(text(pos, j)), line: startLine, column: startColumn)
                advance(to: j)
                continue
            }
            var matched: String? = nil
            for op in Lexer.operators where at(pos, op) { matched = op; break }
            guard let op = matched else {
                throw syntaxError("unexpected char \(Py.stringRepr(String(c))) at \(pos)")
            }
            switch op {
            case "{": balance.append("}")
            case "(": balance.append(")")
            case "[": balance.append("]")
            case "}", ")", "]":
                guard let expected = balance.popLast() else { throw syntaxError("unexpected '\(op)'") }
                guard String(expected) == op else { throw syntaxError("unexpected '\(op)', expected '\(expected)'") }
            default: break
            }
            emit(.op(op), line: startLine, column: startColumn)
            advance(to: pos + op.unicodeScalars.count)
        }
    }

    func lexNumber() throws -> (TokenKind, Int) {
        var j = pos
        func digits(_ ok: (Unicode.Scalar) -> Bool) -> String {
            var out = ""
            while j < s.count, ok(s[j]) || (s[j] == "_" && j + 1 < s.count && ok(s[j + 1]) && !out.isEmpty) {
                if s[j] != "_" { out.unicodeScalars.append(s[j]) }
                j += 1
            }
            return out
        }
        let isDigit: (Unicode.Scalar) -> Bool = { ("0"..."9").contains($0) }
        if s[pos] == "0", pos + 1 < s.count, "xXoObB".unicodeScalars.contains(s[pos + 1]) {
            let radix = "xX".unicodeScalars.contains(s[pos + 1]) ? 16 : "oO".unicodeScalars.contains(s[pos + 1]) ? 8 : 2
            j = pos + 2
            if j < s.count, s[j] == "_" { j += 1 }
            let ds = digits { Int(String($0), radix: radix) != nil }
            guard let v = Int(ds, radix: radix) else { throw syntaxError("integer literal out of range") }
            return (.integer(v), j)
        }
        let intPart = digits(isDigit)
        var isFloat = false
        var literal = intPart
        if j + 1 < s.count, s[j] == ".", isDigit(s[j + 1]) {
            j += 1
            literal += "." + digits(isDigit)
            isFloat = true
        }
        if j < s.count, s[j] == "e" || s[j] == "E" {
            var k = j + 1
            var sign = ""
            if k < s.count, s[k] == "+" || s[k] == "-" { sign = String(s[k]); k += 1 }
            if k < s.count, isDigit(s[k]) {
                j = k
                literal += "e" + sign + digits(isDigit)
                isFloat = true
            }
        }
        if isFloat {
            guard let d = Double(literal) else { throw syntaxError("bad float literal") }
            return (.float(d), j)
        }
        guard let v = Int(literal) else {
            throw syntaxError("integer literal \(literal) is too large (only 64-bit integers are supported)")
        }
        return (.integer(v), j)
    }

    /// Python's unicode-escape decoding of a string literal's body.
    static func unescape(_ raw: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView()
        var i = 0
        func hexValue(_ count: Int) -> UInt32? {
            guard i + count <= raw.count else { return nil }
            var v: UInt32 = 0
            for k in 0..<count {
                guard let d = UInt32(String(raw[i + k]), radix: 16) else { return nil }
                v = v * 16 + d
            }
            return v
        }
        while i < raw.count {
            let c = raw[i]
            guard c == "\\", i + 1 < raw.count else { out.append(c); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = e.value - 0x30
                var n = 1
                while n < 3, i < raw.count, ("0"..."7").contains(raw[i]) {
                    v = v * 8 + (raw[i].value - 0x30); i += 1; n += 1
                }
                out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            case "x", "u", "U":
                let width = e == "x" ? 2 : e == "u" ? 4 : 8
                if let v = hexValue(width), let u = Unicode.Scalar(v) {
                    out.append(u); i += width
                } else {
                    out.append("\\"); out.append(e)
                }
            default:
                out.append("\\"); out.append(e)
            }
        }
        return String(out)
    }
}
