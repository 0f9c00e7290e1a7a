#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import MoEModels
import MoETensor

/// Options shared by the commands that load a model.
struct ModelOptions: ParsableArguments {
    @Argument(help: "A Hugging Face model directory (config.json + safetensors).")
    var model: String

    @Option(name: [.customShort("t"), .long], help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "How quantised, BF16 and FP8 weights are multiplied: q8 (activations quantised to int8 as llama.cpp does and integer dot products, Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K matrices repacked in memory; BF16/FP8 weights meet activations rounded to bf16; fastest), q8-mapped (the same without the repacked copy: weights used where they are mapped) or f32 (dequantised weights times f32 activations; exact against transformers).")
    var activations: ActivationFormat = .q8
}

extension ActivationFormat: ExpressibleByArgument {}

/// `--numerics`, for the commands that run a model.
struct NumericsOption: ParsableArguments {
    @Option(help: "How forward passes round: moekit (MoEKit's kernels, the default) or llamacpp (llama.cpp's CPU arithmetic reproduced bit for bit: every float of a dense llama-family model with Q4_1, Q8_0 or F16 matrices as llama.cpp's x86-64 AVX-512 build computes it in one batch, the logits too when the output layer is of those types; needs AVX-512; for checking against llama.cpp).")
    var numerics: Numerics = .moekit

    func apply(to model: TransformerModel) throws { try model.use(numerics) }

    /// The activation format to load with: llama.cpp's arithmetic reads the matrices in their file
    /// layout, so with the default `q8` nothing is repacked (`q8-mapped`), which would only double
    /// the memory.
    func activations(_ asked: ActivationFormat) -> ActivationFormat {
        numerics == .llamacpp && asked == .q8 ? .q8Mapped : asked
    }
}

extension Numerics: ExpressibleByArgument {}

/// Prints a one-line error to stderr and exits with status 1.
func fail(_ error: Error) -> Never {
    let text = "\(error)".split(separator: "\n").joined(separator: " ")
    let line = "moekit: error: \(text)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func parseTokens(_ text: String) throws -> [Int32] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    var out: [Int32] = []
    for p in parts {
        let s = p.trimmed()
        guard let v = Int32(s), v >= 0 else { throw ModelError.invalidInput("--tokens: '\(s)' is not a non-negative token id") }
        out.append(v)
    }
    guard !out.isEmpty else { throw ModelError.invalidInput("--tokens: no token ids given") }
    return out
}

func makePool(_ threads: Int?) throws -> ThreadPool {
    if let t = threads, t < 1 || t > 1024 { throw ModelError.invalidInput("--threads must be between 1 and 1024") }
    return ThreadPool(threads: threads ?? ThreadPool.processorCount)
}

/// JSON number for a float (shortest round-trip form; non-finite as null).
func jsonNumber(_ x: Float) -> String {
    x.isFinite ? "\(x)" : "null"
}

func writeStderr(_ s: String) {
    var rest = Array(s.utf8)[...]
    while !rest.isEmpty {
        let n = rest.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        rest = rest.dropFirst(n)
    }
}

func writeStdout(_ s: String) {
    var rest = Array(s.utf8)[...]
    while !rest.isEmpty {
        let n = rest.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        rest = rest.dropFirst(n)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmed() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
