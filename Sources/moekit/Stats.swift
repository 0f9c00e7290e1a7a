import MoEAccounting
import MoEModels
import MoERuntime
import MoETensor

/// Builds one decoded token's measurement: what the kernels reported, the KV cache, the experts
/// fired, resident memory (RSS) and the resident share of the mapped weights (mincore).
struct TokenProbe {
    let files: [MappedFile]
    let mappedBytes: Int

    init(model: TransformerModel) {
        files = model.mappedFiles()
        mappedBytes = files.reduce(0) { $0 + $1.size }
    }

    func measure(_ counters: KernelCounters, state: InferenceState, trace: ExpertTrace?) -> TokenMeasurement {
        let pos = state.position - 1
        var m = TokenMeasurement(position: pos, counters: counters, kvBytes: state.cache.length * state.cache.bytesPerPosition,
                                 experts: trace?.experts.map { $0.indices.contains(pos) ? $0[pos] : [] } ?? [])
        m.residentBytes = residentMemoryBytes()
        m.mappedBytes = mappedBytes
        m.mappedResidentBytes = files.reduce(0) { $0 + $1.residentBytes() }
        return m
    }
}

/// The cost model of a model directory, for measured-versus-predicted rows.
func predictor(for model: TransformerModel, directory: String) throws -> EnginePredictor {
    guard !directory.hasSuffix(".gguf") else { throw ModelError.invalidInput("--stats needs a model directory with config.json") }
    let config = try ConfigReader(path: directory + "/config.json")
    return EnginePredictor(inventory: try Inventories.build(config), matrixElementBytes: model.lmHead.dtype.size,
                           fp8Block: try config.fp8BlockSize())
}

/// Runs a generation with the kernels reporting, and returns measured-versus-predicted rows for
/// every decoded token (the CLI's `--stats`).
func generateWithStats(model: TransformerModel, configPath: String, prompt: [Int32], options: GenerationOptions,
                       trace: ExpertTrace) throws -> (GenerationResult, [TokenComparison]) {
    let dir = String(configPath.dropLast("/config.json".count))
    let predict = try predictor(for: model, directory: dir)
    let counters = KernelCounters()
    let probe = TokenProbe(model: model)
    var rows: [TokenComparison] = []
    let result = try Generator(model: model).generate(prompt: prompt, options: options, trace: trace, counters: counters) { state in
        let m = probe.measure(counters, state: state, trace: trace)
        rows.append(TokenComparison(measured: m, predicted: predict.predict(position: m.position)))
    }
    return (result, rows)
}
