import ArgumentParser
import KilnEmit
import KilnIR
import KilnPartition
import KilnPasses
import KilnTensor

/// `kiln compile`: a model to a `.pte` program for the portable runtime.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a model to a .pte program.",
        discussion: """
            Runs the standard passes (\(CompileOptions.standardPasses.map(\.name).joined(separator: ", "))), \
            plans the memory of every activation into one arena (tensors whose lifetimes do not \
            overlap share bytes), and writes one ExecuTorch-format .pte: one method named after \
            the graph, one KernelCall per node, the constants in a 64-byte-aligned segment. Each \
            instruction keeps its node's debug handle and location (the chain's stack trace).

            The file is written atomically: on any error nothing is written. A one-line summary \
            goes to stderr: nodes, instructions, operators, constant bytes, arena bytes against \
            the lower bound (the most bytes live at once), file size and time. With --dump-after, \
            stdout holds the graph after each named pass, each under a `// after NAME` line.

            With --backends, the graph is first canonicalized for those backends and partitioned \
            (`kiln plan` shows the same plan); each partition is lowered by its backend's compiler \
            into a delegate whose payload is a segment of the file, and the rest runs on the portable \
            kernels. --dump-after also takes the stages `partition` (the graph with each delegated node \
            annotated) and `lower` (the graph with delegate calls); `plan-memory` prints every planned \
            tensor's byte range in the arena.
            """
    )

    @Argument(help: "The model: a .kir or .onnx file.")
    var file: String

    @Option(help: ModelFile.inputShapeHelp)
    var inputShape: [String] = []

    @Option(name: .shortAndLong, help: "The .pte file to write.")
    var output: String

    @Option(help: ArgumentHelp("Print the graph after these passes (comma-separated).", valueName: "name,..."))
    var dumpAfter: String?

    @Option(help: BackendSelection.help)
    var backends: String?

    @Flag(help: "Also print what each pass did and the time of each phase (to stderr).")
    var verbose = false

    @OptionGroup(title: "Quantization")
    var quantization: QuantizeOptions

    func validate() throws {
        try ModelFile.validate(file, inputShapes: inputShape)
        if let backends { try BackendSelection.validate(backends) }
        let stages = backends == nil ? [] : DelegationPipeline.stageNames
        let pipeline = (quantization.quantize != nil ? ["quantize"] : []) + CompileOptions.standardPasses.map(\.name)
            + stages + [KilnCompiler.planMemoryStage]
        for name in Check.names(dumpAfter) where !pipeline.contains(name) {
            let hint = DelegationPipeline.stageNames.contains(name) ? " (the stage \(name) runs with --backends)" : ""
            throw ValidationError("unknown pass '\(name)' in --dump-after\(hint); compile runs: \(pipeline.joined(separator: ", "))")
        }
    }

    func run() throws {
        try reportingErrors {
            let floatGraph = try ModelFile.read(file, inputShapes: inputShape)
            let dumpQuantized = Check.names(dumpAfter).contains("quantize")
            let selection = try backends.map { try BackendSelection.resolve($0, needsCompiler: true) }
            let quantizers = try selection.map { try quantization.backendQuantizers($0, graph: floatGraph) }
            let (quantizedGraph, quantizationReport) = try quantization.apply(floatGraph, quantizers: quantizers,
                                                                              dump: dumpQuantized ? { text in
                print("// after quantize\n" + text, terminator: "")
            } : nil)
            var graph = quantizedGraph
            if let selection {
                graph = try delegate(graph, selection: selection)
            }
            var options = CompileOptions()
            options.dumpAfter = Set(Check.names(dumpAfter))
            options.dump = { pass, text in print("// after \(pass)\n" + text, terminator: "") }
            let result: Compilation
            do {
                result = try KilnCompiler.compile(graph, options: options)
            } catch let error as EmitError {
                var e = error
                if e.file == nil { e.file = file }
                throw e
            }
            if let quantizationReport {
                try quantization.finish(quantizationReport, floatGraph: floatGraph, compiled: result)
            }
            try FileIO.writeAtomically(result.bytes, to: output)  // its error names the path
            if verbose {
                let r = result.report
                for statistics in r.passes { printError("  \(statistics)") }
                printError("  times: passes \(Self.ms(r.passSeconds)), plan \(Self.ms(r.planSeconds)), "
                           + "emit \(Self.ms(r.emitSeconds)), serialize \(Self.ms(r.serializeSeconds)); "
                           + "\(r.values) values, \(r.constants) constants")
            }
            printError("wrote \(output): \(result.report)")
        }
    }

    /// Canonicalizes, partitions and lowers `graph` for `backends`, printing the plan's totals.
    private func delegate(_ graph: Graph, selection: BackendSelection) throws -> Graph {
        if !selection.skipped.isEmpty {
            printError("auto: skipping \(selection.skipped.joined(separator: ", ")) (no compiler in this build)")
        }
        var pipeline = DelegationPipeline(backends: selection.entries, auto: selection.isAuto)
        pipeline.dumpAfter = Set(Check.names(dumpAfter)).intersection(DelegationPipeline.stageNames)
        pipeline.dump = { stage, text in print("// after \(stage)\n" + text, terminator: "") }
        do {
            let (lowered, plan) = try pipeline.run(graph)
            let counts = plan.nodeCounts
            let parts = plan.backends.map { name in
                "\(name) \(plan.partitions.filter { $0.backend == name }.count) partitions / \(counts[name] ?? 0) nodes"
            }
            printError("plan: \(parts.joined(separator: ", ")), portable \(counts["portable"] ?? 0) nodes")
            return lowered
        } catch {
            var e = error
            if e.file == nil { e.file = file }
            throw e
        }
    }

    private static func ms(_ seconds: Double) -> String { CompileReport.fixed(seconds * 1000, 1) + " ms" }
}
