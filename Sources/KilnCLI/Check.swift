import ArgumentParser
import KilnIR
import KilnPasses

/// `kiln check`: parse, verify, optionally run passes, and print a model with every type inferred.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse and verify a model, then print it in canonical .kir form with inferred types.",
        discussion: """
            Reads FILE: .kir text (its sidecar of large constants, if it names one, is read from \
            the same folder) or an .onnx model, imported (free input dims need --input-shape). \
            Every node is checked against the op table: argument kinds, dtypes, \
            shapes and attribute ranges. Errors name the file, line and column, or the node \
            (`%3 = convolution (#5, loc("conv1"))`) and what was expected.

            With --passes, the listed passes run in order on the graph, each followed by the \
            verifier. Passes: \(PassRegistry.names.joined(separator: ", ")).

            Without -o, the canonical text goes to stdout and large constants are shown as \
            references into FILE's sidecar (after passes, into the sidecar -o would write). With \
            -o, the text and its sidecar (OUT.bin) are written atomically. With --dump-after, \
            stdout holds the graph after each named pass instead, each under a `// after NAME` line.
            """
    )

    @Argument(help: "The model: a .kir or .onnx file.")
    var file: String

    @Option(help: ModelFile.inputShapeHelp)
    var inputShape: [String] = []

    @Option(name: .shortAndLong, help: "Write the canonical .kir (and OUT.bin for large constants) here instead of stdout.")
    var output: String?

    @Flag(help: "Print every constant inline (no sidecar references).")
    var inlineConstants = false

    @Option(help: ArgumentHelp("Passes to run, in order, separated by commas.", valueName: "a,b,..."))
    var passes: String?

    @Option(help: ArgumentHelp("Print the graph after these passes (comma-separated; each must be in --passes).",
                               valueName: "name,..."))
    var dumpAfter: String?

    /// The names in a comma-separated list, without empty entries.
    static func names(_ list: String?) -> [String] {
        (list ?? "").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
    }

    func validate() throws {
        try ModelFile.validate(file, inputShapes: inputShape)
        let valid = PassRegistry.names.joined(separator: ", ")
        let requested = Self.names(passes)
        for name in requested where PassRegistry.pass(named: name) == nil {
            throw ValidationError("unknown pass '\(name)' in --passes; valid passes: \(valid)")
        }
        for name in Self.names(dumpAfter) where !requested.contains(name) {
            throw ValidationError(PassRegistry.pass(named: name) == nil
                ? "unknown pass '\(name)' in --dump-after; valid passes: \(valid)"
                : "--dump-after \(name): the pass is not in --passes")
        }
    }

    func run() throws {
        try reportingErrors {
            var graph = try ModelFile.read(file, inputShapes: inputShape)
            let constants: KIRPrinter.Constants = inlineConstants
                ? .inline
                : .sidecar(fileName: KIRFile.fileName(of: file) + ".bin", threshold: KIRFile.defaultSidecarThreshold)
            let dumps = Set(Self.names(dumpAfter))
            if passes != nil {
                let manager = PassManager(try PassRegistry.passes(named: Self.names(passes)), verifyEachPass: true,
                                          dumpAfter: dumps, dumpConstants: constants) { pass, text in
                    print("// after \(pass)\n" + text, terminator: "")
                }
                do {
                    try manager.run(&graph)
                } catch let error as PassError {
                    var e = error
                    e.file = file
                    throw e
                }
            }
            if let output {
                try KIRFile.write(graph, to: output)
                printError("wrote \(output): \(graph.nodes.count) nodes, \(graph.constants.count) constants")
                return
            }
            if dumps.isEmpty {
                print(KIRPrinter.print(graph, constants: constants).text, terminator: "")
            }
        }
    }
}

extension String {
    /// The string without leading and trailing spaces.
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
