import ArgumentParser
import KilnIR
import KilnKernels
import KilnPasses
import KilnTensor

/// `kiln eval`: the reference evaluation of a graph on the portable kernels.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on the portable kernels and print (or write) its outputs.",
        discussion: """
            Binds each --input .npy file to the graph's inputs in order: the dtype must match and \
            the shape must fit the input's type (each symbolic dim within its range, the same \
            symbol the same size everywhere). Prints each output's dtype and shape; with \
            --output-dir, writes output_0.npy, output_1.npy, ... there (each written atomically). \
            Errors name the file, the input, or the node (`%3 = linear (#5, loc("fc1"))`).
            """
    )

    @Argument(help: "The model: a .kir or .onnx file.")
    var file: String

    @Option(help: ModelFile.inputShapeHelp)
    var inputShape: [String] = []

    @Option(name: .long, help: ArgumentHelp("An input tensor, one per graph input, in order.", valueName: "x.npy"))
    var input: [String] = []

    @Option(help: "Write output_0.npy, output_1.npy, ... into this folder (created if missing).")
    var outputDir: String?

    @Option(help: "Threads the kernels split their work across (the results do not depend on it).")
    var threads = 1

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be 1 or more, got \(threads)") }
        try ModelFile.validate(file, inputShapes: inputShape)
    }

    func run() throws {
        try reportingErrors {
            let graph = try ModelFile.read(file, inputShapes: inputShape)
            if let outputDir { try FileIO.createDirectory(outputDir) }
            let tensors = try MethodInputs.read(input)
            let result: GraphEvaluator.Evaluation
            do {
                result = try GraphEvaluator(graph, threads: threads > 1 ? ThreadPool(threads: threads) : .serial).run(tensors)
            } catch let error as PassError {
                var e = error
                e.file = file
                if e.kind == .inputCount || e.kind == .inputDType || e.kind == .inputShape {
                    // Name the .npy file bound to the input at fault.
                    if let subject = e.subject, let i = graph.inputs.firstIndex(where: { "input %\(graph[$0].name)" == subject }),
                       i < input.count {
                        e.subject = "\(subject) (\(input[i]))"
                    }
                }
                throw e
            }
            try reportOutputs(zip(graph.outputs, result.outputs).map { (graph[$0].name, $1) }, outputDir: outputDir)
        }
    }
}
