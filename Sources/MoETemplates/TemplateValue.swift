/// A JSON-like value passed into a chat template: messages, tools, documents, flags and special tokens.
///
/// Objects keep their keys in insertion order, because templates iterate over them (`tool.parameters.properties.items()`)
/// and `tojson` prints them in that order, exactly as Python dicts do.
public enum TemplateValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    case object(TemplateObject)
}

/// An insertion-ordered string-keyed map.
public struct TemplateObject: Sendable, Equatable, Sequence {
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    public init() {}

    public init(_ pairs: [(String, TemplateValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Setting a value keeps the position of an existing key (like a Python dict); setting `nil` removes the key.
    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func makeIterator() -> AnyIterator<(key: String, value: TemplateValue)> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            let key = keys[index]
            return (key, storage[key]!)
        }
    }

    public static func == (lhs: TemplateObject, rhs: TemplateObject) -> Bool {
        lhs.keys == rhs.keys && lhs.storage == rhs.storage
    }
}

extension TemplateValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .object(TemplateObject(elements)) }
}

extension TemplateValue {
    /// The object's value for `key`, or nil when this is not an object or has no such key.
    public subscript(key: String) -> TemplateValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Parses JSON, keeping object key order and telling integers (`1`) from floats (`1.0`, `1e3`) as Python's
    /// `json.loads` does. Integers that do not fit in `Int` become doubles.
    public init(json: String) throws {
        var parser = JSONReader(scalars: Array(json.unicodeScalars))
        self = try parser.parseDocument()
    }

    /// Serializes like Python's `json.dumps(value, ensure_ascii=False)` (separators `", "` and `": "`).
    public var jsonString: String {
        var out = ""
        PyJSON.dump(MoETemplates.Value(self), into: &out, options: PyJSON.Options(), level: 0)
        return out
    }
}

/// Errors of `TemplateValue(json:)`.
public struct TemplateJSONError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { "invalid JSON at offset \(offset): \(message)" }
}

struct JSONReader {
    let scalars: [Unicode.Scalar]
    var pos = 0
    var depth = 0

    init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    mutating func parseDocument() throws -> TemplateValue {
        let value = try parseValue()
        skipWhitespace()
        guard pos == scalars.count else { throw fail("trailing characters") }
        return value
    }

    func fail(_ message: String) -> TemplateJSONError { TemplateJSONError(message: message, offset: pos) }

    mutating func skipWhitespace() {
        while pos < scalars.count, [" ", "\n", "\r", "\t"].contains(scalars[pos]) { pos += 1 }
    }

    mutating func expectWord(_ word: String) throws {
        for scalar in word.unicodeScalars {
            guard pos < scalars.count, scalars[pos] == scalar else { throw fail("expected \(word)") }
            pos += 1
        }
    }

    mutating func parseValue() throws -> TemplateValue {
        skipWhitespace()
        guard pos < scalars.count else { throw fail("unexpected end") }
        switch scalars[pos] {
        case "{":
            depth += 1
            guard depth < 256 else { throw fail("nesting too deep") }
            defer { depth -= 1 }
            pos += 1
            var object = TemplateObject()
            skipWhitespace()
            if pos < scalars.count, scalars[pos] == "}" { pos += 1; return .object(object) }
            while true {
                skipWhitespace()
                guard pos < scalars.count, scalars[pos] == "\"" else { throw fail("expected key") }
                let key = try parseString()
                skipWhitespace()
                guard pos < scalars.count, scalars[pos] == ":" else { throw fail("expected ':'") }
                pos += 1
                object[key] = try parseValue()
                skipWhitespace()
                guard pos < scalars.count else { throw fail("unexpected end") }
                if scalars[pos] == "," { pos += 1; continue }
                if scalars[pos] == "}" { pos += 1; return .object(object) }
                throw fail("expected ',' or '}'")
            }
        case "[":
            depth += 1
            guard depth < 256 else { throw fail("nesting too deep") }
            defer { depth -= 1 }
            pos += 1
            var items: [TemplateValue] = []
            skipWhitespace()
            if pos < scalars.count, scalars[pos] == "]" { pos += 1; return .array(items) }
            while true {
                items.append(try parseValue())
                skipWhitespace()
                guard pos < scalars.count else { throw fail("unexpected end") }
                if scalars[pos] == "," { pos += 1; continue }
                if scalars[pos] == "]" { pos += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case "\"":
            return .string(try parseString())
        case "t": try expectWord("true"); return .bool(true)
        case "f": try expectWord("false"); return .bool(false)
        case "n": try expectWord("null"); return .null
        case "N": try expectWord("NaN"); return .double(.nan)
        case "I": try expectWord("Infinity"); return .double(.infinity)
        default:
            return try parseNumber()
        }
    }

    mutating func parseNumber() throws -> TemplateValue {
        let start = pos
        if pos < scalars.count, scalars[pos] == "-" {
            pos += 1
            if pos < scalars.count, scalars[pos] == "I" { try expectWord("Infinity"); return .double(-.infinity) }
        }
        var isFloat = false
        while pos < scalars.count {
            let c = scalars[pos]
            if ("0"..."9").contains(c) { pos += 1 }
            else if c == "." || c == "e" || c == "E" || c == "+" || c == "-" { isFloat = true; pos += 1 }
            else { break }
        }
        let text = String(String.UnicodeScalarView(scalars[start..<pos]))
        guard !text.isEmpty, text != "-" else { throw fail("unexpected character") }
        if !isFloat, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw fail("bad number \(text)") }
        return .double(d)
    }

    mutating func parseString() throws -> String {
        pos += 1  // opening quote
        var out = String.UnicodeScalarView()
        while true {
            guard pos < scalars.count else { throw fail("unterminated string") }
            let c = scalars[pos]
            pos += 1
            if c == "\"" { return String(out) }
            if c != "\\" { out.append(c); continue }
            guard pos < scalars.count else { throw fail("unterminated escape") }
            let e = scalars[pos]
            pos += 1
            switch e {
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "/": out.append("/")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "u":
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), pos + 1 < scalars.count, scalars[pos] == "\\", scalars[pos + 1] == "u" {
                    let save = pos
                    pos += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                    }
                }
                // Lone surrogates cannot live in a Swift String; they become U+FFFD.
                out.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default:
                throw fail("bad escape")
            }
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= scalars.count else { throw fail("bad \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Int(String(scalars[pos]), radix: 16) else { throw fail("bad \\u escape") }
            value = value * 16 + UInt32(digit)
            pos += 1
        }
        return value
    }
}
