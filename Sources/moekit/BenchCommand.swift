import ArgumentParser
import MoEAccounting
import MoEFormats
import MoEModels
import MoERuntime
import MoETensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt processing and decode speed, like llama-bench, with the weight bytes each token reads.")

    @Argument(help: "A model directory or .gguf file.")
    var model: String

    @Option(name: .customShort("p"), help: "Prompt tokens processed in one batch.")
    var prompt = 128

    @Option(name: .customShort("n"), help: "Tokens decoded one by one, from an empty context (as llama-bench's tg test) or after --depth.")
    var generate = 64

    @Option(name: [.customShort("d"), .long], help: "Tokens already in the context before each test (as llama-bench's -d): the prompt and the decoded tokens attend to them too. Not timed.")
    var depth = 0

    @Option(name: [.customShort("t"), .long], help: "Threads.")
    var threads = ThreadPool.processorCount

    @Option(name: [.customShort("r"), .long], help: "Repetitions (median and spread are reported).")
    var repetitions = 5

    @Flag(help: "Print per decoded token the measured costs next to the prediction from config.json (directories only).")
    var stats = false

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "How quantised, BF16 and FP8 weights are multiplied: q8 (int8 activations, integer dots, repacked matrices; bf16 activations for BF16/FP8), q8-mapped (no repacked copy) or f32.")
    var activations: ActivationFormat = .q8

    func run() throws {
        guard prompt >= 1, generate >= 1, repetitions >= 1, prompt <= 1 << 20, generate <= 1 << 20 else {
            throw ModelError.invalidInput("-p, -n and -r must be positive")
        }
        guard depth >= 0, depth <= 1 << 20 else { throw ModelError.invalidInput("--depth must be between 0 and 1048576") }
        let pool = try makePool(threads)
        let model = try loadModel(directory: self.model, pool: pool, activations: activations)
        let V = Int32(model.config.vocabSize)
        var rng = SplitMix64(seed: 1234)
        let promptIds = (0..<prompt).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(V)) }
        let depthIds = (0..<depth).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(V)) }
        // One context holding the depth tokens (untimed), cut back to them before each test.
        let depthState = model.makeState(capacity: depth + max(prompt, generate + 1))
        // In batches of 512 (llama-bench's), so the scratch is sized for a batch, not for the depth.
        for start in stride(from: 0, to: depth, by: 512) {
            _ = try model.forward(Array(depthIds[start..<min(depth, start + 512)]), state: depthState, logits: .last)
        }
        func context() -> InferenceState {
            depthState.cache.truncate(to: depth)
            depthState.counters = nil
            return depthState
        }
        let clock = ContinuousClock()
        var pp: [Double] = [], tg: [Double] = []
        var bytesPerToken = 0.0, cachePerToken = 0.0
        var rows: [TokenComparison] = []
        let predict = stats ? try predictor(for: model, directory: self.model) : nil
        let probe = TokenProbe(model: model)
        _ = try model.forward(Array(promptIds.prefix(8)), state: model.makeState())   // warm-up
        for rep in 0..<repetitions {
            let ppState = context()
            let t0 = clock.now
            _ = try model.forward(promptIds, state: ppState, logits: .last)
            let t1 = clock.now
            // Decode starts from an empty context (or the depth tokens), as llama-bench's tg test does.
            let state = context()
            let counters = rep == 0 ? KernelCounters() : nil
            state.counters = counters
            var totalBytes = 0, totalCache = 0
            var next = promptIds[0]
            let t2 = clock.now
            for _ in 0..<generate {
                counters?.reset()
                let logits = try model.forward([next], state: state, logits: .last)
                next = Int32(Sampler.argmax(logits[...]))
                if let counters {
                    totalBytes += counters.totalWeightBytes
                    totalCache += counters.cacheBytes
                    if let predict {
                        let m = probe.measure(counters, state: state, trace: nil)
                        rows.append(TokenComparison(measured: m, predicted: predict.predict(position: m.position)))
                    }
                }
            }
            let t3 = clock.now
            if rep == 0 {
                bytesPerToken = Double(totalBytes) / Double(generate)
                cachePerToken = Double(totalCache) / Double(generate)
            }
            pp.append(Double(prompt) / seconds(t1 - t0))
            tg.append(Double(generate) / seconds(t3 - t2))
        }
        let bandwidth = measureReadBandwidth(bytes: 512 << 20, passes: 3, pool: pool)
        let tgMedian = median(tg)
        let roofline = bytesPerToken * tgMedian / bandwidth
        // With the key/value cache the decoded tokens read as well (it grows with the context: -d).
        let rooflineWithCache = (bytesPerToken + cachePerToken) * tgMedian / bandwidth
        if json {
            func spread(_ xs: [Double]) -> JSONValue {
                .object([("median", .double(median(xs))), ("min", .double(xs.min()!)), ("max", .double(xs.max()!)),
                         ("stddev", .double(stddev(xs)))])
            }
            var o: [(String, JSONValue)] = [
                ("model", .string(self.model)), ("threads", .int(pool.threadCount)), ("n_prompt", .int(prompt)),
                ("n_gen", .int(generate)), ("n_depth", .int(depth)), ("repetitions", .int(repetitions)),
                ("pp_tokens_per_s", .double(median(pp))), ("tg_tokens_per_s", .double(tgMedian)),
                ("pp", spread(pp)), ("tg", spread(tg)),
                ("weight_bytes_per_token", .double(bytesPerToken)),
                ("bandwidth_bytes_per_s", .double(bandwidth)), ("roofline_share", .double(roofline)),
                ("cache_bytes_per_token", .double(cachePerToken)), ("roofline_share_with_cache", .double(rooflineWithCache)),
            ]
            if stats { o.append(("stats", MeasuredTable.json(rows))) }
            writeStdout(JSONValue.object(o).serialized() + "\n")
        } else {
            print("\(self.model): \(model.config.modelType), \(pool.threadCount) threads, \(repetitions) repetitions")
            let at = depth > 0 ? " @ d\(depth)" : ""
            print("prompt processing pp\(prompt)\(at): \(format(median(pp))) tok/s (min \(format(pp.min()!)), max \(format(pp.max()!)))")
            print("decode tg\(generate)\(at): \(format(tgMedian)) tok/s (min \(format(tg.min()!)), max \(format(tg.max()!)))")
            print("weights read per decoded token: \(humanBytes(Int(bytesPerToken))); at \(format(bandwidth / 1e9)) GB/s measured read bandwidth that is \(format(100 * roofline))% of the roofline")
            print("key/value cache read per decoded token: \(humanBytes(Int(cachePerToken))); with the weights, \(format(100 * rooflineWithCache))% of the bandwidth")
            if stats { print(MeasuredTable.text(rows, routedExperts: model.routedExpertCount)) }
        }
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func stddev(_ xs: [Double]) -> Double {
    let m = xs.reduce(0, +) / Double(xs.count)
    return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count)).squareRoot()
}
