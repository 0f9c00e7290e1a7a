// Recursive-descent parser following jinja2's grammar and operator precedence.

struct Parser {
    let tokens: [Token]
    var i = 0
    var depth = 0
    var tagStack: [String] = []
    var endTokenStack: [[String]] = []
    static let maxDepth = 200

    init(tokens: [Token]) { self.tokens = tokens }

    static func parse(_ source: String) throws -> [Stmt] {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        let body = try parser.subparse(endTokens: nil)
        return body
    }

    var current: Token { tokens[i] }
    func look(_ n: Int = 1) -> Token { tokens[min(i + n, tokens.count - 1)] }
    mutating func next() -> Token { let t = tokens[i]; if i < tokens.count - 1 { i += 1 }; return t }

    func fail(_ message: String, _ token: Token? = nil) -> TemplateError {
        let t = token ?? current
        return .syntax(message: message, line: t.line, column: t.column)
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .data: return "template data"
        case .variableBegin: return "begin of print statement"
        case .variableEnd: return "end of print statement"
        case .blockBegin: return "begin of statement block"
        case .blockEnd: return "end of statement block"
        case .name(let n): return n
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .op(let o): return o
        case .eof: return "end of template"
        }
    }

    func isName(_ name: String, _ t: Token? = nil) -> Bool {
        if case .name(let n) = (t ?? current).kind { return n == name }
        return false
    }

    func isOp(_ op: String, _ t: Token? = nil) -> Bool {
        if case .op(let o) = (t ?? current).kind { return o == op }
        return false
    }

    mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { _ = next(); return true }
        return false
    }

    mutating func skipName(_ name: String) -> Bool {
        if isName(name) { _ = next(); return true }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard isOp(op) else { throw fail("expected token '\(op)', got '\(describe(current))'") }
        _ = next()
    }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected token 'name', got '\(describe(current))'") }
        _ = next()
        return n
    }

    mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else { throw fail("expected token 'end of statement block', got '\(describe(current))'") }
        _ = next()
    }

    mutating func enter() throws {
        depth += 1
        if depth > Parser.maxDepth { throw fail("template nesting too deep (more than \(Parser.maxDepth) levels)") }
    }

    // MARK: statements

    mutating func subparse(endTokens: [String]?) throws -> [Stmt] {
        var body: [Stmt] = []
        if let endTokens { endTokenStack.append(endTokens) }
        defer { if endTokens != nil { endTokenStack.removeLast() } }
        while true {
            let t = current
            switch t.kind {
            case .eof:
                return body
            case .data(let d):
                body.append(.text(d))
                _ = next()
            case .variableBegin:
                _ = next()
                let e = try parseTuple(withCondexpr: true)
                body.append(.output(e, line: t.line))
                guard case .variableEnd = current.kind else { throw fail("expected token 'end of print statement', got '\(describe(current))'") }
                _ = next()
            case .blockBegin:
                _ = next()
                if let endTokens, case .name(let n) = current.kind, endTokens.contains(n) { return body }
                body.append(contentsOf: try parseStatement())
                try expectBlockEnd()
            default:
                throw fail("unexpected '\(describe(t))'")
            }
        }
    }

    mutating func parseStatements(_ endTokens: [String], dropNeedle: Bool) throws -> [Stmt] {
        _ = skipOp(":")
        try expectBlockEnd()
        try enter()
        defer { depth -= 1 }
        let body = try subparse(endTokens: endTokens)
        if case .eof = current.kind { throw failEOF(endTokens) }
        if dropNeedle { _ = next() }
        return body
    }

    func failEOF(_ endTokens: [String]) -> TemplateError {
        var expected: [String] = []
        for tokens in endTokenStack + [endTokens] {
            expected.append(tokens.map { "'\($0)'" }.joined(separator: " or "))
        }
        var message = "Unexpected end of template."
        if let last = expected.last { message += " Jinja was looking for the following tags: \(last)." }
        if let tag = tagStack.last { message += " The innermost block that needs to be closed is '\(tag)'." }
        return fail(message)
    }

    static let statementKeywords: Set<String> = ["for", "if", "set", "macro", "call", "filter", "with", "break", "continue", "generation", "print"]

    mutating func parseStatement() throws -> [Stmt] {
        let t = current
        guard case .name(let keyword) = t.kind else { throw fail("tag name expected") }
        guard Parser.statementKeywords.contains(keyword) || keyword == "autoescape" else {
            var message = "Encountered unknown tag '\(keyword)'."
            if let ends = endTokenStack.last {
                message += " Jinja was looking for the following tags: \(ends.map { "'\($0)'" }.joined(separator: " or "))."
                if let tag = tagStack.last { message += " The innermost block that needs to be closed is '\(tag)'." }
            }
            throw fail(message)
        }
        tagStack.append(keyword)
        defer { tagStack.removeLast() }
        _ = next()
        let line = t.line
        switch keyword {
        case "if":
            var branches: [(Expr, [Stmt])] = []
            var otherwise: [Stmt] = []
            while true {
                let test = try parseTuple(withCondexpr: false)
                let body = try parseStatements(["elif", "else", "endif"], dropNeedle: false)
                branches.append((test, body))
                let tok = next()
                if isName("elif", tok) { continue }
                if isName("else", tok) { otherwise = try parseStatements(["endif"], dropNeedle: true) }
                break
            }
            return [.ifChain(branches, otherwise: otherwise, line: line)]
        case "for":
            let target = try parseAssignTarget(extraEnd: ["in"], withNamespace: false)
            guard skipName("in") else { throw fail("expected token 'in', got '\(describe(current))'") }
            let iter = try parseTuple(withCondexpr: false, extraEnd: ["recursive"])
            var filter: Expr? = nil
            if skipName("if") { filter = try parseExpression() }
            let recursive = skipName("recursive")
            let body = try parseStatements(["endfor", "else"], dropNeedle: false)
            var otherwise: [Stmt] = []
            if !isName("endfor", next()) { otherwise = try parseStatements(["endfor"], dropNeedle: true) }
            return [.forLoop(target: target, iter: iter, filter: filter, body: body, otherwise: otherwise, recursive: recursive, line: line)]
        case "set":
            let target = try parseAssignTarget(extraEnd: nil, withNamespace: true)
            if skipOp("=") {
                return [.set(target, try parseTuple(withCondexpr: true), line: line)]
            }
            let filter = try parseFilterChain(nil, startInline: false)
            let body = try parseStatements(["endset"], dropNeedle: true)
            return [.setBlock(target, filter: filter, body: body, line: line)]
        case "macro":
            let name = try expectName()
            let (params, defaults) = try parseSignature()
            let body = try parseStatements(["endmacro"], dropNeedle: true)
            return [.macro(MacroDef(name: name, params: params, defaults: defaults, body: body), line: line)]
        case "call":
            var params: [String] = []
            var defaults: [Expr] = []
            if isOp("(") { (params, defaults) = try parseSignature() }
            let call = try parseExpression()
            guard case .call = call else { throw fail("expected call") }
            let body = try parseStatements(["endcall"], dropNeedle: true)
            return [.callBlock(params: params, defaults: defaults, call: call, body: body, line: line)]
        case "filter":
            guard let filter = try parseFilterChain(nil, startInline: true) else { throw fail("expected filter") }
            let body = try parseStatements(["endfilter"], dropNeedle: true)
            return [.filterBlock(filter, body: body, line: line)]
        case "with":
            var assignments: [(Target, Expr)] = []
            while true {
                if case .blockEnd = current.kind { break }
                if !assignments.isEmpty { try expectOp(",") }
                let target = try parseAssignTarget(extraEnd: nil, withNamespace: false)
                try expectOp("=")
                assignments.append((target, try parseExpression()))
            }
            let body = try parseStatements(["endwith"], dropNeedle: true)
            return [.with(assignments, body: body, line: line)]
        case "autoescape":
            _ = try parseExpression()
            let body = try parseStatements(["endautoescape"], dropNeedle: true)
            return [.scope(body)]
        case "break":
            return [.breakLoop(line: line)]
        case "continue":
            return [.continueLoop(line: line)]
        case "generation":
            // transformers' AssistantTracker extension: renders its body unchanged.
            let body = try parseStatements(["endgeneration"], dropNeedle: true)
            return body
        case "print":
            var items: [Expr] = []
            while true {
                if case .blockEnd = current.kind { break }
                if !items.isEmpty { try expectOp(",") }
                items.append(try parseExpression())
            }
            return items.map { .output($0, line: line) }
        default:
            throw fail("Encountered unknown tag '\(keyword)'.")
        }
    }

    mutating func parseSignature() throws -> ([String], [Expr]) {
        var params: [String] = []
        var defaults: [Expr] = []
        try expectOp("(")
        while !isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            let name = try expectName()
            if skipOp("=") {
                defaults.append(try parseExpression())
            } else if !defaults.isEmpty {
                throw fail("non-default argument follows default argument")
            }
            params.append(name)
        }
        try expectOp(")")
        return (params, defaults)
    }

    mutating func parseAssignTarget(extraEnd: [String]?, withNamespace: Bool) throws -> Target {
        var items: [Target] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(extraEnd) { break }
            let t = current
            guard case .name(let n) = t.kind else { throw fail("can't assign to '\(describe(t))'") }
            if ["true", "false", "none", "True", "False", "None"].contains(n) { throw fail("can't assign to 'const'") }
            _ = next()
            if withNamespace && isOp(".") {
                _ = next()
                items.append(.namespaceAttr(n, try expectName()))
            } else {
                items.append(.name(n))
            }
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple, let only = items.first { return only }
        if items.isEmpty { throw fail("Expected an expression, got '\(describe(current))'") }
        return .tuple(items)
    }

    func isTupleEnd(_ extraEnd: [String]?) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd: return true
        case .op(")"): return true
        case .name(let n): return extraEnd?.contains(n) ?? false
        default: return false
        }
    }

    // MARK: expressions

    mutating func parseTuple(withCondexpr: Bool, extraEnd: [String]? = nil, explicitParens: Bool = false) throws -> Expr {
        var args: [Expr] = []
        var isTuple = false
        while true {
            if !args.isEmpty { try expectOp(",") }
            if isTupleEnd(extraEnd) { break }
            args.append(withCondexpr ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let only = args.first { return only }
            if !explicitParens { throw fail("Expected an expression, got '\(describe(current))'") }
        }
        return .tuple(args)
    }

    mutating func parseExpression() throws -> Expr {
        try enter()
        defer { depth -= 1 }
        var expr = try parseOr()
        while skipName("if") {
            let test = try parseOr()
            var otherwise: Expr? = nil
            if skipName("else") { otherwise = try parseExpression() }
            expr = .cond(test: test, then: expr, otherwise: otherwise)
        }
        return expr
    }

    /// Operator chains build left-nested trees iteratively; each link counts toward the nesting limit so that
    /// evaluating (and freeing) the tree cannot overflow the stack.
    mutating func chain(_ links: inout Int) throws {
        links += 1
        try enter()
    }

    mutating func parseOr() throws -> Expr {
        var links = 0
        defer { depth -= links }
        var left = try parseAnd()
        while skipName("or") { try chain(&links); left = .or(left, try parseAnd()) }
        return left
    }

    mutating func parseAnd() throws -> Expr {
        var links = 0
        defer { depth -= links }
        var left = try parseNot()
        while skipName("and") { try chain(&links); left = .and(left, try parseNot()) }
        return left
    }

    mutating func parseNot() throws -> Expr {
        if isName("not") {
            _ = next()
            try enter()
            defer { depth -= 1 }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    static let compareOps: Set<String> = ["==", "!=", "<", "<=", ">", ">="]

    mutating func parseCompare() throws -> Expr {
        let line = current.line
        let expr = try parseMath1()
        var ops: [(String, Expr)] = []
        while true {
            if case .op(let o) = current.kind, Parser.compareOps.contains(o) {
                _ = next()
                ops.append((o, try parseMath1()))
            } else if skipName("in") {
                ops.append(("in", try parseMath1()))
            } else if isName("not") && isName("in", look()) {
                _ = next(); _ = next()
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? expr : .compare(expr, ops, line: line)
    }

    mutating func parseMath1() throws -> Expr {
        var links = 0
        defer { depth -= links }
        var left = try parseConcat()
        while case .op(let o) = current.kind, o == "+" || o == "-" {
            try chain(&links)
            let line = next().line
            left = .binary(o, left, try parseConcat(), line: line)
        }
        return left
    }

    mutating func parseConcat() throws -> Expr {
        let line = current.line
        var args = [try parseMath2()]
        while skipOp("~") { args.append(try parseMath2()) }
        return args.count == 1 ? args[0] : .concat(args, line: line)
    }

    mutating func parseMath2() throws -> Expr {
        var links = 0
        defer { depth -= links }
        var left = try parsePow()
        while case .op(let o) = current.kind, ["*", "/", "//", "%"].contains(o) {
            try chain(&links)
            let line = next().line
            left = .binary(o, left, try parsePow(), line: line)
        }
        return left
    }

    mutating func parsePow() throws -> Expr {
        var links = 0
        defer { depth -= links }
        var left = try parseUnary(withFilter: true)
        while isOp("**") {
            try chain(&links)
            let line = next().line
            left = .binary("**", left, try parseUnary(withFilter: true), line: line)
        }
        return left
    }

    mutating func parseUnary(withFilter: Bool) throws -> Expr {
        try enter()
        defer { depth -= 1 }
        var node: Expr
        if isOp("-") {
            _ = next()
            node = .neg(try parseUnary(withFilter: false))
        } else if isOp("+") {
            _ = next()
            node = .pos(try parseUnary(withFilter: false))
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    mutating func parsePrimary() throws -> Expr {
        let t = current
        switch t.kind {
        case .name(let n):
            _ = next()
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n, line: t.line)
            }
        case .string(let s):
            _ = next()
            var buf = s
            while case .string(let more) = current.kind { buf += more; _ = next() }
            return .literal(.string(buf))
        case .integer(let v):
            _ = next()
            return .literal(.int(v))
        case .float(let v):
            _ = next()
            return .literal(.double(v))
        case .op("("):
            _ = next()
            let e = try parseTuple(withCondexpr: true, explicitParens: true)
            try expectOp(")")
            return e
        case .op("["):
            _ = next()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return .list(items)
        case .op("{"):
            _ = next()
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
            }
            try expectOp("}")
            return .dict(pairs)
        default:
            throw fail("unexpected '\(describe(t))'")
        }
    }

    mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var links = 0
        defer { depth -= links }
        var node = start
        while true {
            if isOp(".") || isOp("[") || isOp("(") { try chain(&links) }
            if isOp(".") || isOp("[") {
                node = try parseSubscript(node)
            } else if isOp("(") {
                let line = current.line
                node = .call(node, try parseCallArgs(), line: line)
            } else {
                return node
            }
        }
    }

    mutating func parseFilterExpr(_ start: Expr) throws -> Expr {
        var links = 0
        defer { depth -= links }
        var node = start
        while true {
            if isOp("|") || isOp("(") || isName("is") { try chain(&links) }
            if isOp("|") {
                node = try parseFilterChain(node, startInline: false)!
            } else if isName("is") {
                node = try parseTest(node)
            } else if isOp("(") {
                let line = current.line
                node = .call(node, try parseCallArgs(), line: line)
            } else {
                return node
            }
        }
    }

    mutating func parseSubscript(_ node: Expr) throws -> Expr {
        let t = next()
        if isOp(".", t) {
            let attr = current
            _ = next()
            if case .name(let n) = attr.kind { return .getattr(node, n, line: t.line) }
            if case .integer(let v) = attr.kind { return .getitem(node, .literal(.int(v)), line: t.line) }
            throw fail("expected name or number", attr)
        }
        var args: [Expr] = []
        while !isOp("]") {
            if !args.isEmpty { try expectOp(",") }
            args.append(try parseSubscribed(node, line: t.line))
        }
        try expectOp("]")
        if args.count == 1 {
            if case .slice = args[0] { return args[0] }
            return .getitem(node, args[0], line: t.line)
        }
        return .getitem(node, .tuple(args), line: t.line)
    }

    mutating func parseSubscribed(_ node: Expr, line: Int) throws -> Expr {
        try enter()
        defer { depth -= 1 }
        var parts: [Expr?] = []
        if isOp(":") {
            _ = next()
            parts = [nil]
        } else {
            let e = try parseExpression()
            if !isOp(":") { return e }
            _ = next()
            parts = [e]
        }
        if isOp(":") {
            parts.append(nil)
        } else if !isOp("]") && !isOp(",") {
            parts.append(try parseExpression())
        } else {
            parts.append(nil)
        }
        if isOp(":") {
            _ = next()
            if !isOp("]") && !isOp(",") { parts.append(try parseExpression()) } else { parts.append(nil) }
        } else {
            parts.append(nil)
        }
        return .slice(node, parts[0], parts[1], parts[2], line: line)
    }

    mutating func parseCallArgs() throws -> CallArgs {
        try expectOp("(")
        var result = CallArgs()
        var requireComma = false
        while !isOp(")") {
            if requireComma {
                try expectOp(",")
                if isOp(")") { break }
            }
            if isOp("*") {
                _ = next()
                result.starArgs = try parseExpression()
            } else if isOp("**") {
                _ = next()
                result.starKwargs = try parseExpression()
            } else if case .name(let key) = current.kind, isOp("=", look()) {
                _ = next(); _ = next()
                result.kwargs.append((key, try parseExpression()))
            } else {
                if !result.kwargs.isEmpty || result.starArgs != nil || result.starKwargs != nil {
                    throw fail("invalid syntax for function call expression")
                }
                result.args.append(try parseExpression())
            }
            requireComma = true
        }
        try expectOp(")")
        return result
    }

    mutating func parseFilterChain(_ start: Expr?, startInline: Bool) throws -> Expr? {
        var links = 0
        defer { depth -= links }
        var node = start
        var inline = startInline
        while isOp("|") || inline {
            try chain(&links)
            if !inline { _ = next() }
            inline = false
            let t = current
            var name = try expectName()
            while isOp(".") { _ = next(); name += "." + (try expectName()) }
            guard Filters.names.contains(name) else {
                throw TemplateError.syntax(message: "No filter named '\(name)'.", line: t.line, column: t.column)
            }
            let args = isOp("(") ? try parseCallArgs() : CallArgs()
            node = .filter(node, name, args, line: t.line)
        }
        return node
    }

    mutating func parseTest(_ node: Expr) throws -> Expr {
        let isToken = next()
        let negated = skipName("not")
        let t = current
        var name = try expectName()
        while isOp(".") { _ = next(); name += "." + (try expectName()) }
        guard JinjaTests.names.contains(name) else {
            throw TemplateError.syntax(message: "No test named '\(name)'.", line: t.line, column: t.column)
        }
        var args = CallArgs()
        if isOp("(") {
            args = try parseCallArgs()
        } else {
            var startsArg = false
            switch current.kind {
            case .name(let n): startsArg = !["else", "or", "and"].contains(n)
            case .string, .integer, .float: startsArg = true
            case .op(let o): startsArg = o == "(" || o == "[" || o == "{"
            default: break
            }
            if startsArg {
                if isName("is") { throw fail("You cannot chain multiple tests with is") }
                args.args = [try parsePostfix(try parsePrimary())]
            }
        }
        let test = Expr.test(node, name, args, line: isToken.line)
        return negated ? .not(test) : test
    }
}
