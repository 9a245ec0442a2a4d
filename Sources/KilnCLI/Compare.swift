#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import KilnEmit
import KilnIR
import KilnPartition
import KilnPasses
import KilnQuant
import KilnRuntime
import KilnTensor

/// `kiln compare`: the delegated program's numbers against the portable reference.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile with and without delegation, run both, and report where the numbers differ.",
        discussion: """
            The reference is the graph on the portable kernels (what `kiln eval` computes, and what the \
            portable .pte computes bit for bit). The delegated program is what `kiln compile --backends` \
            writes, run in the runtime. For each output: max abs error, max relative error and SQNR \
            (10·log10(Σx² / Σ(x − x̂)²), in dB; inf when equal). Then each partition alone: a program \
            delegating only that partition, whose boundary values (the partition's outputs) are compared \
            with the reference's: the partition whose figures drop is the one to look at.

            Inputs are the given .npy files (one per model input, in order), or seeded random tensors.
            """
    )

    @Argument(help: "The model: a .kir or .onnx file.")
    var file: String

    @Option(help: ModelFile.inputShapeHelp)
    var inputShape: [String] = []

    @Option(help: BackendSelection.help)
    var backends: String

    @Option(name: .long, help: ArgumentHelp("An input tensor, one per model input, in order.", valueName: "x.npy"))
    var input: [String] = []

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        try ModelFile.validate(file, inputShapes: inputShape)
        try BackendSelection.validate(backends)
    }

    /// Error figures of `got` against `want`.
    struct Figures {
        var maxAbs = 0.0
        var maxRel = 0.0
        var sqnr = Double.infinity

        init(_ got: Tensor, _ want: Tensor) {
            guard got.elementCount == want.elementCount else {
                maxAbs = .nan; maxRel = .nan; sqnr = -.infinity
                return
            }
            var accumulator = SQNRAccumulator()
            accumulator.add(reference: want, actual: got)
            maxAbs = accumulator.maxAbsError
            sqnr = accumulator.sqnr
            for (x, y) in zip(got.floatValues(), want.floatValues()) where y != 0 && y.isFinite {
                maxRel = x.isFinite ? max(maxRel, Double(abs(x - y)) / Double(abs(y))) : .infinity
            }
        }

        var text: String {
            let db = SQNRAccumulator.label(sqnr) ?? CompileReport.fixed(sqnr, 1)
            return "max abs \(Self.sci(maxAbs)), max rel \(Self.sci(maxRel)), SQNR \(db) dB"
        }

        var json: JSONValue {
            .object([("max_abs", .number(maxAbs)), ("max_rel", .number(maxRel)),
                     ("sqnr_db", SQNRAccumulator.label(sqnr).map(JSONValue.string) ?? .number((sqnr * 100).rounded() / 100))])
        }

        static func sci(_ v: Double) -> String {
            guard v.isFinite, v != 0 else { return v == 0 ? "0" : "\(v)" }
            var e = 0
            var m = v
            while m >= 10 { m /= 10; e += 1 }
            while m < 1 { m *= 10; e -= 1 }
            return CompileReport.fixed(m, 2) + "e" + (e < 0 ? "-" : "+") + String(abs(e))
        }
    }

    func run() throws {
        try reportingErrors {
            let selection = try BackendSelection.resolve(backends, needsCompiler: true)
            let graph = try ModelFile.read(file, inputShapes: inputShape)
            let pipeline = DelegationPipeline(backends: selection.entries, auto: selection.isAuto)
            let canonical: Graph
            do { canonical = try pipeline.canonicalize(graph) } catch {
                throw PartitionError(.graph, "before partitioning: \(error)", file: file)
            }
            let plan = pipeline.plan(canonical)
            var compilers: [String: any BackendCompiler] = [:]
            for e in selection.entries { if let c = e.compiler { compilers[e.descriptor.name] = c } }

            let inputs = input.isEmpty ? try MethodInputs.random(for: canonical) : try MethodInputs.read(input)
            let reference = try GraphEvaluator(canonical).run(inputs, keepingIntermediates: true)

            // The whole delegated program.
            let lowered = try Lowering.lower(plan, compilers: compilers)
            let outputs = try load(try KilnCompiler.compile(lowered).bytes, tag: "delegated").method()(inputs)
            let outputFigures = zip(outputs, reference.outputs).map { Figures($0, $1) }

            // Each partition alone, its outputs made program outputs.
            var boundaries: [(partition: DelegationPlan.Partition, values: [(String, Figures)])] = []
            for p in plan.partitions {
                let single = plan.isolating(p.id)
                let program = try load(try KilnCompiler.compile(try Lowering.lower(single, compilers: compilers)).bytes,
                                       tag: "partition\(p.id)")
                let values = try program.method()(inputs).suffix(p.outputs.count)
                var figures: [(String, Figures)] = []
                for (id, got) in zip(p.outputs, values) {
                    guard let want = reference.intermediates[id] else { continue }
                    figures.append((canonical[id].name, Figures(got, want)))
                }
                boundaries.append((p, figures))
            }

            if json {
                print(JSONValue.object([
                    ("backends", .array(plan.backends.map(JSONValue.string))),
                    ("outputs", .array(outputFigures.enumerated().map { i, f in
                        .object([("output", .number(Double(i))), ("name", .string(canonical[canonical.outputs[i]].name)),
                                 ("figures", f.json)])
                    })),
                    ("partitions", .array(boundaries.map { b in
                        .object([("id", .number(Double(b.partition.id))), ("backend", .string(b.partition.backend)),
                                 ("nodes", .number(Double(b.partition.nodes.count))),
                                 ("boundary", .array(b.values.map { .object([("value", .string($0.0)), ("figures", $0.1.json)]) }))])
                    })),
                ]).pretty, terminator: "")
                return
            }
            print("\(file): delegated to \(plan.backends.joined(separator: ", ")) (\(plan.partitions.count) partitions, "
                  + "\(plan.fallbacks.count) nodes on portable) vs portable")
            for (i, f) in outputFigures.enumerated() {
                print("  output \(i) %\(canonical[canonical.outputs[i]].name): \(f.text)")
            }
            for b in boundaries {
                print("  partition \(b.partition.id) (\(b.partition.backend), \(b.partition.nodes.count) nodes) alone:")
                for (name, f) in b.values { print("    %\(name): \(f.text)") }
            }
        }
    }

    /// Writes `bytes` to a temporary `.pte` and loads it (the file is removed once mapped).
    private func load(_ bytes: [UInt8], tag: String) throws -> Program {
        let folder = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let path = "\(folder)/kiln-compare-\(getpid())-\(tag).pte"
        try FileIO.writeAtomically(bytes, to: path)
        defer { unlink(path) }
        return try Program.load(path: path)
    }
}
