import Testing
import MoEFormats
import MoEModels
import MoERuntime

@Suite struct GenerationTests {
    @Test func readsGenerationConfig() throws {
        let path = Fixtures.path("llama") + "/generation_config.json"
        let g = try GenerationConfig(json: try JSONParser.parse(readFile(path)), file: path)
        let oracle = try JSONParser.parse(readFile(Fixtures.path("llama") + "/oracle.json"))
        #expect(g.eosTokenIds == [Int32(oracle["eos_token_id"]!.intValue!)])
        let list = try GenerationConfig(json: try JSONParser.parse(#"{"eos_token_id": [3, 7], "bos_token_id": 1}"#), file: "g")
        #expect(list.eosTokenIds == [3, 7] && list.bosTokenId == 1)
        #expect(throws: GenerationConfigError.self) {
            try GenerationConfig(json: try JSONParser.parse(#"{"eos_token_id": "x"}"#), file: "g")
        }
    }

    @Test func stopsAfterAnEndOfSequenceToken() throws {
        let oracle = try Oracle("qwen3")
        let model = try loadModel(directory: Fixtures.path("qwen3"), pool: Fixtures.pool)
        let stop = oracle.greedy[3]
        let cut = oracle.greedy.firstIndex(of: stop)!
        var options = GenerationOptions()
        options.maxTokens = 16
        options.stopTokens = [stop]
        let out = try Generator(model: model).generate(prompt: oracle.inputIds, options: options).tokens
        #expect(out == Array(oracle.greedy[...cut]))
    }

    @Test func samplingIsDeterministicForASeed() throws {
        let oracle = try Oracle("olmoe")
        let model = try loadModel(directory: Fixtures.path("olmoe"), pool: Fixtures.pool)
        var options = GenerationOptions()
        options.maxTokens = 12
        options.temperature = 1.5
        options.seed = 1234
        let g = Generator(model: model)
        let a = try g.generate(prompt: oracle.inputIds, options: options).tokens
        let b = try g.generate(prompt: oracle.inputIds, options: options).tokens
        #expect(a == b)
        options.seed = 99
        let c = try g.generate(prompt: oracle.inputIds, options: options).tokens
        #expect(a != c)
        // top-k 1 leaves only the argmax: sampling becomes greedy.
        options.topK = 1
        #expect(try g.generate(prompt: oracle.inputIds, options: options).tokens == Array(oracle.greedy[0..<12]))
    }

    @Test func samplerFiltersAsDocumented() {
        let logits: [Float] = [0, 5, 4, 1]
        #expect(Sampler.argmax(logits[...]) == 1)
        var s = Sampler(temperature: 1, topK: 2, seed: 7)
        for _ in 0..<200 { #expect([1, 2].contains(s.sample(logits[...]))) }
        // top-p small enough that only the most likely token survives.
        var p = Sampler(temperature: 1, topP: 0.5, seed: 7)
        for _ in 0..<200 { #expect(p.sample(logits[...]) == 1) }
    }
}
