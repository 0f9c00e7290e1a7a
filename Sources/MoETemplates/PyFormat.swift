// Python's text forms of values: str(), repr(), float repr, and json.dumps as transformers' tojson calls it.

enum Py {
    /// `repr(float)`: the shortest digits that round-trip, positional for 1e-4 <= |x| < 1e16, else scientific.
    static func floatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        let (digits, decpt) = shortestDigits(abs(d))
        let sign = d < 0 ? "-" : ""
        let n = digits.count
        if decpt > -4 && decpt <= 16 {
            if decpt <= 0 { return sign + "0." + String(repeating: "0", count: -decpt) + digits }
            if decpt >= n { return sign + digits + String(repeating: "0", count: decpt - n) + ".0" }
            let i = digits.index(digits.startIndex, offsetBy: decpt)
            return sign + digits[..<i] + "." + digits[i...]
        }
        let exp = decpt - 1
        var mantissa = String(digits.first!)
        if n > 1 { mantissa += "." + digits.dropFirst() }
        let expDigits = String(abs(exp))
        return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (expDigits.count < 2 ? "0" + expDigits : expDigits)
    }

    /// Digits (no leading zeros) and decimal point position so that x = 0.DIGITS * 10^decpt.
    static func shortestDigits(_ x: Double) -> (String, Int) {
        let text = x.description  // Swift prints the shortest round-tripping digits
        var mantissa = text
        var exp = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exp = Int(text[text.index(after: e)...]) ?? 0
        }
        var intPart = mantissa
        var fracPart = ""
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = String(mantissa[..<dot])
            fracPart = String(mantissa[mantissa.index(after: dot)...])
        }
        var all = intPart + fracPart
        var decpt = intPart.count + exp
        while all.hasPrefix("0") && all.count > 1 { all.removeFirst(); decpt -= 1 }
        while all.hasSuffix("0") && all.count > 1 { all.removeLast() }
        return (all, decpt)
    }

    /// Python's `str.isprintable` for one code point.
    static func isPrintable(_ s: Unicode.Scalar) -> Bool {
        if s == " " { return true }
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    static func hex(_ v: UInt32, width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    /// `repr(str)`.
    static func stringRepr(_ s: String) -> String {
        var quote: Character = "'"
        if s.contains("'") && !s.contains("\"") { quote = "\"" }
        var out = String(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(u) == quote { out += "\\" + String(quote) }
                else if u.value < 0x20 || u.value == 0x7F { out += "\\x" + hex(u.value, width: 2) }
                else if u.value < 0x7F || isPrintable(u) { out.unicodeScalars.append(u) }
                else if u.value <= 0xFF { out += "\\x" + hex(u.value, width: 2) }
                else if u.value <= 0xFFFF { out += "\\u" + hex(u.value, width: 4) }
                else { out += "\\U" + hex(u.value, width: 8) }
            }
        }
        out.append(quote)
        return out
    }

    /// `str(value)` as jinja2 prints it.
    static func str(_ v: Value) -> String {
        switch v {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr(v)
        }
    }

    /// `repr(value)`.
    static func repr(_ v: Value) -> String {
        var out = ""
        repr(v, into: &out, depth: 0)
        return out
    }

    static func repr(_ v: Value, into out: inout String, depth: Int) {
        if depth > 200 { out += "..."; return }
        switch v {
        case .undefined: out += ""
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .double(let d): out += floatRepr(d)
        case .string(let s): out += stringRepr(s)
        case .list(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                repr(item, into: &out, depth: depth + 1)
            }
            out += "]"
        case .tuple(let items):
            out += "("
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                repr(item, into: &out, depth: depth + 1)
            }
            out += items.count == 1 ? ",)" : ")"
        case .dict(let d):
            out += "{"
            for (i, (k, val)) in d.pairs.enumerated() {
                if i > 0 { out += ", " }
                repr(k, into: &out, depth: depth + 1)
                out += ": "
                repr(val, into: &out, depth: depth + 1)
            }
            out += "}"
        case .namespace(let n):
            out += "<Namespace "
            repr(.dict(n.dict), into: &out, depth: depth + 1)
            out += ">"
        case .callable(let c):
            out += c.isMacro ? "<Macro '\(c.name)'>" : "<function \(c.name)>"
        case .loop(let l):
            out += "<LoopContext \(l.index0 + 1)/\(l.items.count)>"
        }
    }
}

/// `json.dumps` with the arguments transformers' `tojson` filter accepts.
enum PyJSON {
    struct Options {
        var ensureASCII = false
        var indent: String? = nil
        var itemSeparator = ", "
        var keySeparator = ": "
        var sortKeys = false
    }

    static func dumps(_ v: Value, options: Options) throws -> String {
        var out = ""
        try check(v, depth: 0, options: options)
        dump(v, into: &out, options: options, level: 0)
        return out
    }

    /// Fails on what json.dumps rejects, so `dump` can assume a serializable value.
    static func check(_ v: Value, depth: Int, options: Options) throws {
        guard depth < 400 else { throw TemplateError.limitExceeded(message: "maximum recursion depth exceeded while encoding a JSON object", line: 0) }
        switch v {
        case .none, .bool, .int, .double, .string: return
        case .list(let items), .tuple(let items):
            for item in items { try check(item, depth: depth + 1, options: options) }
        case .dict(let d):
            for (k, val) in d.pairs {
                switch k {
                case .string, .int, .double, .bool, .none: break
                default: throw TemplateError.type(message: "keys must be str, int, float, bool or None, not \(k.typeName)", line: 0)
                }
                try check(val, depth: depth + 1, options: options)
            }
            if options.sortKeys {
                let allStrings = d.keys.allSatisfy { if case .string = $0 { return true }; return false }
                if !allStrings && d.count > 1 {
                    throw TemplateError.type(message: "'<' not supported between instances of mixed key types", line: 0)
                }
            }
        default:
            throw TemplateError.type(message: "Object of type \(v.typeName) is not JSON serializable", line: 0)
        }
    }

    static func keyString(_ k: Value) -> String {
        switch k {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .none: return "null"
        case .double(let d): return floatJSON(d)
        default: return Py.str(k)
        }
    }

    static func floatJSON(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        return Py.floatRepr(d)
    }

    static func dump(_ v: Value, into out: inout String, options: Options, level: Int) {
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += floatJSON(d)
        case .string(let s): string(s, into: &out, ascii: options.ensureASCII)
        case .list(let items), .tuple(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += options.itemSeparator }
                newline(&out, options: options, level: level + 1)
                dump(item, into: &out, options: options, level: level + 1)
            }
            newline(&out, options: options, level: level)
            out += "]"
        case .dict(let d):
            if d.count == 0 { out += "{}"; return }
            var pairs = d.pairs.map { (keyString($0.0), $0.1) }
            if options.sortKeys { pairs.sort { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) } }
            out += "{"
            for (i, (k, val)) in pairs.enumerated() {
                if i > 0 { out += options.itemSeparator }
                newline(&out, options: options, level: level + 1)
                string(k, into: &out, ascii: options.ensureASCII)
                out += options.keySeparator
                dump(val, into: &out, options: options, level: level + 1)
            }
            newline(&out, options: options, level: level)
            out += "}"
        default:
            out += "null"
        }
    }

    static func newline(_ out: inout String, options: Options, level: Int) {
        guard let indent = options.indent else { return }
        out += "\n"
        for _ in 0..<level { out += indent }
    }

    static func string(_ s: String, into out: inout String, ascii: Bool) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || (ascii && u.value >= 0x7F) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += "\\u" + Py.hex(0xD800 + (v >> 10), width: 4) + "\\u" + Py.hex(0xDC00 + (v & 0x3FF), width: 4)
                    } else {
                        out += "\\u" + Py.hex(u.value, width: 4)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
