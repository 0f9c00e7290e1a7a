import Foundation

/// A compiled Hugging Face chat template.
///
/// Rendering matches Python jinja2 configured as transformers configures it for `apply_chat_template`:
/// an immutable sandboxed environment with `trim_blocks`, `lstrip_blocks`, the loop-controls extension,
/// transformers' `tojson` (`json.dumps` with `ensure_ascii=False`), `raise_exception` and `strftime_now`.
///
/// ```swift
/// let template = try ChatTemplate(source: jinjaText)
/// let prompt = try template.render(ChatTemplate.context(
///     messages: [["role": "user", "content": "Hi"]], addGenerationPrompt: true,
///     specialTokens: ["eos_token": "<|im_end|>"]))
/// ```
public struct ChatTemplate: Sendable {
    public let source: String
    let body: [Stmt]

    /// Parses the template; throws `TemplateError.syntax` with the line and column of the problem.
    public init(source: String) throws {
        self.source = source
        self.body = try Parser.parse(source)
    }

    /// Renders with the given top-level variables.
    /// - Parameters:
    ///   - now: the clock `strftime_now` reads (local time zone).
    ///   - limits: budgets that stop hostile templates with `TemplateError.limitExceeded`.
    public func render(_ context: [String: TemplateValue], now: Date = Date(), limits: RenderLimits = RenderLimits()) throws -> String {
        let body = self.body
        return try ChatTemplate.onLargeStack {
            let interpreter = Interpreter(context: context, limits: limits, now: { now })
            return try interpreter.render(body)
        }
    }

    /// Rendering recurses (nested blocks, macro calls); the depth limits keep that bounded, and running on a thread
    /// with a known stack keeps the bound safe whatever thread the caller is on (secondary threads can have 512 KiB).
    static let renderStackSize = 16 << 20

    final class ResultBox: @unchecked Sendable {
        var result: Result<String, Error> = .failure(TemplateError.limitExceeded(message: "render thread did not run", line: 0))
    }

    static func onLargeStack(_ work: @escaping @Sendable () throws -> String) throws -> String {
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = Result { try work() }
            done.signal()
        }
        thread.stackSize = renderStackSize
        thread.start()
        done.wait()
        return try box.result.get()
    }

    /// Builds the variables `tokenizer.apply_chat_template` passes to a template.
    ///
    /// Like transformers, it drops message keys whose value is `null`, copies a message's reasoning
    /// (`reasoning_content`, `thinking` or `reasoning`) to both `reasoning_content` and `thinking`, and lets
    /// `extra` override the special tokens. `tools` and `documents` are passed as `none` when nil.
    public static func context(
        messages: [TemplateValue],
        tools: [TemplateValue]? = nil,
        documents: [TemplateValue]? = nil,
        addGenerationPrompt: Bool = false,
        specialTokens: [String: String] = [:],
        extra: [String: TemplateValue] = [:]
    ) -> [String: TemplateValue] {
        var context: [String: TemplateValue] = [:]
        for (k, v) in specialTokens { context[k] = .string(v) }
        for (k, v) in extra { context[k] = v }
        context["messages"] = .array(messages.map(normalizeMessage))
        context["tools"] = tools.map { .array($0) } ?? .null
        context["documents"] = documents.map { .array($0) } ?? .null
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        return context
    }

    static let reasoningFields = ["reasoning_content", "thinking", "reasoning"]

    static func normalizeMessage(_ message: TemplateValue) -> TemplateValue {
        guard case .object(let object) = message else { return message }
        var cleaned = TemplateObject()
        for (k, v) in object where v != .null { cleaned[k] = v }
        guard let reasoning = reasoningFields.lazy.compactMap({ cleaned[$0] }).first else { return .object(cleaned) }
        // {"thinking": r, **message, "reasoning_content": r}
        var aliased = TemplateObject()
        aliased["thinking"] = reasoning
        for (k, v) in cleaned { aliased[k] = v }
        aliased["reasoning_content"] = reasoning
        return .object(aliased)
    }
}
