import Foundation
import Testing

@testable import MoETemplates

/// Reference data written by scripts/templates/render_oracle.py (transformers' own renderer over jinja2).
enum Oracle {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    static func load(_ name: String) -> TemplateObject {
        let url = directory.appendingPathComponent("Oracle").appendingPathComponent(name)
        guard let text = try? String(contentsOf: url, encoding: .utf8),
              case .object(let root) = try? TemplateValue(json: text) else { return TemplateObject() }
        return root
    }

    static func template(_ name: String) throws -> String {
        let url = directory.appendingPathComponent("Templates").appendingPathComponent(name + ".jinja")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The instant the oracle pinned strftime_now to: 2026-03-07 09:05:03 local time.
    static var fixedNow: Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        return calendar.date(from: DateComponents(year: 2026, month: 3, day: 7, hour: 9, minute: 5, second: 3))!
    }

    struct Expectation: Sendable {
        var output: String?
        var errorType: String?
        var errorMessage: String?

        init(_ record: TemplateObject) {
            output = record["expected"]?.stringValue
            if case .object(let e)? = record["error"] {
                errorType = e["type"]?.stringValue
                errorMessage = e["message"]?.stringValue
            }
        }
    }

    /// Whether a Swift error corresponds to the Python exception class the oracle saw.
    static func matches(_ error: TemplateError, pythonType: String) -> Bool {
        switch (error, pythonType) {
        case (.raised, "TemplateError"): return true
        case (.undefined, "UndefinedError"): return true
        case (.security, "SecurityError"): return true
        case (.syntax, "TemplateSyntaxError"), (.syntax, "TemplateAssertionError"): return true
        case (.limitExceeded, "OverflowError"), (.limitExceeded, "RecursionError"): return true
        case (.type, "TypeError"), (.type, "ValueError"), (.type, "ZeroDivisionError"), (.type, "TemplateRuntimeError"),
            (.type, "OverflowError"), (.type, "KeyError"), (.type, "IndexError"):
            return true
        default: return false
        }
    }

    static func check(_ produce: () throws -> String, _ expectation: Expectation, _ label: String) {
        do {
            let output = try produce()
            if let expected = expectation.output {
                #expect(output == expected, "\(label): output differs")
                if output != expected { reportFirstDifference(output, expected, label) }
            } else {
                Issue.record("\(label): rendered \(output.debugDescription) but jinja2 raised \(expectation.errorType ?? "?"): \(expectation.errorMessage ?? "")")
            }
        } catch let error as TemplateError {
            if let type = expectation.errorType {
                #expect(matches(error, pythonType: type), "\(label): got \(error), jinja2 raised \(type): \(expectation.errorMessage ?? "")")
                if case .raised(let message) = error {
                    #expect(message == expectation.errorMessage, "\(label): raise_exception message differs")
                }
            } else {
                Issue.record("\(label): threw \(error) but jinja2 rendered \(expectation.output?.debugDescription ?? "")")
            }
        } catch {
            Issue.record("\(label): unexpected error \(error)")
        }
    }

    static func reportFirstDifference(_ got: String, _ want: String, _ label: String) {
        let a = Array(got.unicodeScalars), b = Array(want.unicodeScalars)
        var i = 0
        while i < a.count, i < b.count, a[i] == b[i] { i += 1 }
        let from = max(0, i - 40)
        let gotContext = String(String.UnicodeScalarView(a[from..<min(a.count, i + 40)]))
        let wantContext = String(String.UnicodeScalarView(b[from..<min(b.count, i + 40)]))
        Issue.record("\(label): first difference at scalar \(i)\n  got:  \(gotContext.debugDescription)\n  want: \(wantContext.debugDescription)")
    }
}

struct RenderCase: Sendable, CustomTestStringConvertible {
    let template: String
    let conversation: String
    let specialTokens: [String: String]
    let inputs: TemplateObject
    let expectation: Oracle.Expectation
    var testDescription: String { "\(template) / \(conversation)" }

    static let all: [RenderCase] = {
        guard case .array(let records)? = Oracle.load("renders.json")["renders"] else { return [] }
        return records.compactMap { record in
            guard case .object(let r) = record, case .object(let inputs)? = r["inputs"] else { return nil }
            var tokens: [String: String] = [:]
            if case .object(let t)? = r["special_tokens"] { for (k, v) in t { tokens[k] = v.stringValue } }
            return RenderCase(template: r["template"]?.stringValue ?? "", conversation: r["conversation"]?.stringValue ?? "",
                              specialTokens: tokens, inputs: inputs, expectation: Oracle.Expectation(r))
        }
    }()

    func context() -> [String: TemplateValue] {
        var extra: [String: TemplateValue] = [:]
        for (k, v) in inputs where !["messages", "tools", "documents", "add_generation_prompt"].contains(k) { extra[k] = v }
        func list(_ key: String) -> [TemplateValue]? {
            if case .array(let a)? = inputs[key] { return a }
            return nil
        }
        return ChatTemplate.context(messages: list("messages") ?? [], tools: list("tools"), documents: list("documents"),
                                    addGenerationPrompt: inputs["add_generation_prompt"] == .bool(true),
                                    specialTokens: specialTokens, extra: extra)
    }
}

struct SnippetCase: Sendable, CustomTestStringConvertible {
    let name: String
    let template: String
    let context: [String: TemplateValue]
    let expectation: Oracle.Expectation
    var testDescription: String { name }

    static let all: [SnippetCase] = {
        guard case .array(let records)? = Oracle.load("snippets.json")["snippets"] else { return [] }
        return records.compactMap { record in
            guard case .object(let r) = record else { return nil }
            var context: [String: TemplateValue] = [:]
            if case .object(let c)? = r["context"] { for (k, v) in c { context[k] = v } }
            return SnippetCase(name: r["name"]?.stringValue ?? "", template: r["template"]?.stringValue ?? "",
                               context: context, expectation: Oracle.Expectation(r))
        }
    }()

    /// Snippets whose jinja2 output this interpreter knowingly does not reproduce, and why.
    static let knownDifferences: [String: String] = [
        "lit_numbers": "Python integers are unbounded; 2**70 overflows Int64 and raises instead",
        "tojson_basic": "a 30-digit integer literal does not fit Int64",
        "is_string_of_markup": "Markup (|safe, |escape results) is a plain string here, so Markup + str does not escape",
        "dict_methods": "dict.items()/keys() return lists, printed as [...] instead of dict_items([...])",
        "range_limits": "range() returns a list, printed as [0, 1, 2] instead of range(0, 3)",
    ]
}

@Suite("Templates render byte-identically to transformers + jinja2")
struct TemplateOracleTests {
    @Test("oracle data present")
    func oracleLoaded() {
        #expect(RenderCase.all.count >= 100)
        #expect(SnippetCase.all.count >= 100)
    }

    @Test("chat template render", arguments: RenderCase.all)
    func render(_ c: RenderCase) throws {
        let source = try Oracle.template(c.template)
        let template = try ChatTemplate(source: source)
        Oracle.check({ try template.render(c.context(), now: Oracle.fixedNow) }, c.expectation, c.testDescription)
    }

    @Test("jinja2 snippet", arguments: SnippetCase.all)
    func snippet(_ c: SnippetCase) {
        let run = {
            Oracle.check({ try ChatTemplate(source: c.template).render(c.context, now: Oracle.fixedNow) }, c.expectation, c.name)
        }
        if let reason = SnippetCase.knownDifferences[c.name] {
            withKnownIssue(Comment(rawValue: reason)) { run() }
        } else {
            run()
        }
    }
}
