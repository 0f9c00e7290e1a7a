import MoEFormats

/// A second JSON reader, used only when `JSONParser` rejects a tokenizer.json for a duplicate key.
///
/// `JSONParser` detects duplicate keys with a `Set<String>`, and Swift compares strings by canonical equivalence:
/// a SentencePiece vocabulary holding both "é" (U+00E9) and "e\u{301}" is rejected although the keys differ byte
/// for byte. This reader keeps every member in order (later duplicates then overwrite earlier ones in the
/// vocabulary, as serde does for HF). It decodes strings exactly as `JSONParser` does.
struct LenientJSON {
    let p: UnsafeBufferPointer<UInt8>
    var i = 0

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { buf in
            var r = LenientJSON(p: buf)
            r.space()
            let v = try r.value(depth: 0)
            r.space()
            guard r.i == buf.count else { throw r.fail("unexpected data after the top-level value") }
            return v
        }
    }

    func fail(_ m: String) -> TokenizerError {
        .invalidJSON(file: "tokenizer.json", message: "invalid JSON at byte \(i): \(m)")
    }

    mutating func space() {
        while i < p.count, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ s: String, _ v: JSONValue) throws -> JSONValue {
        let b = Array(s.utf8)
        guard i + b.count <= p.count, Array(p[i..<(i + b.count)]) == b else { throw fail("invalid literal") }
        i += b.count
        return v
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 64 else { throw fail("nesting too deep") }
        guard i < p.count else { throw fail("unexpected end of input") }
        switch p[i] {
        case 0x7B:  // {
            i += 1
            var members: [(String, JSONValue)] = []
            space()
            if i < p.count, p[i] == 0x7D { i += 1; return .object(members) }
            while true {
                space()
                guard i < p.count, p[i] == 0x22 else { throw fail("expected a string key") }
                let k = try string()
                space()
                guard i < p.count, p[i] == 0x3A else { throw fail("expected ':'") }
                i += 1
                space()
                members.append((k, try value(depth: depth + 1)))
                space()
                guard i < p.count else { throw fail("unterminated object") }
                if p[i] == 0x2C { i += 1; continue }
                if p[i] == 0x7D { i += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        case 0x5B:  // [
            i += 1
            var items: [JSONValue] = []
            space()
            if i < p.count, p[i] == 0x5D { i += 1; return .array(items) }
            while true {
                space()
                items.append(try value(depth: depth + 1))
                space()
                guard i < p.count else { throw fail("unterminated array") }
                if p[i] == 0x2C { i += 1; continue }
                if p[i] == 0x5D { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case 0x22: return .string(try string())
        case 0x74: return try literal("true", .bool(true))
        case 0x66: return try literal("false", .bool(false))
        case 0x6E: return try literal("null", .null)
        default:
            let s = i
            while i < p.count, (0x30...0x39).contains(p[i]) || p[i] == 0x2D || p[i] == 0x2B || p[i] == 0x2E
                    || p[i] == 0x65 || p[i] == 0x45 {
                i += 1
            }
            let text = String(decoding: p[s..<i], as: UTF8.self)
            if let n = Int(text) { return .int(n) }
            if let d = Double(text) { return .double(d) }
            throw fail("invalid number")
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= p.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = p[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < p.count else { throw fail("unterminated string") }
            let c = p[i]
            if c == 0x22 { i += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c != 0x5C { out.append(c); i += 1; continue }
            i += 1
            guard i < p.count else { throw fail("unterminated escape") }
            let e = p[i]
            i += 1
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var v = try hex4()
                if (0xD800..<0xDC00).contains(v), i + 6 <= p.count, p[i] == 0x5C, p[i + 1] == 0x75 {
                    let save = i
                    i += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        i = save
                    }
                }
                appendUTF8(Unicode.Scalar(v)?.value ?? 0xFFFD, to: &out)
            default: throw fail("invalid escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
