import KilnIR
import KilnPasses
import KilnPTE

/// How ``KilnCompiler`` compiles.
///
/// ```swift
/// var options = CompileOptions()
/// options.dumpAfter = ["decompose"]
/// options.dump = { pass, text in print("// after \(pass)\n" + text) }
/// ```
public struct CompileOptions: Sendable {
    /// The passes run before planning, in order: ``standardPasses`` unless changed.
    public var passes: [any Pass]
    /// Names of the passes after which ``dump`` receives the graph as `.kir` text.
    public var dumpAfter: Set<String>
    /// Receives the pass name and the `.kir` text after each pass in ``dumpAfter``.
    public var dump: @Sendable (_ pass: String, _ text: String) -> Void
    /// Verify the graph after every pass (on in debug builds).
    public var verifyEachPass: Bool
    /// Plans the arena.
    public var planner: MemoryPlanner
    /// Check the memory plan before emitting (on in debug builds).
    public var checksPlan: Bool

    /// decompose, constant-folding, fold-batch-norm, simplify-layout, mark-activation-fusion,
    /// common-subexpression-elimination, dead-code-elimination.
    public static var standardPasses: [any Pass] {
        [Decompose(), ConstantFolding(), FoldBatchNorm(), SimplifyLayout(), MarkActivationFusion(),
         CommonSubexpressionElimination(), DeadCodeElimination()]
    }

    public init(passes: [any Pass] = CompileOptions.standardPasses, dumpAfter: Set<String> = [],
                dump: @escaping @Sendable (_ pass: String, _ text: String) -> Void = { _, _ in },
                verifyEachPass: Bool = PassManager.verifiesByDefault, planner: MemoryPlanner = MemoryPlanner(),
                checksPlan: Bool = _isDebugAssertConfiguration()) {
        self.passes = passes
        self.dumpAfter = dumpAfter
        self.dump = dump
        self.verifyEachPass = verifyEachPass
        self.planner = planner
        self.checksPlan = checksPlan
    }
}

/// What one compilation did, for the one-line summary of `kiln compile` and for benchmarks.
public struct CompileReport: Sendable, CustomStringConvertible {
    /// The graph's (and the method's) name.
    public var method: String
    /// Nodes of the graph as given, and after the passes.
    public var nodesBefore: Int
    public var nodesAfter: Int
    /// What each pass did.
    public var passes: [PassStatistics]
    /// KernelCalls, distinct operators and EValues in the program.
    public var instructions: Int
    public var operators: Int
    public var values: Int
    /// Constant tensors, and the bytes of the constant segment (shared and padding included).
    public var constants: Int
    public var constantBytes: Int
    /// The planned arena and the least any plan could use.
    public var arenaBytes: Int
    public var arenaLowerBound: Int
    /// Bytes of the serialized `.pte`.
    public var fileBytes: Int
    /// Seconds spent in the passes, memory planning, emission and serialization.
    public var passSeconds: Double
    public var planSeconds: Double
    public var emitSeconds: Double
    public var serializeSeconds: Double

    public var totalSeconds: Double { passSeconds + planSeconds + emitSeconds + serializeSeconds }

    /// `forward: 7 nodes -> 9 instructions, 3 operators, constants 1.1 MB, arena 4.0 KB (lower bound 4.0 KB), file 1.1 MB, 12.3 ms`.
    public var description: String {
        "\(method): \(nodesBefore) nodes -> \(instructions) instructions, \(operators) operators, "
            + "constants \(Self.bytes(constantBytes)), arena \(Self.bytes(arenaBytes)) "
            + "(lower bound \(Self.bytes(arenaLowerBound))), file \(Self.bytes(fileBytes)), "
            + Self.milliseconds(totalSeconds)
    }

    /// `512 B`, `4.0 KB`, `1.1 MB`, `2.0 GB` (powers of 1024).
    public static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) B" }
        var value = Double(count) / 1024
        for unit in ["KB", "MB", "GB"] {
            if value < 1024 || unit == "GB" { return fixed(value, 1) + " " + unit }
            value /= 1024
        }
        return "\(count) B"
    }

    /// `12.3 ms`.
    static func milliseconds(_ seconds: Double) -> String { fixed(seconds * 1000, 1) + " ms" }

    /// `value` with `digits` decimals, rounded half away from zero: `fixed(3.14159, 1)` is `3.1`.
    public static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(abs(scaled - Double(whole) * scale))
        let text = String(fraction)
        return digits == 0 ? "\(whole)" : "\(whole).\(String(repeating: "0", count: digits - text.count))\(text)"
    }
}

/// A compiled model: the program as values, its bytes, and the report.
public struct Compilation: Sendable {
    public var file: PTEFile
    /// `file.serialized()`: what `kiln compile` writes.
    public var bytes: [UInt8]
    public var report: CompileReport
}

/// The compile pipeline: passes (decompose, constant folding, CSE, DCE by default), memory
/// planning, emission, serialization.
///
/// ```swift
/// let result = try KilnCompiler.compile(try KIRFile.read(path: "mlp.kir"))
/// try FileIO.writeAtomically(result.bytes, to: "mlp.pte")
/// print(result.report)
/// ```
public enum KilnCompiler {
    /// The stage name `--dump-after` gives to memory planning (its dump is the plan's text).
    public static let planMemoryStage = "plan-memory"

    /// Compiles `graph` with `options`.
    /// - Throws: ``EmitError``: `.pass` when a pass fails (its message kept), or any error of
    ///   ``PTEEmitter/emit(_:plan:)``, or `.serialization`.
    public static func compile(_ graph: Graph, options: CompileOptions = CompileOptions()) throws(EmitError) -> Compilation {
        let clock = ContinuousClock()
        var graph = graph
        let nodesBefore = graph.nodes.count

        var start = clock.now
        let manager = PassManager(options.passes, verifyEachPass: options.verifyEachPass,
                                  dumpAfter: options.dumpAfter, dump: options.dump)
        let statistics: [PassStatistics]
        do { statistics = try manager.run(&graph) } catch { throw EmitError(error) }
        let passSeconds = seconds(clock.now - start)

        start = clock.now
        try PTEEmitter.requireCoreOps(graph)
        let plan = try options.planner.plan(graph)
        let planSeconds = seconds(clock.now - start)
        if options.dumpAfter.contains(Self.planMemoryStage) { options.dump(Self.planMemoryStage, plan.text(for: graph)) }

        start = clock.now
        let emitter = PTEEmitter(planner: options.planner, checksPlan: options.checksPlan)
        let file = try emitter.emit(graph, plan: plan)
        let emitSeconds = seconds(clock.now - start)

        start = clock.now
        let bytes: [UInt8]
        do { bytes = try file.serialized() } catch {
            throw EmitError(.serialization, "cannot serialize the program: \(error)")
        }
        let serializeSeconds = seconds(clock.now - start)

        let executionPlan = file.program.executionPlan[0]
        let report = CompileReport(
            method: graph.name, nodesBefore: nodesBefore, nodesAfter: graph.nodes.count, passes: statistics,
            instructions: executionPlan.chains[0].instructions.count, operators: executionPlan.operators.count,
            values: executionPlan.values.count, constants: graph.constants.count,
            constantBytes: file.segments.first?.count ?? 0, arenaBytes: plan.arenaSize,
            arenaLowerBound: plan.lowerBound, fileBytes: bytes.count, passSeconds: passSeconds,
            planSeconds: planSeconds, emitSeconds: emitSeconds, serializeSeconds: serializeSeconds)
        return Compilation(file: file, bytes: bytes, report: report)
    }

    private static func seconds(_ d: Duration) -> Double {
        let (s, attoseconds) = d.components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
