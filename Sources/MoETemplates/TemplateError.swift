/// Errors thrown while compiling or rendering a chat template.
///
/// The cases follow the exception classes jinja2 raises, so a caller can tell a template that refused the input
/// (`raised`, from `raise_exception`) from a broken template or a bad value.
public enum TemplateError: Error, Equatable, CustomStringConvertible {
    /// The template does not parse (jinja2's TemplateSyntaxError), or names an unknown filter or test
    /// (TemplateAssertionError). Lines and columns are 1-based.
    case syntax(message: String, line: Int, column: Int)
    /// The template called `raise_exception(message)`.
    case raised(message: String)
    /// An undefined value was used in a way that needs a value (jinja2's UndefinedError).
    case undefined(message: String, line: Int)
    /// A Python-level type or value error (TypeError, ValueError, ZeroDivisionError, OverflowError, ...).
    case type(message: String, line: Int)
    /// The sandbox refused an operation (list.append, dict.update, underscore attributes on a namespace, ...).
    case security(message: String, line: Int)
    /// A resource limit was hit: render steps, output size, recursion depth, or range size.
    case limitExceeded(message: String, line: Int)

    public var message: String {
        switch self {
        case .syntax(let m, _, _), .raised(let m), .undefined(let m, _), .type(let m, _), .security(let m, _),
            .limitExceeded(let m, _):
            return m
        }
    }

    public var description: String {
        switch self {
        case .syntax(let m, let line, let column): return "syntax error at line \(line), column \(column): \(m)"
        case .raised(let m): return "template raised: \(m)"
        case .undefined(let m, let line): return "undefined value at line \(line): \(m)"
        case .type(let m, let line): return "type error at line \(line): \(m)"
        case .security(let m, let line): return "sandbox violation at line \(line): \(m)"
        case .limitExceeded(let m, let line): return "limit exceeded at line \(line): \(m)"
        }
    }

    /// The same error with `line` filled in, when it has none yet.
    func at(line: Int) -> TemplateError {
        switch self {
        case .undefined(let m, 0): return .undefined(message: m, line: line)
        case .type(let m, 0): return .type(message: m, line: line)
        case .security(let m, 0): return .security(message: m, line: line)
        case .limitExceeded(let m, 0): return .limitExceeded(message: m, line: line)
        default: return self
        }
    }
}
