import Testing
import MoEFormats

@Suite struct JSONTests {
    @Test func parsesValues() throws {
        let v = try JSONParser.parse(#"{"a": [1, -2.5, true, null, "x\u00e9\n\ud83d\ude00"], "b": {"c": 18446744073709551615}, "n": 9007199254740993}"#)
        #expect(v["a"]?.arrayValue?.count == 5)
        #expect(v["a"]?.arrayValue?[4].stringValue == "xé\n😀")
        #expect(v["n"] == .int(9007199254740993))
        // Too large for Int: kept as a double, never an exact integer.
        #expect(v["b"]?["c"]?.intValue == nil)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01x", "\"abc", "\"a\u{01}b\"", "{\"a\":1}{}",
        "{\"a\":1,\"a\":2}", "[1 2]", "tru", "\"\\x\"", "-", "1.", "1e",
    ])
    func rejectsInvalid(text: String) {
        #expect(throws: JSONError.self) { try JSONParser.parse(text) }
    }

    @Test func limitsDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONError.self) { try JSONParser.parse(deep) }
    }

    @Test func reportsOffset() {
        do {
            _ = try JSONParser.parse("{\"a\": tru}")
            Issue.record("no error")
        } catch let e as JSONError {
            #expect(e.offset == 6)
        } catch { Issue.record("\(error)") }
    }
}

@Suite struct JSONKeyTests {
    /// "é" (U+00E9) and "e" + U+0301 are different JSON keys: compared byte for byte.
    @Test func canonicallyEquivalentKeysAreDistinct() throws {
        let v = try JSONParser.parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}")
        #expect(v.objectMembers?.count == 2)
        #expect(v["\u{E9}"] == .int(1) && v["e\u{301}"] == .int(2))
        #expect(throws: JSONError.self) { try JSONParser.parse("{\"\u{E9}\": 1, \"\u{E9}\": 2}") }
    }
}
