import Foundation

/// Python methods of str, dict and list that templates call (`s.strip()`, `d.items()`, `xs.index(x)`).
/// Mutating list and dict methods are refused by jinja2's immutable sandbox and are not here.
enum Methods {
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "upper", "lower", "title", "capitalize",
        "swapcase", "casefold", "replace", "startswith", "endswith", "find", "rfind", "index", "rindex", "count",
        "isalpha", "isdigit", "isdecimal", "isnumeric", "isalnum", "isspace", "isupper", "islower", "istitle", "join",
        "format", "center", "ljust", "rjust", "zfill", "partition", "rpartition", "removeprefix", "removesuffix",
    ]

    /// Calls `obj.name(args)` when `name` is a method of obj's type; nil when it is not (the caller then falls back
    /// to attribute lookup, e.g. a dict key holding a macro, or an unsafe method that must raise).
    static func call(_ obj: Value, _ name: String, _ args: () throws -> ([Value], [(String, Value)]), _ interp: Interpreter) throws -> Value? {
        switch obj {
        case .string where stringMethods.contains(name),
             .dict where Access.dictMethods.contains(name),
             .list where Access.listMethods.contains(name),
             .tuple where Access.listMethods.contains(name) && name != "copy":
            let (a, k) = try args()
            return try invoke(obj, name, a, k, interp)
        default:
            return nil
        }
    }

    static func bound(_ obj: Value, _ name: String, _ interp: Interpreter) -> Value {
        .callable(Callable(name: name) { [unowned interp] a, k in try invoke(obj, name, a, k, interp) })
    }

    struct Args {
        let method: String
        let positional: [Value]
        let keywords: [(String, Value)]

        func arg(_ i: Int, _ name: String) -> Value? {
            if i < positional.count { return positional[i] }
            return keywords.first { $0.0 == name }?.1
        }

        func string(_ i: Int, _ name: String) throws -> String? {
            guard let v = arg(i, name) else { return nil }
            switch v {
            case .none: return nil
            case .string(let s): return s
            default: throw TemplateError.type(message: "\(method)() argument must be str or None, not \(v.typeName)", line: 0)
            }
        }

        func int(_ i: Int, _ name: String) throws -> Int? {
            guard let v = arg(i, name) else { return nil }
            switch v {
            case .none: return nil
            case .int(let n): return n
            case .bool(let b): return b ? 1 : 0
            default: throw TemplateError.type(message: "'\(v.typeName)' object cannot be interpreted as an integer", line: 0)
            }
        }

        func requiredString(_ i: Int, _ name: String) throws -> String {
            guard let v = arg(i, name) else {
                throw TemplateError.type(message: "\(method)() takes at least \(i + 1) argument", line: 0)
            }
            guard case .string(let s) = v else {
                throw TemplateError.type(message: "must be str, not \(v.typeName)", line: 0)
            }
            return s
        }
    }

    static func invoke(_ obj: Value, _ name: String, _ positional: [Value], _ keywords: [(String, Value)], _ interp: Interpreter) throws -> Value {
        let a = Args(method: name, positional: positional, keywords: keywords)
        switch obj {
        case .string(let s): return try stringMethod(s, name, a, interp)
        case .dict(let d):
            switch name {
            case "items": return .list(d.pairs.map { .tuple([$0.0, $0.1]) })
            case "keys": return .list(d.keys)
            case "values": return .list(d.values)
            case "get":
                guard let key = a.arg(0, "key") else { throw TemplateError.type(message: "get expected at least 1 argument, got 0", line: 0) }
                return try d.lookup(key) ?? a.arg(1, "default") ?? .none
            case "copy": return obj
            default: break
            }
        case .list(let items), .tuple(let items):
            switch name {
            case "index":
                guard let x = a.arg(0, "value") else { throw TemplateError.type(message: "index expected at least 1 argument, got 0", line: 0) }
                guard let i = items.firstIndex(where: { Ops.equal($0, x) }) else {
                    throw TemplateError.type(message: "\(Py.repr(x)) is not in list", line: 0)
                }
                return .int(i)
            case "count":
                guard let x = a.arg(0, "value") else { throw TemplateError.type(message: "count() takes exactly one argument (0 given)", line: 0) }
                return .int(items.filter { Ops.equal($0, x) }.count)
            case "copy": return obj
            default: break
            }
        default: break
        }
        throw TemplateError.undefined(message: "'\(Access.ownerName(obj))' has no attribute '\(name)'", line: 0)
    }

    static func isSpace(_ u: Unicode.Scalar) -> Bool { Lexer.isSpace(u) }

    static func strip(_ s: String, _ chars: String?, left: Bool, right: Bool) -> String {
        let scalars = Array(s.unicodeScalars)
        let set = chars.map { Set($0.unicodeScalars) }
        func drop(_ u: Unicode.Scalar) -> Bool { set.map { $0.contains(u) } ?? isSpace(u) }
        var lo = 0, hi = scalars.count
        if left { while lo < hi, drop(scalars[lo]) { lo += 1 } }
        if right { while hi > lo, drop(scalars[hi - 1]) { hi -= 1 } }
        return String(String.UnicodeScalarView(scalars[lo..<hi]))
    }

    static func split(_ s: String, _ sep: String?, _ maxsplit: Int, fromRight: Bool) throws -> [String] {
        if let sep {
            guard !sep.isEmpty else { throw TemplateError.type(message: "empty separator", line: 0) }
            var parts = s.components(separatedBy: sep)
            if maxsplit >= 0 && parts.count > maxsplit + 1 {
                if fromRight {
                    let head = parts[0..<(parts.count - maxsplit)].joined(separator: sep)
                    parts = [head] + parts[(parts.count - maxsplit)...]
                } else {
                    let tail = parts[maxsplit...].joined(separator: sep)
                    parts = Array(parts[0..<maxsplit]) + [tail]
                }
            }
            return parts
        }
        // Whitespace split: runs of whitespace separate, empty strings dropped.
        let scalars = Array(s.unicodeScalars)
        var words: [(Int, Int)] = []
        var i = 0
        while i < scalars.count {
            while i < scalars.count, isSpace(scalars[i]) { i += 1 }
            if i >= scalars.count { break }
            let start = i
            while i < scalars.count, !isSpace(scalars[i]) { i += 1 }
            words.append((start, i))
        }
        func text(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(scalars[a..<b])) }
        if maxsplit < 0 || words.count <= maxsplit + 1 { return words.map { text($0.0, $0.1) } }
        if fromRight {
            let kept = words.suffix(maxsplit)
            var headEnd = kept.first!.0
            while headEnd > 0, isSpace(scalars[headEnd - 1]) { headEnd -= 1 }
            return [text(words[0].0, headEnd)] + kept.map { text($0.0, $0.1) }
        }
        let kept = words.prefix(maxsplit)
        var restStart = kept.last!.1
        while restStart < scalars.count, isSpace(scalars[restStart]) { restStart += 1 }
        var restEnd = scalars.count
        while restEnd > restStart, isSpace(scalars[restEnd - 1]) { restEnd -= 1 }
        return kept.map { text($0.0, $0.1) } + [text(restStart, restEnd)]
    }

    static func splitlines(_ s: String, keepends: Bool) -> [String] {
        let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
        let scalars = Array(s.unicodeScalars)
        var out: [String] = []
        var start = 0
        var i = 0
        while i < scalars.count {
            if breaks.contains(scalars[i].value) {
                var end = i + 1
                if scalars[i] == "\r", i + 1 < scalars.count, scalars[i + 1] == "\n" { end = i + 2 }
                out.append(String(String.UnicodeScalarView(scalars[start..<(keepends ? end : i)])))
                start = end
                i = end
            } else {
                i += 1
            }
        }
        if start < scalars.count { out.append(String(String.UnicodeScalarView(scalars[start...]))) }
        return out
    }

    static func isCased(_ u: Unicode.Scalar) -> Bool {
        u.properties.isLowercase || u.properties.isUppercase || u.properties.generalCategory == .titlecaseLetter
    }

    static func pyTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for u in s.unicodeScalars {
            if isCased(u) {
                out += previousCased ? u.properties.lowercaseMapping : u.properties.titlecaseMapping
                previousCased = true
            } else {
                out.unicodeScalars.append(u)
                previousCased = false
            }
        }
        return out
    }

    static func pyCapitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return first.properties.titlecaseMapping + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
    }

    static func scalarCount(_ s: String) -> Int { s.unicodeScalars.count }

    /// Index (in code points) of `sub` in `s[start..<end]`, searching from the left or right.
    static func find(_ s: String, _ sub: String, _ start: Int?, _ end: Int?, fromRight: Bool) -> Int {
        let hay = Array(s.unicodeScalars), needle = Array(sub.unicodeScalars)
        let n = hay.count
        var lo = start ?? 0, hi = end ?? n
        if lo < 0 { lo = max(0, lo + n) }
        if hi < 0 { hi = max(0, hi + n) }
        hi = min(hi, n)
        guard hi - lo >= needle.count else { return -1 }
        let candidates = Array(lo...(hi - needle.count))
        for i in fromRight ? candidates.reversed() : candidates {
            if needle.isEmpty || Array(hay[i..<(i + needle.count)]) == needle { return i }
        }
        return -1
    }

    static func count(_ s: String, _ sub: String) -> Int {
        if sub.isEmpty { return scalarCount(s) + 1 }
        return s.components(separatedBy: sub).count - 1
    }

    static func pad(_ s: String, _ width: Int, _ fill: String, align: Character) throws -> String {
        try SizeGuard.check(width)
        let n = scalarCount(s)
        guard width > n else { return s }
        let total = width - n
        switch align {
        case "<": return s + String(repeating: fill, count: total)
        case ">": return String(repeating: fill, count: total) + s
        default:
            // Python's str.center puts the extra fill on the right when the string length is odd... per CPython:
            // left = total / 2 + (total & width & 1)
            let left = total / 2 + (total & width & 1)
            return String(repeating: fill, count: left) + s + String(repeating: fill, count: total - left)
        }
    }

    static func stringMethod(_ s: String, _ name: String, _ a: Args, _ interp: Interpreter) throws -> Value {
        switch name {
        case "strip": return .string(strip(s, try a.string(0, "chars"), left: true, right: true))
        case "lstrip": return .string(strip(s, try a.string(0, "chars"), left: true, right: false))
        case "rstrip": return .string(strip(s, try a.string(0, "chars"), left: false, right: true))
        case "split", "rsplit":
            let parts = try split(s, try a.string(0, "sep"), try a.int(1, "maxsplit") ?? -1, fromRight: name == "rsplit")
            return .list(parts.map { .string($0) })
        case "splitlines":
            return .list(splitlines(s, keepends: a.arg(0, "keepends")?.truthy ?? false).map { .string($0) })
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "casefold": return .string(s.lowercased())
        case "title": return .string(pyTitle(s))
        case "capitalize": return .string(pyCapitalize(s))
        case "swapcase":
            var out = ""
            for u in s.unicodeScalars {
                if u.properties.isUppercase { out += u.properties.lowercaseMapping }
                else if u.properties.isLowercase { out += u.properties.uppercaseMapping }
                else { out.unicodeScalars.append(u) }
            }
            return .string(out)
        case "replace":
            let old = try a.requiredString(0, "old"), new = try a.requiredString(1, "new")
            let limit = try a.int(2, "count") ?? -1
            try SizeGuard.check(s.utf8.count + (scalarCount(s) + 1) * new.utf8.count)
            if old.isEmpty {
                var out = ""
                var done = 0
                for u in s.unicodeScalars {
                    if limit < 0 || done < limit { out += new; done += 1 }
                    out.unicodeScalars.append(u)
                }
                if limit < 0 || done < limit { out += new }
                return .string(out)
            }
            var parts = s.components(separatedBy: old)
            if limit >= 0 && parts.count > limit + 1 {
                let tail = parts[limit...].joined(separator: old)
                parts = Array(parts[0..<limit]) + [tail]
            }
            return .string(parts.joined(separator: new))
        case "startswith", "endswith":
            guard let arg = a.arg(0, "prefix") else { throw TemplateError.type(message: "\(name)() takes at least 1 argument (0 given)", line: 0) }
            var candidates: [String] = []
            switch arg {
            case .string(let p): candidates = [p]
            case .tuple(let items):
                for item in items {
                    guard case .string(let p) = item else { throw TemplateError.type(message: "tuple for \(name) must only contain str, not \(item.typeName)", line: 0) }
                    candidates.append(p)
                }
            default:
                throw TemplateError.type(message: "\(name) first arg must be str or a tuple of str, not \(arg.typeName)", line: 0)
            }
            let scalars = Array(s.unicodeScalars)
            var lo = try a.int(1, "start") ?? 0, hi = try a.int(2, "end") ?? scalars.count
            if lo < 0 { lo = max(0, lo + scalars.count) }
            if hi < 0 { hi = max(0, hi + scalars.count) }
            hi = min(hi, scalars.count)
            if lo > hi { return .bool(false) }
            let window = Array(scalars[min(lo, scalars.count)..<hi])
            for c in candidates {
                let p = Array(c.unicodeScalars)
                if p.count <= window.count {
                    if name == "startswith" ? Array(window.prefix(p.count)) == p : Array(window.suffix(p.count)) == p { return .bool(true) }
                }
            }
            return .bool(false)
        case "find", "rfind", "index", "rindex":
            let sub = try a.requiredString(0, "sub")
            let i = find(s, sub, try a.int(1, "start"), try a.int(2, "end"), fromRight: name.hasPrefix("r"))
            if i < 0 && name.hasSuffix("index") { throw TemplateError.type(message: "substring not found", line: 0) }
            return .int(i)
        case "count":
            return .int(count(s, try a.requiredString(0, "sub")))
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isdigit", "isdecimal", "isnumeric":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalnum":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isSpace))
        case "isupper", "islower":
            let cased = s.unicodeScalars.filter(isCased)
            let upper = name == "isupper"
            return .bool(!cased.isEmpty && cased.allSatisfy { upper ? !$0.properties.isLowercase : !$0.properties.isUppercase })
        case "istitle": return .bool(!s.isEmpty && pyTitle(s) == s && s.unicodeScalars.contains(where: isCased))
        case "join":
            guard let arg = a.arg(0, "iterable") else { throw TemplateError.type(message: "join() takes exactly one argument (0 given)", line: 0) }
            var parts: [String] = []
            for (i, item) in try interp.iterate(arg).enumerated() {
                guard case .string(let p) = item else {
                    throw TemplateError.type(message: "sequence item \(i): expected str instance, \(item.typeName) found", line: 0)
                }
                parts.append(p)
            }
            return .string(try SizeGuard.checked(parts.joined(separator: s)))
        case "format":
            return .string(try SizeGuard.checked(try BraceFormat.format(s, a.positional, a.keywords, interp)))
        case "center", "ljust", "rjust":
            guard let width = try a.int(0, "width") else { throw TemplateError.type(message: "\(name)() takes at least 1 argument (0 given)", line: 0) }
            let fill = try a.string(1, "fillchar") ?? " "
            guard fill.unicodeScalars.count == 1 else { throw TemplateError.type(message: "The fill character must be exactly one character long", line: 0) }
            return .string(try pad(s, width, fill, align: name == "center" ? "^" : name == "ljust" ? "<" : ">"))
        case "zfill":
            let width = try a.int(0, "width") ?? 0
            try SizeGuard.check(width)
            var body = s
            var sign = ""
            if let f = body.unicodeScalars.first, f == "+" || f == "-" { sign = String(f); body = String(body.unicodeScalars.dropFirst()) }
            let n = scalarCount(s)
            return .string(n >= width ? s : sign + String(repeating: "0", count: width - n) + body)
        case "partition", "rpartition":
            let sep = try a.requiredString(0, "sep")
            guard !sep.isEmpty else { throw TemplateError.type(message: "empty separator", line: 0) }
            let range = name == "partition" ? s.range(of: sep) : s.range(of: sep, options: .backwards)
            guard let r = range else {
                return name == "partition" ? .tuple([.string(s), .string(""), .string("")]) : .tuple([.string(""), .string(""), .string(s)])
            }
            return .tuple([.string(String(s[..<r.lowerBound])), .string(sep), .string(String(s[r.upperBound...]))])
        case "removeprefix":
            let p = try a.requiredString(0, "prefix")
            return .string(s.hasPrefix(p) ? String(s.dropFirst(p.count)) : s)
        case "removesuffix":
            let p = try a.requiredString(0, "suffix")
            return .string(s.hasSuffix(p) && !p.isEmpty ? String(s.dropLast(p.count)) : s)
        default:
            throw TemplateError.undefined(message: "'str object' has no attribute '\(name)'", line: 0)
        }
    }
}

/// `str.format` (the subset of the format mini-language templates use).
enum BraceFormat {
    static func format(_ fmt: String, _ args: [Value], _ kwargs: [(String, Value)], _ interp: Interpreter) throws -> String {
        var out = ""
        let chars = Array(fmt.unicodeScalars)
        var i = 0
        var auto = 0
        while i < chars.count {
            let c = chars[i]
            if c == "{" {
                if i + 1 < chars.count, chars[i + 1] == "{" { out += "{"; i += 2; continue }
                guard let close = chars[i...].firstIndex(of: "}") else { throw TemplateError.type(message: "Single '{' encountered in format string", line: 0) }
                let field = String(String.UnicodeScalarView(chars[(i + 1)..<close]))
                i = close + 1
                var name = field, spec = "", conversion: Character? = nil
                if let colon = name.firstIndex(of: ":") { spec = String(name[name.index(after: colon)...]); name = String(name[..<colon]) }
                if let bang = name.firstIndex(of: "!") { conversion = name[name.index(after: bang)...].first; name = String(name[..<bang]) }
                var parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                let head = parts.isEmpty ? "" : parts.removeFirst()
                var value: Value
                if head.isEmpty {
                    guard auto < args.count else { throw TemplateError.type(message: "Replacement index \(auto) out of range for positional args tuple", line: 0) }
                    value = args[auto]; auto += 1
                } else if let n = Int(head) {
                    guard n < args.count else { throw TemplateError.type(message: "Replacement index \(n) out of range for positional args tuple", line: 0) }
                    value = args[n]
                } else {
                    guard let v = kwargs.first(where: { $0.0 == head })?.1 else { throw TemplateError.type(message: "KeyError: '\(head)'", line: 0) }
                    value = v
                }
                for p in parts { value = try Access.getattr(value, p, interp) }
                if conversion == "r" { value = .string(Py.repr(value)) }
                else if conversion == "s" { value = .string(Py.str(value)) }
                out += try FormatSpec.apply(value, spec)
            } else if c == "}" {
                if i + 1 < chars.count, chars[i + 1] == "}" { out += "}"; i += 2; continue }
                throw TemplateError.type(message: "Single '}' encountered in format string", line: 0)
            } else {
                out.unicodeScalars.append(c)
                i += 1
            }
        }
        return out
    }
}

/// Python's format-spec mini-language: [[fill]align][sign][0][width][,][.precision][type].
enum FormatSpec {
    static func apply(_ value: Value, _ spec: String) throws -> String {
        if spec.isEmpty { return Py.str(value) }
        var chars = Array(spec)
        var fill: Character = " ", align: Character? = nil
        if chars.count >= 2, "<>^=".contains(chars[1]) { fill = chars[0]; align = chars[1]; chars.removeFirst(2) }
        else if let f = chars.first, "<>^=".contains(f) { align = f; chars.removeFirst() }
        var sign: Character? = nil
        if let f = chars.first, "+- ".contains(f) { sign = f; chars.removeFirst() }
        if chars.first == "0" { if align == nil { fill = "0"; align = "=" }; chars.removeFirst() }
        var width = 0
        while let f = chars.first, let d = f.wholeNumberValue {
            width = width * 10 + d; chars.removeFirst()
            try SizeGuard.check(width)
        }
        var grouping = false
        if chars.first == "," { grouping = true; chars.removeFirst() }
        var precision: Int? = nil
        if chars.first == "." {
            chars.removeFirst()
            var p = 0
            while let f = chars.first, let d = f.wholeNumberValue { p = p * 10 + d; chars.removeFirst() }
            precision = p
        }
        let type = chars.first
        var body: String
        var numeric = false
        var negative = false
        switch (value, type) {
        case (.string(let s), nil), (.string(let s), "s"):
            body = s
            if let precision { body = String(s.unicodeScalars.prefix(precision).map(Character.init)) }
        case (.int(let i), nil), (.int(let i), "d"):
            numeric = true; negative = i < 0; body = String(i.magnitude)
            if grouping { body = group(body) }
        case (.bool(let b), nil):
            body = b ? "True" : "False"
        case (_, "x"), (_, "X"), (_, "o"), (_, "b"):
            guard case .int(let i) = value else { throw TemplateError.type(message: "Unknown format code '\(type!)' for object of type '\(value.typeName)'", line: 0) }
            numeric = true; negative = i < 0
            body = String(i.magnitude, radix: type == "o" ? 8 : type == "b" ? 2 : 16, uppercase: type == "X")
        case (_, "f"), (_, "F"), (_, "e"), (_, "E"), (_, "g"), (_, "G"), (_, "%"), (.double, nil):
            guard let n = Ops.num(value) else { throw TemplateError.type(message: "Unknown format code '\(type.map(String.init) ?? "")' for object of type '\(value.typeName)'", line: 0) }
            let d = Ops.toDouble(n)
            numeric = true; negative = d < 0 || (d == 0 && d.sign == .minus)
            let mag = abs(d)
            switch type {
            case nil: body = precision.map { String(format: "%.\($0)g", mag) } ?? Py.floatRepr(mag)
            case "%": body = String(format: "%.\(precision ?? 6)f", mag * 100) + "%"
            default: body = String(format: "%.\(precision ?? 6)\(type!)", mag)
            }
            if grouping, let dot = body.firstIndex(where: { !$0.isNumber }) {
                body = group(String(body[..<dot])) + body[dot...]
            } else if grouping { body = group(body) }
        default:
            body = Py.str(value)
        }
        if numeric {
            let signText = negative ? "-" : sign == "+" ? "+" : sign == " " ? " " : ""
            if align == "=" {
                let padCount = max(0, width - signText.count - body.count)
                return signText + String(repeating: fill, count: padCount) + body
            }
            body = signText + body
        }
        let padCount = max(0, width - body.count)
        if padCount == 0 { return body }
        switch align ?? (numeric ? ">" : "<") {
        case ">", "=": return String(repeating: fill, count: padCount) + body
        case "^": return String(repeating: fill, count: padCount / 2) + body + String(repeating: fill, count: padCount - padCount / 2)
        default: return body + String(repeating: fill, count: padCount)
        }
    }

    static func group(_ digits: String) -> String {
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }
}

/// `str % args` (printf-style formatting).
enum PercentFormat {
    static func format(_ fmt: String, _ arg: Value) throws -> String {
        var args: [Value]
        var mapping: PyDict? = nil
        switch arg {
        case .tuple(let items): args = items
        case .dict(let d): args = [arg]; mapping = d
        default: args = [arg]
        }
        var next = 0
        var out = ""
        let chars = Array(fmt)
        var i = 0
        func take() throws -> Value {
            guard next < args.count else { throw TemplateError.type(message: "not enough arguments for format string", line: 0) }
            defer { next += 1 }
            return args[next]
        }
        while i < chars.count {
            let c = chars[i]
            guard c == "%" else { out.append(c); i += 1; continue }
            i += 1
            guard i < chars.count else { throw TemplateError.type(message: "incomplete format", line: 0) }
            var key: String? = nil
            if chars[i] == "(" {
                guard let close = chars[i...].firstIndex(of: ")") else { throw TemplateError.type(message: "incomplete format key", line: 0) }
                key = String(chars[(i + 1)..<close]); i = close + 1
            }
            var flags = ""
            while i < chars.count, "-+ #0".contains(chars[i]) { flags.append(chars[i]); i += 1 }
            var width = 0
            if i < chars.count, chars[i] == "*" {
                guard case .int(let w) = try take() else { throw TemplateError.type(message: "* wants int", line: 0) }
                try SizeGuard.check(w)
                width = w; i += 1
            }
            while i < chars.count, let d = chars[i].wholeNumberValue {
                width = width * 10 + d; i += 1
                try SizeGuard.check(width)
            }
            var precision: Int? = nil
            if i < chars.count, chars[i] == "." {
                i += 1
                var p = 0
                while i < chars.count, let d = chars[i].wholeNumberValue { p = p * 10 + d; i += 1 }
                precision = p
            }
            guard i < chars.count else { throw TemplateError.type(message: "incomplete format", line: 0) }
            let conv = chars[i]
            i += 1
            if conv == "%" { out.append("%"); continue }
            let value: Value
            if let key {
                guard let mapping, let v = mapping[string: key] else { throw TemplateError.type(message: "KeyError: '\(key)'", line: 0) }
                value = v
            } else {
                value = try take()
            }
            var body: String
            var numeric = false
            var negative = false
            switch conv {
            case "s": body = Py.str(value); if let precision { body = String(body.prefix(precision)) }
            case "r", "a": body = Py.repr(value); if let precision { body = String(body.prefix(precision)) }
            case "d", "i", "u":
                guard let n = Ops.num(value) else { throw TemplateError.type(message: "%\(conv) format: a real number is required, not \(value.typeName)", line: 0) }
                numeric = true
                switch n {
                case .int(let v): negative = v < 0; body = String(v.magnitude)
                case .double(let v): negative = v < 0; body = String(format: "%.0f", abs(v).rounded(.towardZero))
                }
            case "x", "X", "o":
                guard case .int(let v) = value else { throw TemplateError.type(message: "%\(conv) format: an integer is required, not \(value.typeName)", line: 0) }
                numeric = true; negative = v < 0
                body = String(v.magnitude, radix: conv == "o" ? 8 : 16, uppercase: conv == "X")
                if flags.contains("#") { body = (conv == "o" ? "0o" : conv == "x" ? "0x" : "0X") + body }
            case "f", "F", "e", "E", "g", "G":
                guard let n = Ops.num(value) else { throw TemplateError.type(message: "must be real number, not \(value.typeName)", line: 0) }
                let d = Ops.toDouble(n)
                numeric = true; negative = d < 0
                body = String(format: "%.\(precision ?? 6)\(conv)", abs(d))
            case "c":
                if case .string(let s) = value { body = s } else if case .int(let v) = value, let u = Unicode.Scalar(UInt32(max(0, v))) { body = String(u) } else { body = "" }
            default:
                throw TemplateError.type(message: "unsupported format character '\(conv)'", line: 0)
            }
            if numeric {
                let sign = negative ? "-" : flags.contains("+") ? "+" : flags.contains(" ") ? " " : ""
                if flags.contains("0") && !flags.contains("-") {
                    let zeros = max(0, width - sign.count - body.count)
                    body = sign + String(repeating: "0", count: zeros) + body
                } else {
                    body = sign + body
                }
            }
            let padCount = max(0, width - body.count)
            out += flags.contains("-") ? body + String(repeating: " ", count: padCount) : String(repeating: " ", count: padCount) + body
        }
        if mapping == nil && next < args.count {
            throw TemplateError.type(message: "not all arguments converted during string formatting", line: 0)
        }
        return out
    }
}
