import ArgumentParser
import MoEAccounting
import MoEFormats
import MoEModels
import MoERuntime
import MoETensor
import MoETokenizer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DType: ExpressibleByArgument {
    /// Type names as llama.cpp spells them, in any case (q4_k, Q4_K, bf16).
    public init?(argument: String) {
        guard let t = DType.allCases.first(where: { $0.rawValue.lowercased() == argument.lowercased() }) else { return nil }
        self = t
    }
}

/// `--type` and `--tensor-type` shared by quantize and synthesize.
struct QuantizeOptions: ParsableArguments {
    @Option(name: .long, help: "Type of the matrices: F32, F16, BF16, Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1, Q4_0, Q3_K, Q2_K, MXFP4.")
    var type: DType

    @Option(name: .customLong("tensor-type"), help: "PATTERN=TYPE: tensors whose name contains the glob PATTERN get TYPE (repeatable; first match wins), e.g. ffn_*_exps=Q4_K, attn_=Q8_0, ffn_gate_inp=F32.")
    var tensorTypes: [String] = []

    @Option(name: [.customShort("t"), .long], help: "Threads (default: all cores).")
    var threads: Int?

    func plan() throws -> QuantizePlan {
        guard QuantizePlan.writable.contains(type) else { throw CLIError("--type \(type.rawValue) cannot be written") }
        var overrides: [(String, DType)] = []
        for o in tensorTypes {
            guard let eq = o.lastIndex(of: "="), let t = DType(argument: String(o[o.index(after: eq)...])), !o[..<eq].isEmpty else {
                throw CLIError("--tensor-type '\(o)': expected PATTERN=TYPE")
            }
            guard QuantizePlan.writable.contains(t) else { throw CLIError("--tensor-type '\(o)': \(t.rawValue) cannot be written") }
            overrides.append((String(o[..<eq]), t))
        }
        return QuantizePlan(target: type, overrides: overrides)
    }
}

func printReport(_ r: Quantizer.Report, path: String, seconds: Double) {
    var counts: [String: Int] = [:]
    for t in r.tensors { counts["\(t.from) -> \(t.to)", default: 0] += 1 }
    for (k, v) in counts.sorted(by: { $0.key < $1.key }) { writeStderr("  \(v) tensors \(k)\n") }
    writeStderr("wrote \(path): \(humanBytes(r.bytes)) of tensors in \(String(format: "%.1f", seconds)) s\n")
}

/// A progress bar on stderr, redrawn only when it changes, and only on a terminal.
func progressBar(_ label: String) -> (Int, Int) -> Void {
    let tty = isatty(2) != 0
    var last = -1
    return { done, total in
        let width = 30, filled = total > 0 ? width * done / total : width
        guard tty, filled != last else { return }
        last = filled
        writeStderr("\r\(label) [" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "] \(humanBytes(done)) / \(humanBytes(total))")
        if done >= total { writeStderr("\n") }
    }
}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a GGUF file in llama.cpp's types, from a GGUF file or a Hugging Face checkpoint, with per-tensor overrides.")

    @Argument(help: "Input: a .gguf file, or a Hugging Face model directory (config.json + safetensors; llama, qwen2, qwen3, qwen2_moe, qwen3_moe, olmoe).")
    var input: String

    @Argument(help: "Output .gguf file.")
    var output: String

    @OptionGroup var options: QuantizeOptions

    func run() throws {
        guard input != output else { throw CLIError("the output must be a different file from the input") }
        let plan = try options.plan()
        let clock = ContinuousClock(), t0 = clock.now
        let report: Quantizer.Report
        if input.hasSuffix(".gguf") {
            let g = try GGUFFile(path: input)
            report = try Quantizer.quantize(g, to: output, plan: plan, pool: try makePool(options.threads), progress: progressBar("quantizing"))
        } else {
            let dir = input.hasSuffix("/") && input.count > 1 ? String(input.dropLast()) : input
            report = try Quantizer.convert(directory: dir, to: output, plan: plan, pool: try makePool(options.threads),
                                           tokenizer: TokenizerGGUFExport.metadata, progress: progressBar("converting"))
        }
        printReport(report, path: output, seconds: seconds(clock.now - t0))
    }
}

struct Synthesize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a GGUF file with random weights in the shape of a config.json (for benchmarks).")

    @Argument(help: "A Hugging Face config.json (llama, qwen2, qwen3, qwen2_moe, qwen3_moe, olmoe).")
    var config: String

    @Argument(help: "Output .gguf file.")
    var output: String

    @OptionGroup var options: QuantizeOptions

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    func run() throws {
        let plan = try options.plan()
        let r = try ConfigReader(path: config)
        let clock = ContinuousClock(), t0 = clock.now
        let report = try Quantizer.synthesize(config: r, to: output, plan: plan, seed: seed, pool: try makePool(options.threads),
                                              progress: progressBar("writing"))
        printReport(report, path: output, seconds: seconds(clock.now - t0))
    }
}
