import Foundation

/// Limits that make a hostile template end with `TemplateError.limitExceeded` instead of hanging or crashing.
public struct RenderLimits: Sendable, Equatable {
    /// Statements executed, loop iterations and expression evaluations, together.
    public var maxSteps: Int
    /// Bytes of output (UTF-8), counting nested macro and block output too.
    public var maxOutputBytes: Int
    /// Nested macro / caller / recursive-loop calls.
    public var maxCallDepth: Int
    /// Largest `range()` (jinja2's sandbox allows 100000) and largest list or string built by `*`.
    public var maxRange: Int

    public init(maxSteps: Int = 2_000_000, maxOutputBytes: Int = 16 << 20, maxCallDepth: Int = 64, maxRange: Int = 100_000) {
        self.maxSteps = maxSteps
        self.maxOutputBytes = maxOutputBytes
        self.maxCallDepth = maxCallDepth
        self.maxRange = maxRange
    }
}

final class Frame {
    var vars: [String: Value] = [:]
    let parent: Frame?
    init(parent: Frame?) { self.parent = parent }

    func lookup(_ name: String) -> Value? {
        var f: Frame? = self
        while let cur = f {
            if let v = cur.vars[name] { return v }
            f = cur.parent
        }
        return nil
    }
}

enum Flow { case normal, breakLoop, continueLoop }

/// Size guards for values built while rendering (strings, lists), independent of output.
enum SizeGuard {
    /// Largest string (UTF-8 bytes) or list (elements) an operation may build.
    static let maxBytes = 32 << 20

    static func check(_ n: Int) throws {
        if n > maxBytes || n < 0 {
            throw TemplateError.limitExceeded(message: "value larger than \(maxBytes) bytes or items", line: 0)
        }
    }

    static func checked(_ s: String) throws -> String {
        try check(s.utf8.count)
        return s
    }
}

final class Interpreter {
    let limits: RenderLimits
    let now: () -> Date
    var globals: [String: Value] = [:]
    var steps = 0
    var outputBytes = 0
    var callDepth = 0
    /// Frames a macro's closure captured, namespaces, and loops that remember `loop.changed`'s
    /// arguments: a frame holding a macro that captured it, a namespace holding itself (or a `caller`
    /// or `loop` whose closure reaches back to it), or `loop.changed(loop)`, is a reference cycle.
    /// `render` empties them when it returns, so nothing a render built outlives it.
    private var captured: [Frame] = []
    private var namespaces: [Namespace] = []
    private var changedLoops: [LoopContext] = []

    init(context: [String: TemplateValue], limits: RenderLimits, now: @escaping () -> Date) {
        self.limits = limits
        self.now = now
        installGlobals()
        for (k, v) in context { globals[k] = Value(v) }
    }

    func render(_ body: [Stmt], root: Frame = Frame(parent: nil)) throws -> String {
        defer { releaseCycles() }
        var out = ""
        _ = try exec(body, root, &out)
        return out
    }

    /// A frame a macro's closure keeps (see `captured`).
    func capture(_ frame: Frame) -> Frame {
        captured.append(frame)
        return frame
    }

    /// A namespace built by the template (see `captured`).
    func track(_ namespace: Namespace) -> Namespace {
        namespaces.append(namespace)
        return namespace
    }

    /// A loop whose `changed` kept its arguments (see `captured`).
    func track(_ loop: LoopContext) {
        changedLoops.append(loop)
    }

    private func releaseCycles() {
        for f in captured { f.vars.removeAll() }
        for n in namespaces { n.dict = PyDict() }
        for l in changedLoops { l.lastChanged = nil }
        captured.removeAll()
        namespaces.removeAll()
        changedLoops.removeAll()
    }

    // MARK: budget

    @inline(__always) func step(_ line: Int = 0) throws {
        steps += 1
        if steps > limits.maxSteps {
            throw TemplateError.limitExceeded(message: "render step budget of \(limits.maxSteps) exhausted", line: line)
        }
    }

    @inline(__always) func emit(_ s: String, _ out: inout String) throws {
        outputBytes += s.utf8.count
        if outputBytes > limits.maxOutputBytes {
            throw TemplateError.limitExceeded(message: "output larger than \(limits.maxOutputBytes) bytes", line: 0)
        }
        out += s
    }

    func enterCall(_ line: Int) throws {
        callDepth += 1
        if callDepth > limits.maxCallDepth {
            callDepth -= 1
            throw TemplateError.limitExceeded(message: "maximum call depth of \(limits.maxCallDepth) exceeded", line: line)
        }
    }

    // MARK: statements

    func exec(_ stmts: [Stmt], _ frame: Frame, _ out: inout String) throws -> Flow {
        for stmt in stmts {
            let flow = try execOne(stmt, frame, &out)
            if flow != .normal { return flow }
        }
        return .normal
    }

    func execOne(_ stmt: Stmt, _ frame: Frame, _ out: inout String) throws -> Flow {
        try step()
        switch stmt {
        case .text(let s):
            try emit(s, &out)
        case .output(let e, let line):
            do {
                let v = try eval(e, frame)
                try emit(Py.str(v), &out)
            } catch let error as TemplateError { throw error.at(line: line) }
        case .ifChain(let branches, let otherwise, let line):
            for (test, body) in branches {
                let ok: Bool
                do { ok = try truth(try eval(test, frame)) } catch let error as TemplateError { throw error.at(line: line) }
                if ok { return try exec(body, frame, &out) }
            }
            return try exec(otherwise, frame, &out)
        case .forLoop(let target, let iter, let filter, let body, let otherwise, let recursive, let line):
            do {
                let iterable = try eval(iter, frame)
                try runLoop(iterable: iterable, target: target, filter: filter, body: body, otherwise: otherwise,
                            recursive: recursive, depth0: 0, frame: frame, line: line, out: &out)
            } catch let error as TemplateError { throw error.at(line: line) }
        case .set(let target, let e, let line):
            do { try assign(target, try eval(e, frame), frame) } catch let error as TemplateError { throw error.at(line: line) }
        case .setBlock(let target, let filter, let body, let line):
            var buf = ""
            _ = try exec(body, frame, &buf)
            do {
                var value = Value.string(buf)
                if let filter { value = try applyFilterChain(filter, input: value, frame) }
                try assign(target, value, frame)
            } catch let error as TemplateError { throw error.at(line: line) }
        case .macro(let def, _):
            frame.vars[def.name] = .callable(makeMacro(def, closure: capture(frame)))
        case .callBlock(let params, let defaults, let call, let body, let line):
            do {
                guard case .call(let callee, let args, _) = call else { return .normal }
                let callerDef = MacroDef(name: "caller", params: params, defaults: defaults, body: body)
                let caller = makeMacro(callerDef, closure: frame)
                let result = try evalCall(callee, args, frame, line: line, extraKwargs: [("caller", .callable(caller))])
                try emit(Py.str(result), &out)
            } catch let error as TemplateError { throw error.at(line: line) }
        case .filterBlock(let filter, let body, let line):
            var buf = ""
            _ = try exec(body, frame, &buf)
            do {
                let value = try applyFilterChain(filter, input: .string(buf), frame)
                try emit(Py.str(value), &out)
            } catch let error as TemplateError { throw error.at(line: line) }
        case .with(let assignments, let body, let line):
            let inner = Frame(parent: frame)
            do {
                for (target, e) in assignments { try assign(target, try eval(e, frame), inner) }
            } catch let error as TemplateError { throw error.at(line: line) }
            return try exec(body, inner, &out)
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        case .scope(let body):
            return try exec(body, frame, &out)
        }
        return .normal
    }

    func runLoop(iterable: Value, target: Target, filter: Expr?, body: [Stmt], otherwise: [Stmt], recursive: Bool,
                 depth0: Int, frame: Frame, line: Int, out: inout String) throws {
        var items = try iterate(iterable)
        if let filter {
            var kept: [Value] = []
            for item in items {
                try step(line)
                let probe = Frame(parent: frame)
                try assign(target, item, probe, checked: false)
                if try truth(try eval(filter, probe)) { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try exec(otherwise, frame, &out)
            return
        }
        var recurse: ((Value) throws -> Value)? = nil
        if recursive {
            recurse = { [unowned self] sub in
                try self.enterCall(line)
                defer { self.callDepth -= 1 }
                var buf = ""
                try self.runLoop(iterable: sub, target: target, filter: filter, body: body, otherwise: otherwise,
                                 recursive: true, depth0: depth0 + 1, frame: frame, line: line, out: &buf)
                return .string(buf)
            }
        }
        let loop = LoopContext(items: items, depth0: depth0, recurse: recurse)
        for (index, item) in items.enumerated() {
            try step(line)
            loop.index0 = index
            let inner = Frame(parent: frame)
            try assign(target, item, inner, checked: false)
            inner.vars["loop"] = .loop(loop)
            let flow = try exec(body, inner, &out)
            if flow == .breakLoop { break }
        }
    }

    /// Deepest container nesting a `set` may store. Deeper values could only come from a template wrapping a value
    /// in itself over and over, and would overflow the stack when printed, compared or freed.
    static let maxValueNesting = 100

    /// Throws when `value` nests containers deeper than `maxValueNesting`; scanning is charged to the step budget.
    func checkNesting(_ value: Value) throws {
        var visited = Set<ObjectIdentifier>()
        var scanned = 0
        func walk(_ v: Value, _ depth: Int) throws {
            let children: [Value]
            switch v {
            case .list(let a), .tuple(let a): children = a
            case .dict(let d): children = d.values
            case .namespace(let n):
                guard visited.insert(ObjectIdentifier(n)).inserted else { return }
                children = n.dict.values
            default: return
            }
            if depth > Interpreter.maxValueNesting {
                throw TemplateError.limitExceeded(message: "value nested deeper than \(Interpreter.maxValueNesting) levels", line: 0)
            }
            for child in children {
                scanned += 1
                if scanned & 15 == 0 { try step() }
                switch child {
                case .list, .tuple, .dict, .namespace: try walk(child, depth + 1)
                default: continue
                }
            }
        }
        try walk(value, 1)
    }

    func assign(_ target: Target, _ value: Value, _ frame: Frame, checked: Bool = true) throws {
        if checked, case .tuple = target {} else if checked { try checkNesting(value) }
        switch target {
        case .name(let n):
            frame.vars[n] = value
        case .namespaceAttr(let n, let attr):
            guard case .namespace(let ns) = frame.lookup(n) ?? globals[n] ?? .undefinedPlain else {
                throw TemplateError.type(message: "cannot assign attribute on non-namespace object", line: 0)
            }
            if attr.hasPrefix("_") { throw Builtins.namespaceUnderscoreError(attr) }
            ns.dict[.string(attr)] = value
        case .tuple(let targets):
            let items: [Value]
            switch value {
            case .list(let a), .tuple(let a): items = a
            case .string, .dict, .undefined: items = try iterate(value)
            default: throw TemplateError.type(message: "cannot unpack non-iterable \(value.typeName) object", line: 0)
            }
            if items.count > targets.count {
                throw TemplateError.type(message: "too many values to unpack (expected \(targets.count))", line: 0)
            }
            if items.count < targets.count {
                throw TemplateError.type(message: "not enough values to unpack (expected \(targets.count), got \(items.count))", line: 0)
            }
            for (t, v) in zip(targets, items) { try assign(t, v, frame, checked: checked) }
        }
    }

    func makeMacro(_ def: MacroDef, closure: Frame) -> Callable {
        let usesVarargs = Scan.uses(def.body, "varargs")
        let usesKwargs = Scan.uses(def.body, "kwargs")
        return Callable(name: def.name, isMacro: true, argumentNames: def.params) { [unowned self] args, kwargs in
            try self.enterCall(0)
            defer { self.callDepth -= 1 }
            let frame = Frame(parent: closure)
            var remaining = kwargs
            let firstDefault = def.params.count - def.defaults.count
            for (i, p) in def.params.enumerated() {
                if i < args.count {
                    if remaining.contains(where: { $0.0 == p }) {
                        throw TemplateError.type(message: "macro '\(def.name)' got multiple values for argument '\(p)'", line: 0)
                    }
                    frame.vars[p] = args[i]
                } else if let k = remaining.firstIndex(where: { $0.0 == p }) {
                    frame.vars[p] = remaining[k].1
                    remaining.remove(at: k)
                } else if i >= firstDefault {
                    frame.vars[p] = try self.eval(def.defaults[i - firstDefault], frame)
                } else {
                    frame.vars[p] = .undefinedPlain
                }
            }
            if args.count > def.params.count {
                if usesVarargs {
                    frame.vars["varargs"] = .tuple(Array(args[def.params.count...]))
                } else {
                    throw TemplateError.type(message: "macro '\(def.name)' takes not more than \(def.params.count) argument(s)", line: 0)
                }
            } else if usesVarargs {
                frame.vars["varargs"] = .tuple([])
            }
            if let k = remaining.firstIndex(where: { $0.0 == "caller" }) {
                frame.vars["caller"] = remaining[k].1
                remaining.remove(at: k)
            }
            if usesKwargs {
                var d = PyDict()
                for (k, v) in remaining { d[.string(k)] = v }
                frame.vars["kwargs"] = .dict(d)
            } else if let first = remaining.first {
                throw TemplateError.type(message: "macro '\(def.name)' takes no keyword argument '\(first.0)'", line: 0)
            }
            var buf = ""
            _ = try self.exec(def.body, frame, &buf)
            return .string(buf)
        }
    }

    // MARK: expressions

    func truth(_ v: Value) throws -> Bool { v.truthy }

    func literal(_ l: Literal) -> Value {
        switch l {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        }
    }

    func eval(_ e: Expr, _ frame: Frame) throws -> Value {
        steps += 1
        if steps > limits.maxSteps {
            throw TemplateError.limitExceeded(message: "render step budget of \(limits.maxSteps) exhausted", line: 0)
        }
        switch e {
        case .literal(let l):
            return literal(l)
        case .name(let n, _):
            if let v = frame.lookup(n) ?? globals[n] { return v }
            return .undefined(UndefinedInfo(kind: .name(n)))
        case .list(let items):
            return .list(try items.map { try eval($0, frame) })
        case .tuple(let items):
            return .tuple(try items.map { try eval($0, frame) })
        case .dict(let pairs):
            var d = PyDict()
            for (k, v) in pairs { try d.set(try eval(k, frame), try eval(v, frame)) }
            return .dict(d)
        case .getattr(let obj, let name, _):
            return try Access.getattr(try eval(obj, frame), name, self)
        case .getitem(let obj, let key, _):
            return try Access.getitem(try eval(obj, frame), try eval(key, frame), self)
        case .slice(let obj, let a, let b, let c, _):
            let base = try eval(obj, frame)
            return try Access.slice(base, try a.map { try eval($0, frame) }, try b.map { try eval($0, frame) },
                                    try c.map { try eval($0, frame) })
        case .call(let callee, let args, let line):
            return try evalCall(callee, args, frame, line: line, extraKwargs: [])
        case .filter(let input, let name, let args, _):
            let value = try input.map { try eval($0, frame) } ?? .undefinedPlain
            let (a, k) = try evalArgs(args, frame)
            return try Filters.apply(name, value, a, k, self)
        case .test(let input, let name, let args, _):
            let value = try eval(input, frame)
            let (a, k) = try evalArgs(args, frame)
            return .bool(try JinjaTests.apply(name, value, a, k, self))
        case .neg(let x):
            let v = try eval(x, frame)
            switch v {
            case .int(let i):
                guard i != Int.min else { throw Ops.overflow() }
                return .int(-i)
            case .bool(let b): return .int(b ? -1 : 0)
            case .double(let d): return .double(-d)
            case .undefined(let u): throw Ops.undefinedError(u)
            default: throw TemplateError.type(message: "bad operand type for unary -: '\(v.typeName)'", line: 0)
            }
        case .pos(let x):
            let v = try eval(x, frame)
            switch v {
            case .int, .double: return v
            case .bool(let b): return .int(b ? 1 : 0)
            case .undefined(let u): throw Ops.undefinedError(u)
            default: throw TemplateError.type(message: "bad operand type for unary +: '\(v.typeName)'", line: 0)
            }
        case .not(let x):
            return .bool(!(try truth(try eval(x, frame))))
        case .and(let a, let b):
            let l = try eval(a, frame)
            return try truth(l) ? try eval(b, frame) : l
        case .or(let a, let b):
            let l = try eval(a, frame)
            return try truth(l) ? l : try eval(b, frame)
        case .binary(let op, let a, let b, _):
            return try Ops.binary(op, try eval(a, frame), try eval(b, frame), self)
        case .compare(let first, let ops, _):
            var left = try eval(first, frame)
            for (op, rhs) in ops {
                let right = try eval(rhs, frame)
                if !(try Ops.compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .concat(let parts, _):
            var s = ""
            for p in parts {
                s += Py.str(try eval(p, frame))
                try SizeGuard.check(s.utf8.count)
            }
            return .string(s)
        case .cond(let test, let then, let otherwise):
            if try truth(try eval(test, frame)) { return try eval(then, frame) }
            return try otherwise.map { try eval($0, frame) } ?? .undefinedPlain
        }
    }

    func evalArgs(_ args: CallArgs, _ frame: Frame) throws -> ([Value], [(String, Value)]) {
        var positional = try args.args.map { try eval($0, frame) }
        var keywords = try args.kwargs.map { ($0.0, try eval($0.1, frame)) }
        if let star = args.starArgs { positional += try iterate(try eval(star, frame)) }
        if let star = args.starKwargs {
            guard case .dict(let d) = try eval(star, frame) else {
                throw TemplateError.type(message: "argument after ** must be a mapping", line: 0)
            }
            for (k, v) in d.pairs { keywords.append((Py.str(k), v)) }
        }
        return (positional, keywords)
    }

    func evalCall(_ callee: Expr, _ args: CallArgs, _ frame: Frame, line: Int, extraKwargs: [(String, Value)]) throws -> Value {
        // Method calls dispatch directly, without materializing a bound method.
        if case .getattr(let objExpr, let name, _) = callee {
            let obj = try eval(objExpr, frame)
            if let result = try Methods.call(obj, name, { try self.evalArgs(args, frame) }, self) { return result }
            let fn = try Access.getattr(obj, name, self)
            let (a, k) = try evalArgs(args, frame)
            return try call(fn, a, k + extraKwargs)
        }
        let fn = try eval(callee, frame)
        let (a, k) = try evalArgs(args, frame)
        return try call(fn, a, k + extraKwargs)
    }

    func call(_ fn: Value, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Value {
        switch fn {
        case .callable(let c):
            return try c.body(args, kwargs)
        case .undefined(let u):
            if case .unsafe = u.kind { throw TemplateError.security(message: u.message, line: 0) }
            throw Ops.undefinedError(u)
        case .loop(let l):
            guard let recurse = l.recurse else {
                throw TemplateError.type(message: "Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.", line: 0)
            }
            guard args.count == 1 else { throw TemplateError.type(message: "loop() takes exactly one argument", line: 0) }
            return try recurse(args[0])
        default:
            throw TemplateError.type(message: "'\(fn.typeName)' object is not callable", line: 0)
        }
    }

    func applyFilterChain(_ chain: Expr, input: Value, _ frame: Frame) throws -> Value {
        guard case .filter(let inner, let name, let args, _) = chain else { return try eval(chain, frame) }
        let value = try inner.map { try applyFilterChain($0, input: input, frame) } ?? input
        let (a, k) = try evalArgs(args, frame)
        return try Filters.apply(name, value, a, k, self)
    }

    // MARK: Python protocols

    func iterate(_ v: Value) throws -> [Value] {
        switch v {
        case .list(let a), .tuple(let a): return a
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .dict(let d): return d.keys
        case .undefined: return []
        default: throw TemplateError.type(message: "'\(v.typeName)' object is not iterable", line: 0)
        }
    }

    func length(_ v: Value) throws -> Int {
        switch v {
        case .list(let a), .tuple(let a): return a.count
        case .string(let s): return s.unicodeScalars.count
        case .dict(let d): return d.count
        case .undefined: return 0
        case .loop(let l): return l.items.count
        default: throw TemplateError.type(message: "object of type '\(v.typeName)' has no len()", line: 0)
        }
    }
}

/// Finds names a macro body reads (`varargs`, `kwargs`, `caller`).
enum Scan {
    static func uses(_ body: [Stmt], _ name: String) -> Bool { body.contains { uses($0, name) } }

    static func uses(_ s: Stmt, _ name: String) -> Bool {
        switch s {
        case .text, .breakLoop, .continueLoop: return false
        case .output(let e, _): return uses(e, name)
        case .ifChain(let branches, let otherwise, _):
            return branches.contains { uses($0.0, name) || uses($0.1, name) } || uses(otherwise, name)
        case .forLoop(_, let iter, let filter, let body, let otherwise, _, _):
            return uses(iter, name) || (filter.map { uses($0, name) } ?? false) || uses(body, name) || uses(otherwise, name)
        case .set(_, let e, _): return uses(e, name)
        case .setBlock(_, let f, let body, _): return (f.map { uses($0, name) } ?? false) || uses(body, name)
        case .macro: return false
        case .callBlock(_, let defaults, let call, let body, _):
            return defaults.contains { uses($0, name) } || uses(call, name) || uses(body, name)
        case .filterBlock(let f, let body, _): return uses(f, name) || uses(body, name)
        case .with(let a, let body, _): return a.contains { uses($0.1, name) } || uses(body, name)
        case .scope(let body): return uses(body, name)
        }
    }

    static func uses(_ args: CallArgs, _ name: String) -> Bool {
        args.args.contains { uses($0, name) } || args.kwargs.contains { uses($0.1, name) }
            || (args.starArgs.map { uses($0, name) } ?? false) || (args.starKwargs.map { uses($0, name) } ?? false)
    }

    static func uses(_ e: Expr, _ name: String) -> Bool {
        switch e {
        case .literal: return false
        case .name(let n, _): return n == name
        case .list(let items), .tuple(let items): return items.contains { uses($0, name) }
        case .dict(let pairs): return pairs.contains { uses($0.0, name) || uses($0.1, name) }
        case .getattr(let o, _, _): return uses(o, name)
        case .getitem(let o, let k, _): return uses(o, name) || uses(k, name)
        case .slice(let o, let a, let b, let c, _):
            return uses(o, name) || [a, b, c].contains { $0.map { uses($0, name) } ?? false }
        case .call(let f, let args, _): return uses(f, name) || uses(args, name)
        case .filter(let i, _, let args, _): return (i.map { uses($0, name) } ?? false) || uses(args, name)
        case .test(let i, _, let args, _): return uses(i, name) || uses(args, name)
        case .neg(let x), .pos(let x), .not(let x): return uses(x, name)
        case .binary(_, let a, let b, _), .and(let a, let b), .or(let a, let b): return uses(a, name) || uses(b, name)
        case .compare(let a, let ops, _): return uses(a, name) || ops.contains { uses($0.1, name) }
        case .concat(let parts, _): return parts.contains { uses($0, name) }
        case .cond(let t, let a, let b): return uses(t, name) || uses(a, name) || (b.map { uses($0, name) } ?? false)
        }
    }
}
