/// jinja2's builtin tests (`x is defined`, `n is divisibleby 3`, ...).
enum JinjaTests {
    static let names: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter", "float",
        "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none",
        "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper", "==", "!=", "<", "<=",
        ">", ">=",
    ]

    static func apply(_ name: String, _ value: Value, _ args: [Value], _ kwargs: [(String, Value)], _ interp: Interpreter) throws -> Bool {
        func arg(_ i: Int, _ key: String) throws -> Value {
            if i < args.count { return args[i] }
            if let v = kwargs.first(where: { $0.0 == key })?.1 { return v }
            throw TemplateError.type(message: "test '\(name)' missing required argument '\(key)'", line: 0)
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean": if case .bool = value { return true }; return false
        case "true": if case .bool(true) = value { return true }; return false
        case "false": if case .bool(false) = value { return true }; return false
        case "integer": if case .int = value { return true }; return false
        case "float": if case .double = value { return true }; return false
        case "number":
            switch value { case .int, .double, .bool: return true; default: return false }
        case "string": if case .string = value { return true }; return false
        case "mapping": if case .dict = value { return true }; return false
        case "iterable":
            switch value { case .list, .tuple, .string, .dict, .undefined: return true; default: return false }
        case "sequence":
            switch value { case .list, .tuple, .string, .dict, .undefined: return true; default: return false }
        case "callable":
            switch value { case .callable: return true; case .loop(let l): return l.recurse != nil; default: return false }
        case "escaped": return false
        case "lower":
            let s = Py.str(value)
            let cased = s.unicodeScalars.filter(Methods.isCased)
            return !cased.isEmpty && cased.allSatisfy { !$0.properties.isUppercase }
        case "upper":
            let s = Py.str(value)
            let cased = s.unicodeScalars.filter(Methods.isCased)
            return !cased.isEmpty && cased.allSatisfy { !$0.properties.isLowercase }
        case "even", "odd":
            guard let n = Ops.num(value) else {
                if case .undefined(let u) = value { throw Ops.undefinedError(u) }
                throw TemplateError.type(message: "unsupported operand type(s) for %: '\(value.typeName)' and 'int'", line: 0)
            }
            let r = try Ops.numeric("%", n, .int(2))
            let isZero = Ops.equal(r, .int(0))
            return name == "even" ? isZero : !isZero
        case "divisibleby":
            let r = try Ops.binary("%", value, try arg(0, "num"), interp)
            return Ops.equal(r, .int(0))
        case "eq", "equalto", "==": return Ops.equal(value, try arg(0, "other"))
        case "ne", "!=": return !Ops.equal(value, try arg(0, "other"))
        case "lt", "lessthan", "<": return try Ops.compare("<", value, try arg(0, "other"))
        case "le", "<=": return try Ops.compare("<=", value, try arg(0, "other"))
        case "gt", "greaterthan", ">": return try Ops.compare(">", value, try arg(0, "other"))
        case "ge", ">=": return try Ops.compare(">=", value, try arg(0, "other"))
        case "in": return try Ops.contains(try arg(0, "seq"), value)
        case "sameas":
            let other = try arg(0, "other")
            switch (value, other) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.int(let a), .int(let b)): return a == b && (-5...256).contains(a)
            case (.namespace(let a), .namespace(let b)): return a === b
            case (.callable(let a), .callable(let b)): return a === b
            default: return false
            }
        case "filter": return Filters.names.contains(Py.str(value))
        case "test": return names.contains(Py.str(value))
        default:
            throw TemplateError.syntax(message: "No test named '\(name)'.", line: 0, column: 0)
        }
    }
}
