import ArgumentParser
import MoEModels
import MoETensor

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load a model and describe it.")

    @OptionGroup var options: ModelOptions

    func run() throws {
        // Nothing is multiplied here: load without the repacked copies (.q8 would read and copy every matrix).
        let activations: ActivationFormat = options.activations == .q8 ? .q8Mapped : options.activations
        let model = try loadModel(directory: options.model, pool: try makePool(options.threads), activations: activations)
        let c = model.config
        let counts = model.parameterCounts()
        print("model_type      \(c.modelType)")
        print("layers          \(model.layers.count) (MoE: \(model.moeLayerIndices.map(String.init).joined(separator: ",")))")
        print("hidden          \(c.hidden), heads \(c.heads), kv heads \(c.kvHeads), head dim \(c.headDim)")
        print("vocab           \(c.vocabSize)")
        print("parameters      \(grouped(counts.total)) total, \(grouped(counts.activePerToken)) active per token")
        print("weight bytes    \(grouped(counts.weightBytes))")
        if model.mtpLayers > 0 {
            print("MTP layers      \(model.mtpLayers) multi-token-prediction layer(s) declared; not run for plain decoding")
        }
        if !model.unusedTensors.isEmpty {
            let shown = model.unusedTensors.prefix(3).joined(separator: ", ")
            print("unused tensors  \(model.unusedTensors.count) in the checkpoint are not used (\(shown)\(model.unusedTensors.count > 3 ? ", ..." : ""))")
        }
    }
}

