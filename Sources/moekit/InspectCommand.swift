import ArgumentParser
import MoEAccounting
import MoEFormats
import MoEModels
import MoETensor

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict what a model costs from its config alone: parameters, FLOPs, memory, KV, GPUs.",
        discussion: "MODEL is a preset name (\(Presets.names.joined(separator: ", "))), a config.json, or a model directory.")

    @Argument(help: "Preset name, config.json path or model directory.")
    var model: String

    @Option(help: "Context length for attention FLOPs and the KV cache.")
    var context = 0

    @Option(help: "Sequences served at once, for the KV room when counting GPUs.")
    var concurrency = 1

    @Option(help: "Memory bandwidth in GB/s for the decode roofline.")
    var bandwidth: Double?

    @Flag(name: .customLong("measure-bandwidth"), help: "Measure this machine's memory read bandwidth for the roofline.")
    var measureBandwidth = false

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Print a Markdown table.")
    var markdown = false

    func run() throws {
        guard context >= 0, context <= 1 << 40 else { throw ModelError.invalidInput("--context must be between 0 and 2^40") }
        guard concurrency >= 1, concurrency <= 1 << 20 else { throw ModelError.invalidInput("--concurrency must be at least 1") }
        if let b = bandwidth, !(b > 0 && b.isFinite) { throw ModelError.invalidInput("--bandwidth must be a positive number of GB/s") }
        let source = try ModelSource.resolve(model)
        var options = CostOptions()
        options.context = context
        options.concurrency = concurrency
        if let b = bandwidth { options.bandwidth = b * 1e9 }
        if measureBandwidth {
            options.bandwidth = measureReadBandwidth(pool: ThreadPool())
        }
        var inventory = try Inventories.build(source.config)
        if let stored = source.storedPrecision { inventory.storedPrecision = stored }
        let report = InspectReport(name: source.name, moe: CostModel.report(inventory, options: options),
                                   published: source.published, storedBytes: source.storedBytes)
        if json {
            writeStdout(report.json().serialized() + "\n")
        } else if markdown {
            writeStdout(report.markdown())
        } else {
            writeStdout(report.table())
        }
    }
}

/// Where `inspect` gets a config from.
struct ModelSource {
    var name: String
    var config: ConfigReader
    var storedPrecision: Precision?
    var published: (Double, Double)?
    /// Bytes of all tensors in the directory's safetensors files (headers only are read).
    var storedBytes: Int?

    static func resolve(_ arg: String) throws -> ModelSource {
        if let p = Presets.named(arg) {
            let r = try p.reader()
            return ModelSource(name: p.name, config: r, storedPrecision: storedPrecision(r), published: (p.publishedTotalB, p.publishedActiveB))
        }
        if arg.hasSuffix(".gguf") {
            // Header and metadata only: the tensor data is never read.
            let g = try GGUFFile(path: arg)
            let r = try GGUFModel.config(g)
            return ModelSource(name: arg, config: r, storedPrecision: nil, published: nil,
                               storedBytes: g.tensors.reduce(0) { $0 + $1.byteCount })
        }
        let path = fileExists(arg) ? arg : arg + "/config.json"
        guard fileExists(path) else {
            throw ModelError.invalidInput("'\(arg)' is neither a preset (\(Presets.names.joined(separator: ", "))) nor a config.json or model directory")
        }
        let r = try ConfigReader(path: path)
        var stored: Int?
        if !fileExists(arg) {
            let dir = try TensorDirectory(modelDirectory: arg)
            stored = dir.names.reduce(0) { $0 + dir[$1]!.byteCount }
        }
        return ModelSource(name: arg, config: r, storedPrecision: storedPrecision(r), published: nil, storedBytes: stored)
    }

    /// The precision a config says its checkpoint is stored in.
    static func storedPrecision(_ r: ConfigReader) -> Precision? {
        if let q = r.json["quantization_config"]?["quant_method"]?.stringValue {
            switch q {
            case "fp8": return .fp8
            case "mxfp4": return .mxfp4
            default: return nil
            }
        }
        let dtype = r.json["dtype"]?.stringValue ?? r.json["torch_dtype"]?.stringValue
            ?? r.json["text_config"]?["torch_dtype"]?.stringValue
        switch dtype {
        case "bfloat16": return .bf16
        case "float16": return .f16
        case "float32": return .f32
        default: return nil
        }
    }
}
