import ArgumentParser
import MoEKernelsC

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
