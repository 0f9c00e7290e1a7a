import Testing
import MoEAccounting
import MoEFormats
import MoEModels
import MoERuntime
import MoETensor

let sharedPool = ThreadPool(threads: 2)

@Suite struct MeasuredTests {
    /// For every architecture, what the kernels report per decoded token equals what the cost
    /// model predicts from config.json alone: parameters, FLOPs, weight bytes, KV bytes.
    @Test(arguments: tinyNames)
    func measuredEqualsPredicted(name: String) throws {
        let model = try loadModel(directory: tinyRoot + "/\(name)", pool: sharedPool)
        let config = try ConfigReader(path: tinyRoot + "/\(name)/config.json")
        let predictor = EnginePredictor(inventory: try tinyInventory(name), matrixElementBytes: model.lmHead.dtype.size,
                                        fp8Block: try config.fp8BlockSize())
        let counters = KernelCounters()
        var options = GenerationOptions()
        options.maxTokens = 6
        var rows: [TokenComparison] = []
        _ = try Generator(model: model).generate(prompt: [1, 2, 3, 4, 5], options: options, counters: counters) { state in
            let m = TokenMeasurement(position: state.position - 1, counters: counters,
                                     kvBytes: state.cache.length * state.cache.bytesPerPosition, experts: [])
            rows.append(TokenComparison(measured: m, predicted: predictor.predict(position: m.position)))
        }
        #expect(rows.count == 5)
        for r in rows {
            #expect(r.measured.params == r.predicted.params, "\(name) @\(r.measured.position): params")
            #expect(r.measured.flops == r.predicted.flops, "\(name) @\(r.measured.position): flops")
            #expect(r.measured.weightBytes == r.predicted.weightBytes, "\(name) @\(r.measured.position): bytes")
            #expect(r.measured.kvBytes == r.predicted.kvBytes, "\(name) @\(r.measured.position): kv")
            #expect(!r.disagrees)
        }
    }
}
