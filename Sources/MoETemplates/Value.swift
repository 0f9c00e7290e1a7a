// Runtime values of the interpreter, modelled on the Python objects jinja2 works with.

/// Why a value is undefined, which decides the error raised when the undefined value is used.
struct UndefinedInfo {
    enum Kind {
        /// A variable that does not exist: `'name' is undefined`.
        case name(String)
        /// A missing attribute or item: `'dict object' has no attribute 'x'`.
        case attribute(owner: String, attribute: String)
        /// An attribute the sandbox refuses: calling it raises a security error.
        case unsafe(owner: String, attribute: String)
        /// `a if c` without else, a missing macro argument.
        case plain
    }
    var kind: Kind

    var message: String {
        switch kind {
        case .name(let n): return "'\(n)' is undefined"
        case .attribute(let owner, let attr): return "'\(owner)' has no attribute '\(attr)'"
        case .unsafe(let owner, let attr): return "access to attribute '\(attr)' of '\(owner)' object is unsafe."
        case .plain: return "undefined value"
        }
    }
}

final class Namespace {
    var dict: PyDict
    init(_ dict: PyDict) { self.dict = dict }
}

/// The `loop` variable of a for loop.
final class LoopContext {
    let items: [Value]
    var index0 = 0
    let depth0: Int
    let recurse: ((Value) throws -> Value)?
    var lastChanged: [Value]? = nil
    init(items: [Value], depth0: Int, recurse: ((Value) throws -> Value)?) {
        self.items = items
        self.depth0 = depth0
        self.recurse = recurse
    }
}

/// Anything callable from a template: macros, `caller`, globals and bound methods.
final class Callable {
    let name: String
    let isMacro: Bool
    let argumentNames: [String]
    let body: (_ args: [Value], _ kwargs: [(String, Value)]) throws -> Value
    init(name: String, isMacro: Bool = false, argumentNames: [String] = [],
         body: @escaping (_ args: [Value], _ kwargs: [(String, Value)]) throws -> Value) {
        self.name = name
        self.isMacro = isMacro
        self.argumentNames = argumentNames
        self.body = body
    }
}

indirect enum Value {
    case undefined(UndefinedInfo)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case tuple([Value])
    case dict(PyDict)
    case namespace(Namespace)
    case callable(Callable)
    case loop(LoopContext)

    static var undefinedPlain: Value { .undefined(UndefinedInfo(kind: .plain)) }

    init(_ t: TemplateValue) {
        switch t {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(a.map(Value.init))
        case .object(let o):
            var d = PyDict()
            for (k, v) in o { d[.string(k)] = Value(v) }
            self = .dict(d)
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true }; return false }
    var isNone: Bool { if case .none = self { return true }; return false }

    /// Python's type name, used in error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "TemplateNamespace"
        case .callable(let c): return c.isMacro ? "Macro" : "function"
        case .loop: return "LoopContext"
        }
    }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .callable, .loop: return true
        }
    }
}

/// Hash key with Python's equality of dict keys: `1`, `1.0` and `True` are the same key.
enum HashKey: Hashable {
    case none
    case int(Int)
    case double(UInt64)
    case string(String)
    case tuple([HashKey])
    case identity(ObjectIdentifier)

    init(_ v: Value) throws {
        switch v {
        case .none: self = .none
        case .bool(let b): self = .int(b ? 1 : 0)
        case .int(let i): self = .int(i)
        case .double(let d):
            if d.rounded() == d, abs(d) < 9.2e18 { self = .int(Int(d)) } else { self = .double(d.bitPattern) }
        case .string(let s): self = .string(s)
        case .tuple(let items): self = .tuple(try items.map(HashKey.init))
        case .namespace(let n): self = .identity(ObjectIdentifier(n))
        case .callable(let c): self = .identity(ObjectIdentifier(c))
        case .loop(let l): self = .identity(ObjectIdentifier(l))
        case .undefined: throw TemplateError.type(message: "unhashable type: 'Undefined'", line: 0)
        case .list, .dict: throw TemplateError.type(message: "unhashable type: '\(v.typeName)'", line: 0)
        }
    }
}

/// An insertion-ordered dict with Python key semantics.
struct PyDict {
    private(set) var keys: [Value] = []
    private(set) var values: [Value] = []
    private var index: [HashKey: Int] = [:]

    var count: Int { keys.count }

    subscript(key: Value) -> Value? {
        get { (try? HashKey(key)).flatMap { index[$0] }.map { values[$0] } }
        set {
            guard let h = try? HashKey(key) else { return }
            if let i = index[h] {
                if let newValue { values[i] = newValue } else { remove(at: i) }
            } else if let newValue {
                index[h] = keys.count
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    mutating func set(_ key: Value, _ value: Value) throws {
        let h = try HashKey(key)
        if let i = index[h] { values[i] = value } else {
            index[h] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    func lookup(_ key: Value) throws -> Value? {
        let h = try HashKey(key)
        return index[h].map { values[$0] }
    }

    private mutating func remove(at i: Int) {
        keys.remove(at: i)
        values.remove(at: i)
        index = [:]
        for (j, k) in keys.enumerated() { index[try! HashKey(k)] = j }
    }

    subscript(string key: String) -> Value? { self[.string(key)] }

    var pairs: [(Value, Value)] { Array(zip(keys, values)) }
}
