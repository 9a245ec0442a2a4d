import ArgumentParser
import KilnIR

/// `kiln check`: parse, verify, and print a model with every type inferred.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse and verify a model, then print it in canonical .kir form with inferred types.",
        discussion: """
            Reads FILE (.kir text; its sidecar of large constants, if it names one, is read from \
            the same folder). Every node is checked against the op table: argument kinds, dtypes, \
            shapes and attribute ranges. Errors name the file, line and column, or the node \
            (`%3 = convolution (#5, loc("conv1"))`) and what was expected.

            Without -o, the canonical text goes to stdout and large constants are shown as \
            references into FILE's sidecar. With -o, the text and its sidecar (OUT.bin) are \
            written atomically.
            """
    )

    @Argument(help: "The model: a .kir file.")
    var file: String

    @Option(name: .shortAndLong, help: "Write the canonical .kir (and OUT.bin for large constants) here instead of stdout.")
    var output: String?

    @Flag(help: "Print every constant inline (no sidecar references).")
    var inlineConstants = false

    func validate() throws {
        guard file.hasSuffix(".kir") else {
            throw ValidationError("'\(file)': expected a .kir file (ONNX import is not built yet)")
        }
    }

    func run() throws {
        try reportingErrors {
            let graph = try KIRFile.read(path: file)
            if let output {
                try KIRFile.write(graph, to: output)
                printError("wrote \(output): \(graph.nodes.count) nodes, \(graph.constants.count) constants")
                return
            }
            let constants: KIRPrinter.Constants = inlineConstants
                ? .inline
                : .sidecar(fileName: KIRFile.fileName(of: file) + ".bin", threshold: KIRFile.defaultSidecarThreshold)
            print(KIRPrinter.print(graph, constants: constants).text, terminator: "")
        }
    }
}
