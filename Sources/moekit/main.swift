import ArgumentParser

struct MoEKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moekit",
        abstract: "Run Mixture-of-Experts language models on the CPU and see what each token costs.",
        subcommands: [Demo.self, Logits.self, Generate.self, Info.self],
        defaultSubcommand: Demo.self)
}

MoEKitCommand.main()
