import Testing
import MoEModels
import MoERuntime
import MoETensor

/// Each architecture against transformers (f32, eager attention) on tiny random models. The exact
/// comparisons run with f32 activations (`.f32`); the default format, which rounds activations to
/// bf16 for BF16 and FP8 weights, is checked against the same reference in its own test below.
@Suite struct ParityTests {
    @Test(arguments: Fixtures.names)
    func logitsMatchTransformers(name: String) throws {
        let oracle = try Oracle(name)
        let model = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool, activations: .f32)
        #expect(model.config.modelType == oracle.modelType)
        let V = model.config.vocabSize
        let logits = try model.forward(oracle.inputIds, state: model.makeState(), logits: .all)
        #expect(logits.count == oracle.inputIds.count * V)
        for (p, ref) in oracle.logits.enumerated() {
            let scale = ref.map(abs).max()!
            let d = maxAbsDiff(logits[(p * V)..<((p + 1) * V)], ref)
            #expect(d <= 1e-4 * scale, "\(name) position \(p): max |Δlogit| \(d), largest logit \(scale)")
        }
    }

    @Test(arguments: Fixtures.names)
    func greedyTokensAndExpertsMatchTransformers(name: String) throws {
        let oracle = try Oracle(name)
        let model = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool, activations: .f32)
        #expect(model.moeLayerIndices == oracle.moeLayers)
        var options = GenerationOptions()
        options.maxTokens = oracle.greedy.count
        options.prefillChunk = 5   // chunked prefill must not change anything
        let trace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
        let result = try Generator(model: model).generate(prompt: oracle.inputIds, options: options, trace: trace)
        #expect(result.tokens == oracle.greedy, "\(name)")
        #expect(trace.experts.count == oracle.experts.count)
        for (l, layer) in oracle.experts.enumerated() {
            #expect(trace.experts[l].count == layer.count, "\(name) layer \(l): positions")
            for (p, ids) in layer.enumerated() where p < trace.experts[l].count {
                #expect(trace.experts[l][p] == ids, "\(name) moe layer \(l) position \(p): \(trace.experts[l][p]) vs \(ids)")
            }
        }
    }

    /// DSA: the positions each query attends (the indexer's top-k, reused by "shared" layers) are
    /// those transformers chose, over a full pass of prompt + greedy tokens.
    @Test(arguments: ["glm_moe_dsa", "glm_moe_dsa_fp8", "deepseek_v32"])
    func sparseAttentionChoicesMatchTransformers(name: String) throws {
        let oracle = try Oracle(name)
        let expected = try #require(oracle.indexerTopK)
        let model = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool, activations: .f32)
        let trace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
        _ = try model.forward(oracle.inputIds + oracle.greedy, state: model.makeState(), logits: .last, trace: trace)
        #expect(trace.sparseAttention.count == expected.count)
        for (l, positions) in expected.enumerated() {
            #expect(trace.sparseAttention[l] == positions, "\(name) layer \(l)")
        }
        // ...and token by token through the cache, the same choices.
        let stepTrace = ExpertTrace(moeLayers: model.moeLayerIndices.count)
        let state = model.makeState()
        for t in oracle.inputIds + oracle.greedy { _ = try model.forward([t], state: state, trace: stepTrace) }
        for (l, positions) in expected.enumerated() { #expect(stepTrace.sparseAttention[l] == positions) }
    }

    /// The default activation format on the fixtures with BF16 or FP8 weights: activations rounded
    /// to bf16 (relative error ≤ 2^-9 per value) before each BF16/FP8 product. Against the f32
    /// transformers reference the logits stay within 2% of the largest logit (measured 0.4-1.1% on
    /// these five), and the top token agrees wherever the reference's lead is twice that bound.
    @Test(arguments: ["qwen2", "qwen2_moe", "deepseek_v3_noq", "deepseek_v3_fp8", "glm_moe_dsa_fp8"])
    func bf16ActivationsStayCloseToTransformers(name: String) throws {
        let oracle = try Oracle(name)
        let model = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool)
        let V = model.config.vocabSize
        let logits = try model.forward(oracle.inputIds, state: model.makeState(), logits: .all)
        let exact = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool, activations: .f32)
        let exactLogits = try exact.forward(oracle.inputIds, state: exact.makeState(), logits: .all)
        #expect(logits != exactLogits, "\(name): the default format should differ from f32 here")
        var worst: Float = 0
        for (p, ref) in oracle.logits.enumerated() {
            let scale = ref.map(abs).max()!
            let row = logits[(p * V)..<((p + 1) * V)]
            let d = maxAbsDiff(row, ref)
            worst = max(worst, d / scale)
            #expect(d <= 2e-2 * scale, "\(name) position \(p): max |Δlogit| \(d), largest logit \(scale)")
            let sorted = ref.sorted(by: >)
            if sorted[0] - sorted[1] > 2 * 2e-2 * scale {
                #expect(row.indices.max(by: { row[$0] < row[$1] })! - p * V == ref.indices.max(by: { ref[$0] < ref[$1] })!, "\(name) position \(p)")
            }
        }
        #expect(worst > 0)
    }

    /// MLA caches the compressed latent, not expanded keys and values: per position and layer
    /// kv_lora_rank + qk_rope_head_dim floats (f32 here), plus the indexer key on DSA layers with
    /// their own indexer.
    @Test func mlaCacheHoldsTheLatent() throws {
        for name in ["deepseek_v3", "deepseek_v3_noq", "glm_moe_dsa"] {
            let model = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool)
            let m = try #require(model.config.mla)
            let ownIndexers = model.layers.filter { if case .mla(let a) = $0.attention { return a.indexer != nil } else { return false } }.count
            let state = model.makeState()
            _ = try model.forward([1, 2, 3], state: state)
            #expect(state.cache.bytesPerPosition ==
                    model.layers.count * (m.kvLoraRank + m.ropeDim) * 4 + ownIndexers * (model.config.dsa?.headDim ?? 0) * 4, "\(name)")
        }
    }

    @Test(arguments: Fixtures.names)
    func cachedDecodeEqualsFullForward(name: String) throws {
        let oracle = try Oracle(name)
        let model = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool)
        let seq = oracle.inputIds + oracle.greedy
        let V = model.config.vocabSize
        let full = try model.forward(seq, state: model.makeState(), logits: .all)
        let state = model.makeState(capacity: 1)   // forces the cache to grow on the way
        for (p, t) in seq.enumerated() {
            let step = try model.forward([t], state: state, logits: .last)
            let ref = Array(full[(p * V)..<((p + 1) * V)])
            let scale = ref.map(abs).max()!
            #expect(maxAbsDiff(step[...], ref) <= 1e-5 * scale, "\(name) position \(p)")
        }
        #expect(state.position == seq.count)
    }

    @Test func routingIsNotTrivial() throws {
        for name in Fixtures.names {
            let oracle = try Oracle(name)
            guard !oracle.experts.isEmpty else { continue }
            let used = Set(oracle.experts.flatMap { $0.flatMap { $0 } })
            #expect(used.count >= 6, "\(name): only experts \(used.sorted()) used")
            let minMargin = oracle.expertMargins.flatMap { $0 }.min() ?? 0
            #expect(minMargin >= 1e-3, "\(name): routing decided by a margin of \(minMargin)")
        }
    }
}

/// Decoding token by token through the cache gives the logits of one batch pass: decode splits each
/// key/value head's positions into chunks (two threads, so past 64 positions) and combines their
/// partial softmaxes, while a batch pass takes each token's positions whole; and the head-major
/// cache grows from 16 positions while decoding. f32 activations, so only float summation order
/// differs.
@Suite struct DecodeMatchesBatchTests {
    @Test(arguments: ["qwen3", "llama", "qwen3_moe"])
    func chunkedDecodeAttentionMatchesBatch(name: String) throws {
        let model = try loadModel(directory: Fixtures.path(name), pool: Fixtures.pool, activations: .f32)
        let V = model.config.vocabSize, P = 200, prefill = 30
        #expect(model.config.heads > model.config.kvHeads, "\(name) should group query heads (GQA)")
        var rng = SplitMix64(seed: 17)
        let tokens = (0..<P).map { _ in Int32(rng.next() % UInt64(V)) }
        let batch = try model.forward(tokens, state: model.makeState(), logits: .all)
        // A small cache, so it grows (head by head) while decoding.
        let state = model.makeState(capacity: 16)
        var stepped = try model.forward(Array(tokens.prefix(prefill)), state: state, logits: .all)
        for t in tokens[prefill...] { stepped += try model.forward([t], state: state) }
        #expect(stepped.count == batch.count)
        let scale = batch.map(abs).max()!
        var worst: Float = 0
        for i in batch.indices { worst = max(worst, abs(batch[i] - stepped[i])) }
        #expect(worst <= 1e-4 * scale, "\(name): largest |Δlogit| \(worst) (logits up to \(scale))")
    }
}

