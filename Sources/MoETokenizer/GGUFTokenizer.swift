import MoEFormats

extension Tokenizer {
    /// The tokenizer a GGUF file carries in its `tokenizer.ggml.*` metadata.
    public convenience init(gguf g: GGUFFile) throws {
        func strings(_ key: String) throws -> [String]? {
            guard let v = g[key] else { return nil }
            guard let a = v.arrayValue else { throw TokenizerError.invalidValue(key: key, message: "expected an array of strings") }
            return try a.map {
                guard let s = $0.stringValue else { throw TokenizerError.invalidValue(key: key, message: "expected an array of strings") }
                return s
            }
        }
        func id(_ key: String) throws -> Int32? {
            guard let v = g[key] else { return nil }
            guard let i = v.intValue, i >= 0, i <= Int(Int32.max) else {
                throw TokenizerError.invalidValue(key: key, message: "expected a token id")
            }
            return Int32(i)
        }
        guard let modelName = g["tokenizer.ggml.model"]?.stringValue else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.model", message: "missing: the file carries no tokenizer")
        }
        guard let model = TokenizerVocabulary.Model(rawValue: modelName) else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.model", message: "'\(modelName)' is not supported (gpt2, llama are)")
        }
        guard let tokens = try strings("tokenizer.ggml.tokens") else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.tokens", message: "missing")
        }
        let types = try g["tokenizer.ggml.token_type"].map { v -> [Int32] in
            guard let a = v.arrayValue else { throw TokenizerError.invalidValue(key: "tokenizer.ggml.token_type", message: "expected an array") }
            return try a.map {
                guard let i = $0.intValue, let t = Int32(exactly: i) else {
                    throw TokenizerError.invalidValue(key: "tokenizer.ggml.token_type", message: "expected integers")
                }
                return t
            }
        }
        let scores = try g["tokenizer.ggml.scores"].map { v -> [Float] in
            guard let a = v.arrayValue else { throw TokenizerError.invalidValue(key: "tokenizer.ggml.scores", message: "expected an array") }
            return try a.map {
                guard let d = $0.doubleValue else { throw TokenizerError.invalidValue(key: "tokenizer.ggml.scores", message: "expected numbers") }
                return Float(d)
            }
        }
        let vocabulary = TokenizerVocabulary(
            model: model, tokens: tokens, tokenTypes: types, scores: scores, merges: try strings("tokenizer.ggml.merges"),
            preTokenizer: g["tokenizer.ggml.pre"]?.stringValue,
            bosTokenId: try id("tokenizer.ggml.bos_token_id"), eosTokenId: try id("tokenizer.ggml.eos_token_id"),
            unknownTokenId: try id("tokenizer.ggml.unknown_token_id"), paddingTokenId: try id("tokenizer.ggml.padding_token_id"),
            addBOS: g["tokenizer.ggml.add_bos_token"]?.boolValue, addEOS: g["tokenizer.ggml.add_eos_token"]?.boolValue,
            addSpacePrefix: g["tokenizer.ggml.add_space_prefix"]?.boolValue)
        try self.init(vocabulary: vocabulary)
    }
}
