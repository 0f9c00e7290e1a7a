import Foundation

/// Python operator semantics.
enum Ops {
    static func overflow() -> TemplateError {
        .type(message: "integer overflow (only 64-bit integers are supported)", line: 0)
    }

    static func undefinedError(_ u: UndefinedInfo) -> TemplateError {
        if case .unsafe = u.kind { return .security(message: u.message, line: 0) }
        return .undefined(message: u.message, line: 0)
    }

    enum Num { case int(Int), double(Double) }

    static func num(_ v: Value) -> Num? {
        switch v {
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d): return .double(d)
        default: return nil
        }
    }

    static func toDouble(_ n: Num) -> Double {
        switch n { case .int(let i): return Double(i); case .double(let d): return d }
    }

    static func unsupported(_ op: String, _ a: Value, _ b: Value) -> TemplateError {
        .type(message: "unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'", line: 0)
    }

    static func binary(_ op: String, _ a: Value, _ b: Value, _ interp: Interpreter) throws -> Value {
        if case .undefined(let u) = a { throw undefinedError(u) }
        if case .undefined(let u) = b { throw undefinedError(u) }
        if let x = num(a), let y = num(b) { return try numeric(op, x, y) }
        switch op {
        case "+":
            switch (a, b) {
            case (.string(let x), .string(let y)):
                try SizeGuard.check(x.utf8.count + y.utf8.count)
                return .string(x + y)
            case (.list(let x), .list(let y)):
                try SizeGuard.check(x.count + y.count)
                return .list(x + y)
            case (.tuple(let x), .tuple(let y)):
                try SizeGuard.check(x.count + y.count)
                return .tuple(x + y)
            case (.string, _), (.list, _), (.tuple, _):
                throw TemplateError.type(message: "can only concatenate \(a.typeName) (not \"\(b.typeName)\") to \(a.typeName)", line: 0)
            default: throw unsupported("+", a, b)
            }
        case "*":
            func repeatCount(_ v: Value) -> Int? {
                switch v { case .int(let i): return i; case .bool(let b): return b ? 1 : 0; default: return nil }
            }
            if let n = repeatCount(b) { return try repeatSeq(a, n, interp) ?? { throw unsupported("*", a, b) }() }
            if let n = repeatCount(a) { return try repeatSeq(b, n, interp) ?? { throw unsupported("*", a, b) }() }
            throw TemplateError.type(message: "can't multiply sequence by non-int of type '\(b.typeName)'", line: 0)
        case "%":
            if case .string(let fmt) = a { return .string(try PercentFormat.format(fmt, b)) }
            throw unsupported("%", a, b)
        default:
            throw unsupported(op == "**" ? "** or pow()" : op, a, b)
        }
    }

    static func repeatSeq(_ v: Value, _ n: Int, _ interp: Interpreter) throws -> Value? {
        let count = max(0, n)
        switch v {
        case .string(let s):
            if count > 0 && s.utf8.count > SizeGuard.maxBytes / count {
                throw TemplateError.limitExceeded(message: "string repetition too large", line: 0)
            }
            return .string(String(repeating: s, count: count))
        case .list(let a), .tuple(let a):
            if count > 0 && a.count > SizeGuard.maxBytes / count {
                throw TemplateError.limitExceeded(message: "list repetition too large", line: 0)
            }
            var out: [Value] = []
            for _ in 0..<count { out += a }
            if case .tuple = v { return .tuple(out) }
            return .list(out)
        default: return nil
        }
    }

    static func numeric(_ op: String, _ x: Num, _ y: Num) throws -> Value {
        if case .int(let a) = x, case .int(let b) = y {
            switch op {
            case "+": let (r, o) = a.addingReportingOverflow(b); if o { throw overflow() }; return .int(r)
            case "-": let (r, o) = a.subtractingReportingOverflow(b); if o { throw overflow() }; return .int(r)
            case "*": let (r, o) = a.multipliedReportingOverflow(by: b); if o { throw overflow() }; return .int(r)
            case "/":
                guard b != 0 else { throw TemplateError.type(message: "division by zero", line: 0) }
                return .double(Double(a) / Double(b))
            case "//":
                guard b != 0 else { throw TemplateError.type(message: "integer division or modulo by zero", line: 0) }
                if a == Int.min && b == -1 { throw overflow() }
                var q = a / b
                if (a % b != 0) && ((a < 0) != (b < 0)) { q -= 1 }
                return .int(q)
            case "%":
                guard b != 0 else { throw TemplateError.type(message: "integer division or modulo by zero", line: 0) }
                if b == -1 { return .int(0) }
                var r = a % b
                if r != 0 && ((r < 0) != (b < 0)) { r += b }
                return .int(r)
            case "**":
                if b < 0 { return .double(pow(Double(a), Double(b))) }
                var result = 1, base = a, e = b
                while e > 0 {
                    if e & 1 == 1 {
                        let (r, o) = result.multipliedReportingOverflow(by: base); if o { throw overflow() }; result = r
                    }
                    e >>= 1
                    if e > 0 { let (r, o) = base.multipliedReportingOverflow(by: base); if o { throw overflow() }; base = r }
                }
                return .int(result)
            default: break
            }
        }
        let a = toDouble(x), b = toDouble(y)
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/":
            guard b != 0 else { throw TemplateError.type(message: "float division by zero", line: 0) }
            return .double(a / b)
        case "//":
            guard b != 0 else { throw TemplateError.type(message: "float floor division by zero", line: 0) }
            return .double(floorDivMod(a, b).0)
        case "%":
            guard b != 0 else { throw TemplateError.type(message: "float modulo", line: 0) }
            return .double(floorDivMod(a, b).1)
        case "**":
            if a == 0 && b < 0 { throw TemplateError.type(message: "0.0 cannot be raised to a negative power", line: 0) }
            let r = pow(a, b)
            if r.isNaN && !a.isNaN && !b.isNaN { throw TemplateError.type(message: "complex results are not supported", line: 0) }
            return .double(r)
        default:
            throw TemplateError.type(message: "unsupported operator \(op)", line: 0)
        }
    }

    /// CPython's float_divmod.
    static func floorDivMod(_ vx: Double, _ wx: Double) -> (Double, Double) {
        var mod = fmod(vx, wx)
        var div = (vx - mod) / wx
        if mod != 0 {
            if (wx < 0) != (mod < 0) { mod += wx; div -= 1.0 }
        } else {
            mod = copysign(0.0, wx)
        }
        var floordiv: Double
        if div != 0 {
            floordiv = div.rounded(.down)
            if div - floordiv > 0.5 { floordiv += 1.0 }
        } else {
            floordiv = copysign(0.0, vx / wx)
        }
        return (floordiv, mod)
    }

    // MARK: comparison

    static func equal(_ a: Value, _ b: Value) -> Bool {
        if let x = num(a), let y = num(b) {
            switch (x, y) {
            case (.int(let i), .int(let j)): return i == j
            default: return toDouble(x) == toDouble(y)
            }
        }
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.dict(let x), .dict(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x.pairs {
                guard let other = try? y.lookup(k), equal(v, other) else { return false }
            }
            return true
        case (.namespace(let x), .namespace(let y)): return x === y
        case (.callable(let x), .callable(let y)): return x === y
        case (.loop(let x), .loop(let y)): return x === y
        default: return false
        }
    }

    /// Python's `<`; throws TypeError for unorderable types.
    static func less(_ a: Value, _ b: Value, _ op: String = "<") throws -> Bool {
        if case .undefined(let u) = a { throw undefinedError(u) }
        if case .undefined(let u) = b { throw undefinedError(u) }
        if let x = num(a), let y = num(b) {
            if case .int(let i) = x, case .int(let j) = y { return i < j }
            return toDouble(x) < toDouble(y)
        }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !equal(p, q) { return try less(p, q, op) }
            return x.count < y.count
        default:
            throw TemplateError.type(message: "'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", line: 0)
        }
    }

    static func contains(_ container: Value, _ item: Value) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let sub) = item else {
                throw TemplateError.type(message: "'in <string>' requires string as left operand, not \(item.typeName)", line: 0)
            }
            return sub.isEmpty || s.contains(sub)
        case .list(let a), .tuple(let a): return a.contains { equal($0, item) }
        case .dict(let d): return (try d.lookup(item)) != nil
        case .undefined: return false
        default:
            throw TemplateError.type(message: "argument of type '\(container.typeName)' is not iterable", line: 0)
        }
    }

    static func compare(_ op: String, _ a: Value, _ b: Value) throws -> Bool {
        switch op {
        case "==": return equal(a, b)
        case "!=": return !equal(a, b)
        case "<": return try less(a, b, "<")
        case ">": return try less(b, a, ">")
        case "<=":
            if case .undefined(let u) = a { throw undefinedError(u) }
            return try equal(a, b) || less(a, b, "<=")
        case ">=":
            if case .undefined(let u) = a { throw undefinedError(u) }
            return try equal(a, b) || less(b, a, ">=")
        case "in": return try contains(b, a)
        case "notin": return !(try contains(b, a))
        default: throw TemplateError.type(message: "unknown comparison \(op)", line: 0)
        }
    }
}

/// Attribute and item access as jinja2's sandboxed environment does it.
enum Access {
    /// `object_type_repr` from jinja2.
    static func ownerName(_ v: Value) -> String {
        switch v {
        case .none: return "None"
        case .namespace: return "jinja2.utils.Namespace object"
        default: return "\(v.typeName) object"
        }
    }

    static let dictMethods: Set<String> = ["items", "keys", "values", "get", "copy"]
    static let dictUnsafe: Set<String> = ["pop", "popitem", "setdefault", "update", "clear"]
    static let listMethods: Set<String> = ["index", "count", "copy"]
    static let listUnsafe: Set<String> = ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"]

    static func missing(_ obj: Value, _ name: String) -> Value {
        .undefined(UndefinedInfo(kind: .attribute(owner: ownerName(obj), attribute: name)))
    }

    static func unsafe(_ obj: Value, _ name: String) -> Value {
        .undefined(UndefinedInfo(kind: .unsafe(owner: obj.typeName, attribute: name)))
    }

    static func getattr(_ obj: Value, _ name: String, _ interp: Interpreter) throws -> Value {
        switch obj {
        case .undefined(let u):
            throw Ops.undefinedError(u)
        case .dict(let d):
            if name.hasPrefix("_") { return d[string: name] ?? missing(obj, name) }
            if dictUnsafe.contains(name) { return unsafe(obj, name) }
            if dictMethods.contains(name) { return Methods.bound(obj, name, interp) }
            return d[string: name] ?? missing(obj, name)
        case .namespace(let n):
            return n.dict[string: name] ?? missing(obj, name)
        case .list, .tuple:
            if listUnsafe.contains(name), case .list = obj { return unsafe(obj, name) }
            if listMethods.contains(name) { return Methods.bound(obj, name, interp) }
            return missing(obj, name)
        case .string:
            if Methods.stringMethods.contains(name) { return Methods.bound(obj, name, interp) }
            return missing(obj, name)
        case .loop(let l):
            return loopAttribute(l, name, interp) ?? missing(obj, name)
        case .int(let i):
            switch name {
            case "real", "numerator": return .int(i)
            case "imag": return .int(0)
            case "denominator": return .int(1)
            default: return missing(obj, name)
            }
        case .double(let d):
            switch name {
            case "real": return .double(d)
            case "imag": return .double(0)
            default: return missing(obj, name)
            }
        case .callable(let c):
            switch name {
            case "name": return .string(c.name)
            case "arguments": return .tuple(c.argumentNames.map { .string($0) })
            default: return missing(obj, name)
            }
        default:
            return missing(obj, name)
        }
    }

    static func loopAttribute(_ l: LoopContext, _ name: String, _ interp: Interpreter) -> Value? {
        let n = l.items.count
        switch name {
        case "index": return .int(l.index0 + 1)
        case "index0": return .int(l.index0)
        case "revindex": return .int(n - l.index0)
        case "revindex0": return .int(n - l.index0 - 1)
        case "first": return .bool(l.index0 == 0)
        case "last": return .bool(l.index0 == n - 1)
        case "length": return .int(n)
        case "depth": return .int(l.depth0 + 1)
        case "depth0": return .int(l.depth0)
        case "previtem": return l.index0 > 0 ? l.items[l.index0 - 1] : .undefined(UndefinedInfo(kind: .plain))
        case "nextitem": return l.index0 + 1 < n ? l.items[l.index0 + 1] : .undefined(UndefinedInfo(kind: .plain))
        case "cycle":
            return .callable(Callable(name: "cycle") { args, _ in
                guard !args.isEmpty else { throw TemplateError.type(message: "no items for cycling given", line: 0) }
                return args[l.index0 % args.count]
            })
        case "changed":
            return .callable(Callable(name: "changed") { [unowned interp] args, _ in
                if let last = l.lastChanged, last.count == args.count, zip(last, args).allSatisfy({ Ops.equal($0, $1) }) {
                    return .bool(false)
                }
                if l.lastChanged == nil { interp.track(l) }
                l.lastChanged = args
                return .bool(true)
            })
        default: return nil
        }
    }

    static func normalizeIndex(_ i: Int, _ count: Int) -> Int? {
        let j = i < 0 ? i + count : i
        return (0..<count).contains(j) ? j : nil
    }

    static func getitem(_ obj: Value, _ key: Value, _ interp: Interpreter) throws -> Value {
        func intKey() -> Int? {
            switch key { case .int(let i): return i; case .bool(let b): return b ? 1 : 0; default: return nil }
        }
        switch obj {
        case .undefined(let u):
            throw Ops.undefinedError(u)
        case .dict(let d):
            if let v = try? d.lookup(key) { return v }
        case .list(let a), .tuple(let a):
            if let i = intKey(), let j = normalizeIndex(i, a.count) { return a[j] }
        case .string(let s):
            if let i = intKey() {
                let scalars = Array(s.unicodeScalars)
                if let j = normalizeIndex(i, scalars.count) { return .string(String(scalars[j])) }
            }
        case .namespace(let n):
            if let v = try? n.dict.lookup(key) { return v }
        default:
            break
        }
        if case .string(let name) = key {
            // jinja2 falls back to attribute lookup for string subscripts.
            if case .dict = obj { if name.hasPrefix("_") { return missing(obj, name) } }
            return try getattr(obj, name, interp)
        }
        return .undefined(UndefinedInfo(kind: .attribute(owner: ownerName(obj), attribute: Py.repr(key))))
    }

    static func sliceIndices(_ count: Int, _ start: Value?, _ stop: Value?, _ step: Value?) throws -> [Int] {
        func intOrNil(_ v: Value?) throws -> Int? {
            guard let v else { return nil }
            switch v {
            case .none: return nil
            case .int(let i): return i
            case .bool(let b): return b ? 1 : 0
            default: throw TemplateError.type(message: "slice indices must be integers or None or have an __index__ method", line: 0)
            }
        }
        let st = try intOrNil(step) ?? 1
        guard st != 0 else { throw TemplateError.type(message: "slice step cannot be zero", line: 0) }
        var result: [Int] = []
        if st > 0 {
            var a = try intOrNil(start) ?? 0
            var b = try intOrNil(stop) ?? count
            if a < 0 { a = max(0, a + count) }
            if b < 0 { b = max(0, b + count) }
            a = min(a, count); b = min(b, count)
            var i = a
            while i < b { result.append(i); i += st }
        } else {
            var a = try intOrNil(start) ?? (count - 1)
            var b = try intOrNil(stop) ?? -count - 1
            if a < 0 { a += count }
            if a >= count { a = count - 1 }
            if b < 0 { b += count }
            var i = a
            while i > b && i >= 0 { result.append(i); i += st }
        }
        return result
    }

    static func slice(_ obj: Value, _ start: Value?, _ stop: Value?, _ step: Value?) throws -> Value {
        switch obj {
        case .list(let a): return .list(try sliceIndices(a.count, start, stop, step).map { a[$0] })
        case .tuple(let a): return .tuple(try sliceIndices(a.count, start, stop, step).map { a[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try sliceIndices(scalars.count, start, stop, step) { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined(let u):
            throw Ops.undefinedError(u)
        default:
            return .undefined(UndefinedInfo(kind: .attribute(owner: ownerName(obj), attribute: "slice")))
        }
    }
}
