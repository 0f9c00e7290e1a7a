import Foundation
import Testing
import TestSupport

@testable import MoETemplates

@Suite("Chat template API")
struct ChatTemplateAPITests {
    @Test("context() follows apply_chat_template: null keys dropped, reasoning aliased, tokens passed")
    func contextNormalization() throws {
        let messages: [TemplateValue] = [
            ["role": "user", "content": "hi", "name": nil],
            ["role": "assistant", "content": "ok", "reasoning": "because"],
        ]
        let context = ChatTemplate.context(messages: messages, addGenerationPrompt: true,
                                           specialTokens: ["eos_token": "</s>", "bos_token": "<s>"],
                                           extra: ["bos_token": "[B]", "enable_thinking": false])
        #expect(context["eos_token"] == "</s>")
        #expect(context["bos_token"] == "[B]", "extra overrides special tokens")
        #expect(context["tools"] == .null)
        #expect(context["documents"] == .null)
        #expect(context["add_generation_prompt"] == true)
        guard case .array(let normalized)? = context["messages"], case .object(let first) = normalized[0],
              case .object(let second) = normalized[1] else {
            Issue.record("messages missing")
            return
        }
        #expect(first.keys == ["role", "content"])
        #expect(second.keys == ["thinking", "role", "content", "reasoning", "reasoning_content"])
        #expect(second["thinking"] == "because")
        #expect(second["reasoning_content"] == "because")
    }

    @Test("renders a template with the context helper")
    func renderWithContext() throws {
        let template = try ChatTemplate(source: "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}")
        let out = try template.render(ChatTemplate.context(messages: [["role": "user", "content": "Grüße"]],
                                                           addGenerationPrompt: true, specialTokens: ["bos_token": "<s>"]))
        #expect(out == "<s><user>Grüße<assistant>")
    }

    @Test("JSON reader keeps key order and int/float distinction; writer matches json.dumps")
    func jsonRoundTrip() throws {
        let value = try TemplateValue(json: #"{"z": 1, "a": [1.0, 2, -0.5e-7, true, null], "é": "\u00e9\ud83d\ude00\n"}"#)
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.keys == ["z", "a", "é"])
        #expect(value["a"] == [.double(1.0), .int(2), .double(-0.5e-7), true, nil])
        #expect(value.jsonString == #"{"z": 1, "a": [1.0, 2, -5e-08, true, null], "é": "é😀\n"}"#)
        #expect(throws: TemplateJSONError.self) { try TemplateValue(json: "{\"a\": }") }
        #expect(throws: TemplateJSONError.self) { try TemplateValue(json: String(repeating: "[", count: 10_000)) }
    }

    @Test("syntax errors carry line and column")
    func syntaxErrorPosition() {
        do {
            _ = try ChatTemplate(source: "line one\n{% if x %}\n  {{ 1 + }}\n{% endif %}")
            Issue.record("expected a syntax error")
        } catch let TemplateError.syntax(message, line, column) {
            #expect(line == 3)
            #expect(column == 10)
            #expect(message.contains("end of print statement"))
        } catch {
            Issue.record("unexpected \(error)")
        }
        do {
            _ = try ChatTemplate(source: "{% for x in y %}\n{% endif %}")
            Issue.record("expected a syntax error")
        } catch let TemplateError.syntax(message, line, _) {
            #expect(line == 2)
            #expect(message == "Encountered unknown tag 'endif'. Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'.")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: TemplateError.self) { try ChatTemplate(source: "{{ x | nosuchfilter }}") }
        #expect(throws: TemplateError.self) { try ChatTemplate(source: "{{ x is nosuchtest }}") }
        #expect(throws: TemplateError.self) { try ChatTemplate(source: "{# never closed") }
    }

    @Test("raise_exception surfaces the template's message")
    func raiseException() throws {
        let template = try ChatTemplate(source: "{% if messages|length == 0 %}{{ raise_exception('No messages: ' ~ messages|length) }}{% endif %}ok")
        #expect(throws: TemplateError.raised(message: "No messages: 0")) { try template.render(["messages": []]) }
        #expect(try template.render(["messages": [["role": "user"]]]) == "ok")
    }

    @Test("runtime errors report the line of the failing statement")
    func runtimeErrorLine() throws {
        let template = try ChatTemplate(source: "a\nb\n{{ missing.attr }}")
        do {
            _ = try template.render([:])
            Issue.record("expected an error")
        } catch let TemplateError.undefined(message, line) {
            #expect(message == "'missing' is undefined")
            #expect(line == 3)
        }
    }

    @Test("strftime_now uses the given clock")
    func strftime() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let date = calendar.date(from: DateComponents(year: 2024, month: 12, day: 31, hour: 23, minute: 59, second: 58))!
        let template = try ChatTemplate(source: "{{ strftime_now('%Y-%m-%d %H:%M:%S %a %b %-d %j %I%p') }}")
        #expect(try template.render([:], now: date) == "2024-12-31 23:59:58 Tue Dec 31 366 11PM")
    }

    @Test("the sandbox refuses mutation like ImmutableSandboxedEnvironment")
    func sandbox() throws {
        let append = try ChatTemplate(source: "{% set xs = [] %}{% set _ = xs.append(1) %}")
        #expect(throws: TemplateError.security(message: "access to attribute 'append' of 'list' object is unsafe.", line: 1)) {
            try append.render([:])
        }
        let underscore = try ChatTemplate(source: "{% set ns = namespace() %}{% set ns._private = 1 %}")
        #expect { try underscore.render([:]) } throws: { error in
            if case TemplateError.security = error { return true }
            return false
        }
    }
}

@Suite("Hostile templates end in errors, quickly")
struct HostileTemplateTests {
    func expectLimit(_ source: String, limits: RenderLimits = RenderLimits(), context: [String: TemplateValue] = [:],
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let start = Date()
        do {
            let template = try ChatTemplate(source: source)
            let out = try template.render(context, limits: limits)
            Issue.record("rendered \(out.utf8.count) bytes instead of failing", sourceLocation: sourceLocation)
        } catch let error as TemplateError {
            switch error {
            case .limitExceeded, .syntax: break
            default: Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
        #expect(Date().timeIntervalSince(start) < 20 * sanitizerSlowdown, "took too long", sourceLocation: sourceLocation)
    }

    @Test("nested huge loops hit the step budget")
    func hugeLoops() {
        expectLimit("{% for i in range(100000) %}{% for j in range(100000) %}{{ i * j }}{% endfor %}{% endfor %}")
    }

    @Test("ranges above the sandbox cap are refused")
    func hugeRange() {
        expectLimit("{{ range(1000000000)|length }}")
        expectLimit("{% for i in range(0, 10**12, 3) %}{% endfor %}")
    }

    @Test("unbounded macro recursion hits the call-depth limit")
    func macroRecursion() {
        expectLimit("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}")
        expectLimit("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}")
    }

    @Test("recursive loops over themselves hit the call-depth limit")
    func recursiveLoop() {
        expectLimit("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}")
    }

    @Test("deeply nested statements and expressions are syntax errors, not stack overflows")
    func deepNesting() {
        expectLimit(String(repeating: "{% if true %}", count: 5000) + "x" + String(repeating: "{% endif %}", count: 5000))
        expectLimit("{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}")
        expectLimit("{{ " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + " }}")
        expectLimit("{{ " + String(repeating: "not ", count: 50000) + "x }}")
        expectLimit("{{ " + String(repeating: "-", count: 50000) + "1 }}")
        expectLimit("{{ x" + String(repeating: "|upper", count: 50000) + " }}")
        expectLimit("{{ 1" + String(repeating: " + 1", count: 50000) + " }}")
        expectLimit("{{ x" + String(repeating: ".a", count: 50000) + " }}")
        expectLimit("{{ {'a': " + String(repeating: "{'a': ", count: 3000) + "1" + String(repeating: "}", count: 3001) + " }}")
    }

    @Test("values wrapped in themselves are refused before they get deep")
    func deepValues() {
        expectLimit("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x|length }}")
        expectLimit(String(repeating: "{% set x = [x] %}", count: 20000) + "{{ x|length }}")
        expectLimit("{% set ns = namespace(x=none) %}{% for i in range(100000) %}{% set ns.x = namespace(inner=ns.x) %}{% endfor %}")
    }

    @Test("huge output hits the output limit")
    func hugeOutput() {
        expectLimit("{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}")
        expectLimit("{{ 'x' * 10**12 }}")
        expectLimit("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
        expectLimit("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}")
        expectLimit("{% set ns = namespace(s=[1]) %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}")
        expectLimit("{{ 'x'.center(10**12) }}")
        expectLimit("{{ '{:>1000000000000}'.format(1) }}")
        expectLimit("{{ '%1000000000000s' % 1 }}")
        expectLimit("{{ 'x'|indent(10**12, true) }}")
        expectLimit("{% set ns = namespace(s='abcdefgh') %}{% for i in range(30) %}{% set ns.s = ns.s.replace('', ns.s) %}{% endfor %}")
    }

    @Test("templates just inside the depth limits still render (no stack overflow at the limit)")
    func atTheLimits() throws {
        let nested = String(repeating: "{% if true %}", count: 180) + "{{ ((1 + 2) * 3)|string }}" + String(repeating: "{% endif %}", count: 180)
        #expect(try ChatTemplate(source: nested).render([:]) == "9")
        let recursion = "{% macro r(n) %}{% if n > 0 %}({{ r(n - 1) }}){% endif %}{% endmacro %}{{ r(60) }}"
        #expect(try ChatTemplate(source: recursion).render([:]) == String(repeating: "(", count: 60) + String(repeating: ")", count: 60))
        let loops = "{% for a in [[[1]]] recursive %}{% if a is iterable %}{{ loop(a) }}{% else %}{{ a }}{% endif %}{% endfor %}"
        #expect(try ChatTemplate(source: loops).render([:]) == "1")
    }

    @Test("a tight step budget stops even cheap loops")
    func tightBudget() {
        expectLimit("{% for i in range(1000) %}{{ i }}{% endfor %}", limits: RenderLimits(maxSteps: 500))
    }

    @Test("realistic templates stay far below the default limits")
    func realisticWithinLimits() throws {
        let source = try Oracle.template("gpt-oss-20b")
        let template = try ChatTemplate(source: source)
        var messages: [TemplateValue] = []
        for i in 0..<200 {
            messages.append(["role": "user", "content": .string("question \(i)")])
            messages.append(["role": "assistant", "content": .string("answer \(i)")])
        }
        let out = try template.render(ChatTemplate.context(messages: messages, addGenerationPrompt: true))
        #expect(out.hasSuffix("<|start|>assistant"))
    }
}

/// A server renders a template per request, so a render must leave nothing alive: a frame that holds
/// a macro whose closure captured that frame (or a `caller` block, a recursive loop, a namespace
/// that holds itself) is a reference cycle, and every render would leak it with the messages in it.
@Suite("A render keeps nothing alive")
struct TemplateCycleTests {
    static let sources = [
        "macro": "{% macro m(x) %}[{{ x }}]{% endmacro %}{{ m(messages[0].content) }}",
        "caller": "{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}{{ messages[0].content }}{% endcall %}",
        "recursive loop": "{% for i in items recursive %}{{ i.n }}{% if i.c %}({{ loop(i.c) }}){% endif %}{% endfor %}",
        "macro in a namespace": "{% set ns = namespace() %}{% macro m() %}x{% endmacro %}{% set ns.m = m %}{{ ns.m() }}",
    ]
    static let expected = ["macro": "[hi]", "caller": "<hi>", "recursive loop": "1(2(3))", "macro in a namespace": "x"]

    static func context() -> [String: TemplateValue] {
        ["messages": [["role": "user", "content": "hi"]],
         "items": [["n": 1, "c": [["n": 2, "c": [["n": 3]]]]]]]
    }

    @Test("frames captured by macros, caller blocks and recursive loops are freed", arguments: Array(sources.keys).sorted())
    func framesFreed(_ name: String) throws {
        weak var root: Frame?
        let out: String = try {
            let frame = Frame(parent: nil)
            root = frame
            let interpreter = Interpreter(context: Self.context(), limits: RenderLimits(), now: { Date() })
            return try interpreter.render(try Parser.parse(Self.sources[name]!), root: frame)
        }()
        #expect(out == Self.expected[name])
        #expect(root == nil, "the render's top frame outlived it (\(name))")
    }

    @Test("a namespace (or cycler) that holds itself is freed", arguments: [
        ("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns.me.a }}", "1"),
        ("{% set ns = cycler(1, 2) %}{% set ns.me = ns %}{{ ns.me.next() }}{{ ns.next() }}", "12"),
    ])
    func namespaceFreed(_ source: String, _ expected: String) throws {
        weak var held: Namespace?
        let out: String = try {
            let frame = Frame(parent: nil)
            let interpreter = Interpreter(context: [:], limits: RenderLimits(), now: { Date() })
            let out = try interpreter.render(try Parser.parse(source), root: frame)
            if case .namespace(let n)? = frame.vars["ns"] { held = n }
            return out
        }()
        #expect(out == expected)
        #expect(held == nil, "the namespace outlived the render")
    }

    /// `loop.changed(loop)` makes the loop remember itself (and its items, the messages).
    @Test("a loop that loop.changed made remember itself is freed")
    func changedLoopFreed() throws {
        weak var held: LoopContext?
        let interpreter = Interpreter(context: [:], limits: RenderLimits(), now: { Date() })
        try {
            let loop = LoopContext(items: [.string("hi")], depth0: 0, recurse: nil)
            held = loop
            guard case .callable(let changed)? = Access.loopAttribute(loop, "changed", interpreter) else {
                Issue.record("loop.changed is not callable")
                return
            }
            guard case .bool(true) = try changed.body([.loop(loop)], []) else { Issue.record("first call not true"); return }
            _ = try interpreter.render(try Parser.parse("{{ 1 }}"))
        }()
        #expect(held == nil, "the loop outlived the render")
    }

    @Test("an error mid-render frees them too")
    func freedOnError() throws {
        weak var root: Frame?
        #expect(throws: TemplateError.self) {
            let frame = Frame(parent: nil)
            root = frame
            let interpreter = Interpreter(context: [:], limits: RenderLimits(), now: { Date() })
            _ = try interpreter.render(try Parser.parse("{% macro m() %}{% endmacro %}{{ raise_exception('no') }}"), root: frame)
        }
        #expect(root == nil)
    }
}
