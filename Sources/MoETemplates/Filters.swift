import Foundation

/// jinja2's builtin filters (plus transformers' `tojson`), with Python semantics.
enum Filters {
    static let names: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "forceescape", "format", "groupby", "indent", "int", "items", "join", "last", "length", "list", "lower",
        "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr",
        "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper",
        "wordcount",
    ]

    struct Params {
        let filter: String
        let positional: [Value]
        let keywords: [(String, Value)]

        /// The argument at position i (counted after the filtered value) or keyword `name`.
        func get(_ i: Int, _ name: String) -> Value? {
            if i < positional.count { return positional[i] }
            return keywords.first { $0.0 == name }?.1
        }

        func bool(_ i: Int, _ name: String, _ fallback: Bool) -> Bool { get(i, name)?.truthy ?? fallback }

        func int(_ i: Int, _ name: String, _ fallback: Int) throws -> Int {
            guard let v = get(i, name) else { return fallback }
            switch v {
            case .int(let n): return n
            case .bool(let b): return b ? 1 : 0
            default: throw TemplateError.type(message: "'\(v.typeName)' object cannot be interpreted as an integer", line: 0)
            }
        }

        func string(_ i: Int, _ name: String) -> String? {
            guard let v = get(i, name) else { return nil }
            if case .none = v { return nil }
            return Py.str(v)
        }
    }

    static func apply(_ name: String, _ value: Value, _ args: [Value], _ kwargs: [(String, Value)], _ interp: Interpreter) throws -> Value {
        let p = Params(filter: name, positional: args, keywords: kwargs)
        switch name {
        case "abs":
            switch value {
            case .int(let i): guard i != Int.min else { throw Ops.overflow() }; return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            case .undefined(let u): throw Ops.undefinedError(u)
            default: throw TemplateError.type(message: "bad operand type for abs(): '\(value.typeName)'", line: 0)
            }
        case "attr":
            guard let attrName = p.string(0, "name") else { throw TemplateError.type(message: "attr filter needs a name", line: 0) }
            switch value {
            case .dict:
                if Access.dictMethods.contains(attrName) || Access.dictUnsafe.contains(attrName) { return try Access.getattr(value, attrName, interp) }
                return Access.missing(value, attrName)
            default: return try Access.getattr(value, attrName, interp)
            }
        case "batch":
            let size = try p.int(0, "linecount", 1)
            guard size > 0 else { throw TemplateError.type(message: "batch size must be positive", line: 0) }
            let fill = p.get(1, "fill_with")
            var out: [Value] = []
            var tmp: [Value] = []
            for item in try interp.iterate(value) {
                if tmp.count == size { out.append(.list(tmp)); tmp = [] }
                tmp.append(item)
            }
            if !tmp.isEmpty {
                if let fill, !fill.isNone { while tmp.count < size { tmp.append(fill) } }
                out.append(.list(tmp))
            }
            return .list(out)
        case "capitalize":
            return .string(Methods.pyCapitalize(Py.str(value)))
        case "center":
            return .string(try Methods.pad(Py.str(value), try p.int(0, "width", 80), " ", align: "^"))
        case "count", "length":
            return .int(try interp.length(value))
        case "d", "default":
            let fallback = p.get(0, "default_value") ?? .string("")
            if value.isUndefined || (p.bool(1, "boolean", false) && !value.truthy) { return fallback }
            return value
        case "dictsort":
            guard case .dict(let d) = value else {
                if case .undefined(let u) = value { throw Ops.undefinedError(u) }
                throw TemplateError.type(message: "dictsort expects a mapping", line: 0)
            }
            let caseSensitive = p.bool(0, "case_sensitive", false)
            let byValue: Bool
            switch p.string(1, "by") ?? "key" {
            case "key": byValue = false
            case "value": byValue = true
            default: throw TemplateError.type(message: "You can only sort by either \"key\" or \"value\"", line: 0)
            }
            let reverse = p.bool(2, "reverse", false)
            let sorted = try sortValues(d.pairs.map { Value.tuple([$0.0, $0.1]) }, reverse: reverse) { item in
                guard case .tuple(let kv) = item else { return item }
                return caseFold(byValue ? kv[1] : kv[0], caseSensitive)
            }
            return .list(sorted)
        case "e", "escape", "forceescape":
            return .string(htmlEscape(Py.str(value)))
        case "first":
            if case .undefined(let u) = value { throw Ops.undefinedError(u) }
            return try interp.iterate(value).first ?? .undefined(UndefinedInfo(kind: .plain))
        case "last":
            if case .undefined(let u) = value { throw Ops.undefinedError(u) }
            return try interp.iterate(value).last ?? .undefined(UndefinedInfo(kind: .plain))
        case "float":
            let fallback = p.get(0, "default") ?? .double(0)
            return toFloat(value) ?? fallback
        case "format":
            if !p.keywords.isEmpty && !p.positional.isEmpty {
                throw TemplateError.type(message: "can't handle positional and keyword arguments at the same time", line: 0)
            }
            if !p.keywords.isEmpty {
                var d = PyDict()
                for (k, v) in p.keywords { d[.string(k)] = v }
                return .string(try PercentFormat.format(Py.str(value), .dict(d)))
            }
            return .string(try PercentFormat.format(Py.str(value), .tuple(p.positional)))
        case "groupby":
            guard let attribute = p.get(0, "attribute") else { throw TemplateError.type(message: "groupby needs an attribute", line: 0) }
            let fallback = p.get(1, "default")
            let caseSensitive = p.bool(2, "case_sensitive", false)
            let items = try interp.iterate(value)
            let keyed = try items.map { item -> (Value, Value) in
                var k = try resolveAttribute(item, attribute, interp)
                if k.isUndefined, let fallback { k = fallback }
                return (k, item)
            }
            let sorted = try sortValues(keyed.map { Value.tuple([$0.0, $0.1]) }, reverse: false) { item in
                guard case .tuple(let kv) = item else { return item }
                return caseFold(kv[0], caseSensitive)
            }
            var groups: [(Value, Value, [Value])] = []  // (comparison key, display key, items)
            for entry in sorted {
                guard case .tuple(let kv) = entry else { continue }
                let cmp = caseFold(kv[0], caseSensitive)
                if let last = groups.last, Ops.equal(last.0, cmp) {
                    groups[groups.count - 1].2.append(kv[1])
                } else {
                    groups.append((cmp, kv[0], [kv[1]]))
                }
            }
            return .list(groups.map { .tuple([$0.1, .list($0.2)]) })
        case "indent":
            var s = Py.str(value)
            var indention: String
            switch p.get(0, "width") ?? .int(4) {
            case .string(let w): indention = w
            case .int(let n):
                try SizeGuard.check(n)
                indention = String(repeating: " ", count: max(0, n))
            case let other: throw TemplateError.type(message: "indent width must be int or str, not \(other.typeName)", line: 0)
            }
            let first = p.bool(1, "first", false), blank = p.bool(2, "blank", false)
            s += "\n"
            var rv: String
            var lines = Methods.splitlines(s, keepends: false)
            if blank {
                rv = lines.joined(separator: "\n" + indention)
            } else {
                rv = lines.isEmpty ? "" : lines.removeFirst()
                if !lines.isEmpty {
                    rv += "\n" + lines.map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
                }
            }
            if first { rv = indention + rv }
            return .string(try SizeGuard.checked(rv))
        case "int":
            let fallback = p.get(0, "default") ?? .int(0)
            let base = try p.int(1, "base", 10)
            return try toInt(value, base: base) ?? fallback
        case "items":
            switch value {
            case .undefined: return .list([])
            case .dict(let d): return .list(d.pairs.map { .tuple([$0.0, $0.1]) })
            default: throw TemplateError.type(message: "Can only get item pairs from a mapping.", line: 0)
            }
        case "join":
            let sep = p.string(0, "d") ?? ""
            var items = try interp.iterate(value)
            if let attribute = p.get(1, "attribute") {
                items = try items.map { try resolveAttribute($0, attribute, interp) }
            }
            return .string(try SizeGuard.checked(items.map(Py.str).joined(separator: sep)))
        case "list":
            return .list(try interp.iterate(value))
        case "lower":
            return .string(Py.str(value).lowercased())
        case "upper":
            return .string(Py.str(value).uppercased())
        case "map":
            let items = try interp.iterate(value)
            if let attribute = p.keywords.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = p.keywords.first { $0.0 == "default" }?.1
                return .list(try items.map { item in
                    let v = try resolveAttribute(item, attribute, interp)
                    if v.isUndefined, let fallback { return fallback }
                    return v
                })
            }
            guard let filterName = p.positional.first.map(Py.str) else { return .list(items) }
            guard names.contains(filterName) else { throw TemplateError.type(message: "No filter named '\(filterName)'.", line: 0) }
            let rest = Array(p.positional.dropFirst())
            return .list(try items.map { try apply(filterName, $0, rest, p.keywords, interp) })
        case "max", "min":
            let caseSensitive = p.bool(0, "case_sensitive", false)
            let attribute = p.get(1, "attribute")
            let items = try interp.iterate(value)
            guard !items.isEmpty else { return .undefined(UndefinedInfo(kind: .plain)) }
            var best = items[0]
            func key(_ v: Value) throws -> Value {
                caseFold(try attribute.map { try resolveAttribute(v, $0, interp) } ?? v, caseSensitive)
            }
            var bestKey = try key(best)
            for item in items.dropFirst() {
                let k = try key(item)
                if name == "max" ? try Ops.less(bestKey, k) : try Ops.less(k, bestKey) { best = item; bestKey = k }
            }
            return best
        case "select", "reject", "selectattr", "rejectattr":
            let byAttr = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            var args = p.positional
            var attribute: Value? = nil
            if byAttr {
                guard !args.isEmpty else { throw TemplateError.type(message: "Missing parameter for attribute name", line: 0) }
                attribute = args.removeFirst()
            }
            var testName: String? = nil
            if !args.isEmpty { testName = Py.str(args.removeFirst()) }
            if let testName, !JinjaTests.names.contains(testName) {
                throw TemplateError.type(message: "No test named '\(testName)'.", line: 0)
            }
            var out: [Value] = []
            for item in try interp.iterate(value) {
                let subject = try attribute.map { try resolveAttribute(item, $0, interp) } ?? item
                let ok = try testName.map { try JinjaTests.apply($0, subject, args, p.keywords, interp) } ?? subject.truthy
                if ok == keep { out.append(item) }
            }
            return .list(out)
        case "replace":
            let s = Py.str(value)
            guard let old = p.get(0, "old"), let new = p.get(1, "new") else {
                throw TemplateError.type(message: "replace() missing required arguments", line: 0)
            }
            var margs = [Value.string(Py.str(old)), .string(Py.str(new))]
            if let count = p.get(2, "count"), !count.isNone { margs.append(count) }
            return try Methods.invoke(.string(s), "replace", margs, [], interp)
        case "reverse":
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try interp.iterate(value).reversed())
        case "round":
            let precision = try p.int(0, "precision", 0)
            let method = p.string(1, "method") ?? "common"
            guard ["common", "ceil", "floor"].contains(method) else {
                throw TemplateError.type(message: "method must be common, ceil or floor", line: 0)
            }
            guard let n = Ops.num(value) else {
                if case .undefined(let u) = value { throw Ops.undefinedError(u) }
                throw TemplateError.type(message: "type \(value.typeName) doesn't define __round__ method", line: 0)
            }
            if method == "common" {
                if case .int(let i) = n {
                    if precision >= 0 { return .int(i) }
                    return .int(Int(pyRound(Double(i), precision)))
                }
                return .double(pyRound(Ops.toDouble(n), precision))
            }
            let scale = pow(10.0, Double(precision))
            let scaled = Ops.toDouble(n) * scale
            return .double((method == "ceil" ? scaled.rounded(.up) : scaled.rounded(.down)) / scale)
        case "safe", "string":
            if name == "safe" { return value.isUndefined ? .string("") : value }
            return .string(Py.str(value))
        case "slice":
            let slices = try p.int(0, "slices", 1)
            guard slices > 0 else { throw TemplateError.type(message: "slices must be positive", line: 0) }
            let fill = p.get(1, "fill_with")
            let seq = try interp.iterate(value)
            let perSlice = seq.count / slices, withExtra = seq.count % slices
            var offset = 0
            var out: [Value] = []
            for i in 0..<slices {
                let start = offset + i * perSlice
                if i < withExtra { offset += 1 }
                let end = offset + (i + 1) * perSlice
                var tmp = Array(seq[start..<end])
                if let fill, !fill.isNone, i >= withExtra { tmp.append(fill) }
                out.append(.list(tmp))
            }
            return .list(out)
        case "sort":
            let reverse = p.bool(0, "reverse", false)
            let caseSensitive = p.bool(1, "case_sensitive", false)
            let attribute = p.get(2, "attribute")
            return .list(try sortValues(try interp.iterate(value), reverse: reverse) { item in
                caseFold(try attribute.map { try resolveAttribute(item, $0, interp) } ?? item, caseSensitive)
            })
        case "striptags":
            var s = Py.str(value)
            s = s.replacingOccurrences(of: "<!--.*?-->", with: "", options: .regularExpression)
            s = s.replacingOccurrences(of: "<.*?>", with: "", options: .regularExpression)
            s = Methods.split(s: s)
            return .string(htmlUnescape(s))
        case "sum":
            let attribute = p.get(0, "attribute")
            var total = p.get(1, "start") ?? .int(0)
            for item in try interp.iterate(value) {
                let v = try attribute.map { try resolveAttribute(item, $0, interp) } ?? item
                total = try Ops.binary("+", total, v, interp)
            }
            return total
        case "title":
            return .string(jinjaTitle(Py.str(value)))
        case "tojson":
            return .string(try toJSON(value, p))
        case "trim":
            return .string(Methods.strip(Py.str(value), p.string(0, "chars"), left: true, right: true))
        case "truncate":
            let s = Py.str(value)
            let length = try p.int(0, "length", 255)
            let killwords = p.bool(1, "killwords", false)
            let end = p.string(2, "end") ?? "..."
            let leeway = try p.int(3, "leeway", 5)
            let scalars = Array(s.unicodeScalars)
            guard length >= end.unicodeScalars.count else { throw TemplateError.type(message: "expected length >= \(end.unicodeScalars.count), got \(length)", line: 0) }
            guard leeway >= 0 else { throw TemplateError.type(message: "expected leeway >= 0, got \(leeway)", line: 0) }
            if scalars.count <= length + leeway { return .string(s) }
            let head = String(String.UnicodeScalarView(scalars[0..<(length - end.unicodeScalars.count)]))
            if killwords { return .string(head + end) }
            let cut = head.range(of: " ", options: .backwards).map { String(head[..<$0.lowerBound]) } ?? head
            return .string(cut + end)
        case "unique":
            let caseSensitive = p.bool(0, "case_sensitive", false)
            let attribute = p.get(1, "attribute")
            var seen: [Value] = []
            var out: [Value] = []
            for item in try interp.iterate(value) {
                let k = caseFold(try attribute.map { try resolveAttribute(item, $0, interp) } ?? item, caseSensitive)
                if !seen.contains(where: { Ops.equal($0, k) }) { seen.append(k); out.append(item) }
            }
            return .list(out)
        case "wordcount":
            var count = 0
            var inWord = false
            for u in Py.str(value).unicodeScalars {
                let isWord = u.properties.isAlphabetic || u.properties.numericType != nil || u == "_"
                if isWord && !inWord { count += 1 }
                inWord = isWord
            }
            return .int(count)
        default:
            throw TemplateError.syntax(message: "No filter named '\(name)'.", line: 0, column: 0)
        }
    }

    // MARK: helpers

    static func caseFold(_ v: Value, _ caseSensitive: Bool) -> Value {
        if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// Stable sort by key with Python's ordering (TypeError for unorderable keys).
    static func sortValues(_ items: [Value], reverse: Bool, key: (Value) throws -> Value) throws -> [Value] {
        let keyed = try items.map { (try key($0), $0) }
        var error: Error? = nil
        let indices = Array(keyed.indices).sorted { i, j in
            if error != nil { return false }
            do {
                let (a, b) = (keyed[i].0, keyed[j].0)
                if reverse {
                    if try Ops.less(b, a) { return true }
                    if try Ops.less(a, b) { return false }
                } else {
                    if try Ops.less(a, b) { return true }
                    if try Ops.less(b, a) { return false }
                }
                return i < j
            } catch let e { error = e; return false }
        }
        if let error { throw error }
        return indices.map { keyed[$0].1 }
    }

    /// jinja2's `make_attrgetter`: dotted paths, integer parts index sequences.
    static func resolveAttribute(_ item: Value, _ attribute: Value, _ interp: Interpreter) throws -> Value {
        var parts: [Value]
        switch attribute {
        case .string(let s): parts = s.split(separator: ".", omittingEmptySubsequences: false).map { part in
            if let i = Int(part) { return .int(i) }
            return .string(String(part))
        }
        case .int: parts = [attribute]
        default: parts = [attribute]
        }
        var v = item
        for part in parts { v = try Access.getitem(v, part, interp) }
        return v
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func htmlUnescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&#34;", with: "\"").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// jinja2's `title` filter: capitalizes after `-`, whitespace, `(`, `{`, `[` and `<`.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atStart = true
        for u in s.unicodeScalars {
            let separator = u == "-" || u == "(" || u == "{" || u == "[" || u == "<" || Lexer.isSpace(u)
            if separator {
                out.unicodeScalars.append(u)
                atStart = true
            } else if atStart {
                out += u.properties.uppercaseMapping
                atStart = false
            } else {
                out += u.properties.lowercaseMapping
            }
        }
        return out
    }

    /// Python's `round(x, n)` for floats: correctly rounded, ties to even.
    static func pyRound(_ x: Double, _ n: Int) -> Double {
        if !x.isFinite { return x }
        if n >= 0 {
            if n > 300 { return x }
            let text = String(format: "%.\(n)f", x)
            return Double(text) ?? x
        }
        let p = pow(10.0, Double(-n))
        return (x / p).rounded(.toNearestOrEven) * p
    }

    static func toInt(_ v: Value, base: Int) throws -> Value? {
        switch v {
        case .int: return v
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d):
            guard d.isFinite, abs(d) < 9.2e18 else { return nil }
            return .int(Int(d))
        case .string(let raw):
            var s = Methods.strip(raw, nil, left: true, right: true)
            var negative = false
            if s.hasPrefix("-") || s.hasPrefix("+") { negative = s.hasPrefix("-"); s.removeFirst() }
            var radix = base
            let lower = s.lowercased()
            for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) && (base == r || base == 0) {
                radix = r
                s = String(s.dropFirst(2))
                if s.hasPrefix("_") { s.removeFirst() }
            }
            if radix == 0 { radix = 10 }
            let valid = !s.isEmpty && !s.hasPrefix("_") && !s.hasSuffix("_") && !s.contains("__")
            if valid, radix >= 2, radix <= 36, let n = Int(s.replacingOccurrences(of: "_", with: ""), radix: radix) {
                return .int(negative ? -n : n)
            }
            // jinja2: "42.23"|int gives 42 through float().
            if let d = toFloat(v), case .double(let f) = d, f.isFinite, abs(f) < 9.2e18 { return .int(Int(f)) }
            return nil
        default:
            return nil
        }
    }

    /// Python's `float(value)`; nil when it would raise.
    static func toFloat(_ v: Value) -> Value? {
        switch v {
        case .int(let i): return .double(Double(i))
        case .bool(let b): return .double(b ? 1 : 0)
        case .double: return v
        case .string(let raw):
            let s = Methods.strip(raw, nil, left: true, right: true).lowercased()
            switch s {
            case "inf", "+inf", "infinity", "+infinity": return .double(.infinity)
            case "-inf", "-infinity": return .double(-.infinity)
            case "nan", "+nan", "-nan": return .double(.nan)
            default: break
            }
            guard !s.isEmpty, !s.hasPrefix("_"), !s.hasSuffix("_"), !s.contains("__"),
                  s.allSatisfy({ "0123456789.e+-_".contains($0) }),
                  let d = Double(s.replacingOccurrences(of: "_", with: "")) else { return nil }
            return .double(d)
        default:
            return nil
        }
    }

    /// transformers' tojson: `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
    static func toJSON(_ value: Value, _ p: Params) throws -> String {
        var options = PyJSON.Options()
        options.ensureASCII = p.bool(0, "ensure_ascii", false)
        if let indent = p.get(1, "indent") {
            switch indent {
            case .none: options.indent = nil
            case .int(let n): options.indent = String(repeating: " ", count: max(0, n))
            case .string(let s): options.indent = s
            default: throw TemplateError.type(message: "indent must be int, str or None", line: 0)
            }
        }
        if options.indent != nil { options.itemSeparator = "," }
        if let separators = p.get(2, "separators"), !separators.isNone {
            switch separators {
            case .tuple(let items) where items.count == 2, .list(let items) where items.count == 2:
                options.itemSeparator = Py.str(items[0])
                options.keySeparator = Py.str(items[1])
            default:
                throw TemplateError.type(message: "separators must be a pair of strings", line: 0)
            }
        }
        options.sortKeys = p.bool(3, "sort_keys", false)
        return try PyJSON.dumps(value, options: options)
    }
}

extension Methods {
    /// `" ".join(s.split())`.
    static func split(s: String) -> String {
        ((try? split(s, nil, -1, fromRight: false)) ?? []).joined(separator: " ")
    }
}
