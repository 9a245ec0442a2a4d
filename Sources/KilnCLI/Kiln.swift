import ArgumentParser

/// The `kiln` command: compile, inspect and run models.
@main
struct Kiln: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Kiln: an ahead-of-time graph compiler and runtime for on-device ML.",
        discussion: """
            Models come in as .kir text graphs or .onnx models (see `kiln check --help`). Exit status: 0 on success, \
            1 when the input is bad (the message on stderr names the file, line and node), \
            64 for command-line usage errors.
            """,
        version: KilnVersion.string,
        subcommands: [Check.self, Eval.self, Compile.self, Plan.self, Compare.self, Inspect.self, Run.self, Bench.self, Ops.self,
                      ListBackends.self]
    )
}

enum KilnVersion {
    static let string = "0.1.0"
}
