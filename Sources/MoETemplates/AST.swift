// Syntax tree of a template. Value types only, so a compiled template is Sendable.

enum Literal: Sendable {
    case none, bool(Bool), int(Int), double(Double), string(String)
}

struct CallArgs: Sendable {
    var args: [Expr] = []
    var kwargs: [(String, Expr)] = []
    var starArgs: Expr? = nil
    var starKwargs: Expr? = nil
}

indirect enum Expr: Sendable {
    case literal(Literal)
    case name(String, line: Int)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)])
    case getattr(Expr, String, line: Int)
    case getitem(Expr, Expr, line: Int)
    case slice(Expr, Expr?, Expr?, Expr?, line: Int)
    case call(Expr, CallArgs, line: Int)
    /// A filter applied to the expression; `nil` input means a filter block's body.
    case filter(Expr?, String, CallArgs, line: Int)
    case test(Expr, String, CallArgs, line: Int)
    case neg(Expr), pos(Expr), not(Expr)
    case binary(String, Expr, Expr, line: Int)
    case and(Expr, Expr), or(Expr, Expr)
    case compare(Expr, [(String, Expr)], line: Int)
    case concat([Expr], line: Int)
    case cond(test: Expr, then: Expr, otherwise: Expr?)
}

indirect enum Target: Sendable {
    case name(String)
    case tuple([Target])
    case namespaceAttr(String, String)
}

struct MacroDef: Sendable {
    var name: String
    var params: [String]
    var defaults: [Expr]  // for the last defaults.count params
    var body: [Stmt]
}

indirect enum Stmt: Sendable {
    case text(String)
    case output(Expr, line: Int)
    case ifChain([(Expr, [Stmt])], otherwise: [Stmt], line: Int)
    case forLoop(target: Target, iter: Expr, filter: Expr?, body: [Stmt], otherwise: [Stmt], recursive: Bool, line: Int)
    case set(Target, Expr, line: Int)
    case setBlock(Target, filter: Expr?, body: [Stmt], line: Int)
    case macro(MacroDef, line: Int)
    case callBlock(params: [String], defaults: [Expr], call: Expr, body: [Stmt], line: Int)
    case filterBlock(Expr, body: [Stmt], line: Int)
    case with([(Target, Expr)], body: [Stmt], line: Int)
    case breakLoop(line: Int), continueLoop(line: Int)
    case scope([Stmt])
}
