import ArgumentParser
import KilnRuntime
import KilnTensor

/// `kiln run`: a `.pte` program on the portable runtime.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a .pte program on Kiln's runtime and print (or write) its outputs.",
        discussion: """
            Loads FILE (any ExecuTorch-format .pte whose operators Kiln has kernels for and whose \
            delegates' backends are registered), binds each --input .npy file to the method's \
            inputs in order, runs the method once, and prints each output's dtype and shape. \
            With --output-dir, writes output_0.npy, output_1.npy, ... there (the folder is \
            created if missing; each file is written atomically). An input must have the \
            input's dtype and shape, or for a bounded-dynamic input sizes within the bounds. \
            Errors name the file, the input (and its .npy file), or the instruction and operator \
            (`instruction 3 (aten::addmm.out #5 loc("fc1"))`).
            """
    )

    @Argument(help: "The program: a .pte file.")
    var file: String

    @Option(name: .long, help: ArgumentHelp("An input tensor, one per method input, in order.", valueName: "x.npy"))
    var input: [String] = []

    @Option(help: "Write output_0.npy, output_1.npy, ... into this folder (created if missing).")
    var outputDir: String?

    @Option(help: "The method to run (default: the program's only method).")
    var method: String?

    @Flag(help: "Keep constant weights as views into the file instead of packing them once (less memory, slower).")
    var noPrepack = false

    @Option(help: "Threads the kernels and delegates split their work across (the outputs do not depend on it).")
    var threads = 1

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be 1 or more, got \(threads)") }
    }

    func run() throws {
        try reportingErrors {
            KilnBackends.registerAll()
            let program = try Program.load(path: file)
            let runnable = try program.method(method, threads: threads, prepacksWeights: !noPrepack)
            try MethodInputs.bind(files: input, to: runnable, programPath: file)
            try runnable.execute()
            var outputs: [(name: String, tensor: Tensor)] = []
            for i in 0..<runnable.outputCount {
                outputs.append(("\(try runnable.outputMeta(i).valueIndex)", try runnable.output(i)))
            }
            try reportOutputs(outputs, outputDir: outputDir)
        }
    }
}
