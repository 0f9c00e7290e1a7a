import MoEFormats
import MoEModels
import MoETemplates
import MoETensor
import MoETokenizer

/// A model with what it takes to turn text into tokens and back: its tokenizer, chat template and
/// generation settings, from a Hugging Face directory (`tokenizer.json`, `tokenizer_config.json` or
/// `chat_template.jinja`, `generation_config.json`) or a GGUF file (`tokenizer.ggml.*`,
/// `tokenizer.chat_template`).
public final class ModelBundle: @unchecked Sendable {
    public let path: String
    public let model: TransformerModel
    public let tokenizer: Tokenizer?
    public let chatTemplate: ChatTemplate?
    /// Ids that end a generation: `eos_token_id` plus the end-of-turn control tokens of the
    /// vocabulary (`<|im_end|>`, `<|eot_id|>`, ...), as llama.cpp treats them.
    public let stopTokens: Set<Int32>
    /// `bos_token`, `eos_token` as the chat template sees them.
    public let specialTokens: [String: String]
    /// Why the tokenizer or chat template could not be built, if they were present but bad. A model
    /// still runs from token ids; these surface when text is asked for.
    public private(set) var tokenizerError: Error?
    public private(set) var templateError: Error?

    static let endOfTurnNames = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>",
                                 "<|return|>", "<|end▁of▁sentence|>", "<|user|>", "<|observation|>"]

    public init(path: String, model: TransformerModel, tokenizer: Tokenizer?, chatTemplate: ChatTemplate?,
                eosIds: [Int32], specialTokens: [String: String], tokenizerError: Error? = nil, templateError: Error? = nil) {
        self.tokenizerError = tokenizerError
        self.templateError = templateError
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.specialTokens = specialTokens
        var stops = Set(eosIds)
        if let tokenizer {
            for name in Self.endOfTurnNames {
                if let id = tokenizer.tokenToId(name), tokenizer.specialTokenIds.contains(id) { stops.insert(id) }
            }
        }
        stopTokens = stops
    }

    /// Runs `build`, keeping its error instead of throwing it.
    static func attempt<T>(_ build: () throws -> T?) -> (T?, Error?) {
        do { return (try build(), nil) } catch { return (nil, error) }
    }

    /// Loads a model directory or `.gguf` file with its tokenizer and template (both optional; a bad
    /// one is reported when text is asked for, not while loading).
    public static func load(_ path: String, pool: ThreadPool, activations: ActivationFormat = .q8) throws -> ModelBundle {
        if path.hasSuffix(".gguf") && fileExists(path) {
            let g = try GGUFFile(path: path)   // parsed once for the model and the tokenizer
            let model = try GGUFModel.load(gguf: g, pool: pool, activations: activations)
            let (tokenizer, tokenizerError) = attempt { try Tokenizer(gguf: g) }
            let (template, templateError) = attempt { try g["tokenizer.chat_template"]?.stringValue.map { try ChatTemplate(source: $0) } }
            var special: [String: String] = [:]
            var eos: [Int32] = []
            if let t = tokenizer {
                if let b = g["tokenizer.ggml.bos_token_id"]?.intValue, let s = t.idToToken(Int32(b)) { special["bos_token"] = s }
                if let e = g["tokenizer.ggml.eos_token_id"]?.intValue {
                    eos.append(Int32(e))
                    if let s = t.idToToken(Int32(e)) { special["eos_token"] = s }
                }
            }
            return ModelBundle(path: path, model: model, tokenizer: tokenizer, chatTemplate: template, eosIds: eos,
                               specialTokens: special, tokenizerError: tokenizerError, templateError: templateError)
        }
        let model = try loadModel(directory: path, pool: pool, activations: activations)
        let dir = path.hasSuffix("/") ? String(path.dropLast()) : path
        let (tokenizer, tokenizerError) = attempt {
            fileExists(dir + "/tokenizer.json") ? try Tokenizer(contentsOfFile: dir + "/tokenizer.json") : nil
        }
        var special: [String: String] = [:]
        let tokenizerConfig = fileExists(dir + "/tokenizer_config.json")
            ? try JSONParser.parse(try readFile(dir + "/tokenizer_config.json")) : nil
        if let cfg = tokenizerConfig {
            for key in ["bos_token", "eos_token", "unk_token", "pad_token"] {
                if let s = cfg[key]?.stringValue ?? cfg[key]?["content"]?.stringValue { special[key] = s }
            }
        }
        let (template, templateError) = attempt { () throws -> ChatTemplate? in
            if fileExists(dir + "/chat_template.jinja") {
                return try ChatTemplate(source: String(decoding: try readFile(dir + "/chat_template.jinja"), as: UTF8.self))
            }
            // A string, or a list of named templates of which "default" is used.
            guard let t = tokenizerConfig?["chat_template"] else { return nil }
            if let s = t.stringValue { return try ChatTemplate(source: s) }
            if let list = t.arrayValue, let d = list.first(where: { $0["name"]?.stringValue == "default" }) ?? list.first,
               let s = d["template"]?.stringValue {
                return try ChatTemplate(source: s)
            }
            return nil
        }
        var eos: [Int32] = []
        if fileExists(dir + "/generation_config.json") {
            let path = dir + "/generation_config.json"
            eos = try GenerationConfig(json: try JSONParser.parse(try readFile(path)), file: path).eosTokenIds
        }
        return ModelBundle(path: path, model: model, tokenizer: tokenizer, chatTemplate: template, eosIds: eos,
                           specialTokens: special, tokenizerError: tokenizerError, templateError: templateError)
    }

    /// The prompt text of a conversation, as the model's chat template renders it.
    public func renderChat(_ messages: [(role: String, content: String)], addGenerationPrompt: Bool = true) throws -> String {
        if let templateError { throw templateError }
        guard let chatTemplate else { throw ModelError.invalidInput("\(path): the model has no chat template") }
        let context = ChatTemplate.context(
            messages: messages.map { .object(TemplateObject([("role", .string($0.role)), ("content", .string($0.content))])) },
            addGenerationPrompt: addGenerationPrompt, specialTokens: specialTokens)
        return try chatTemplate.render(context)
    }

    public func requireTokenizer() throws -> Tokenizer {
        if let tokenizerError { throw tokenizerError }
        guard let tokenizer else { throw ModelError.invalidInput("\(path): no tokenizer (tokenizer.json or GGUF tokenizer metadata)") }
        return tokenizer
    }
}
