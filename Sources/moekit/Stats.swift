import MoEAccounting
import MoEModels
import MoERuntime
import MoETensor

/// Runs a generation with the kernels reporting, and returns measured-versus-predicted rows for
/// every decoded token (the CLI's `--stats`).
func generateWithStats(model: TransformerModel, configPath: String, prompt: [Int32], options: GenerationOptions,
                       trace: ExpertTrace) throws -> (GenerationResult, [TokenComparison]) {
    let config = try ConfigReader(path: configPath)
    let inventory = try Inventories.build(config)
    let predictor = EnginePredictor(inventory: inventory, matrixElementBytes: model.lmHead.dtype.size,
                                    fp8Block: try config.fp8BlockSize())
    let counters = KernelCounters()
    let files = model.mappedFiles()
    let mappedBytes = files.reduce(0) { $0 + $1.size }
    var rows: [TokenComparison] = []
    let result = try Generator(model: model).generate(prompt: prompt, options: options, trace: trace, counters: counters) { state in
        let pos = state.position - 1
        var m = TokenMeasurement(position: pos, counters: counters, kvBytes: state.cache.length * state.cache.bytesPerPosition,
                                 experts: trace.experts.map { $0.indices.contains(pos) ? $0[pos] : [] })
        m.residentBytes = residentMemoryBytes()
        m.mappedBytes = mappedBytes
        m.mappedResidentBytes = files.reduce(0) { $0 + $1.residentBytes() }
        rows.append(TokenComparison(measured: m, predicted: predictor.predict(position: pos)))
    }
    return (result, rows)
}
