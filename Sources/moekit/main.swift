import ArgumentParser
import MoEKernelsC
import MoECPUCheck

// The kernels are compiled for x86-64 haswell (AVX2, FMA, F16C), or arm64 ARMv8.2-A with the dot-product
// extension. On an older CPU, say so and exit before anything can execute one of their instructions. This must stay the first statement: Swift
// globals are initialised lazily, so nothing from the kernel-compiled modules has run yet.
requireSupportedCPU()

/// Exits with status 1 and one line on stderr when the CPU lacks what the kernels need
/// (MoECPUCheck, compiled for the baseline; MOEKIT_SIMULATE_MISSING_CPU simulates a missing feature).
func requireSupportedCPU() {
    var missing = [CChar](repeating: 0, count: 64)
    guard moe_cpu_supported(&missing, missing.count) == 0 else { return }
    let names = String(decoding: missing.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    #if arch(arm64)
    let floor = "MoEKit's arm64 build needs ARMv8.2-A with the dot-product extension"
    #else
    let floor = "MoEKit's x86-64 build needs AVX2, FMA and F16C"
    #endif
    fail(CLIError("this CPU lacks \(names) (\(floor))"))
}

struct MoEKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moekit",
        abstract: "Run Mixture-of-Experts language models on the CPU and see what each token costs.",
        subcommands: [Demo.self, Run.self, Chat.self, Inspect.self, Tokenize.self, Logits.self, Generate.self, Trace.self, Bench.self, Quantize.self, Synthesize.self, Info.self, Kernels.self],
        defaultSubcommand: Demo.self)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Per-token buffers (logits rows of ~200 KB and up) would otherwise be fresh mmap'd pages every
// time, each page faulted in and cleared: keep freed memory in the heap instead.
moe_tune_malloc()

// Parse errors, like every other error, are one line on stderr with exit status 1; help and
// version requests print as usual.
do {
    var command = try MoEKitCommand.parseAsRoot()
    try command.run()
} catch {
    if MoEKitCommand.exitCode(for: error) == .success {
        MoEKitCommand.exit(withError: error)
    }
    let message = MoEKitCommand.message(for: error)
    fail(CLIError(message.isEmpty ? "\(error)" : message))
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
