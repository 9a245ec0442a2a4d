import KilnIR
import KilnOps
import KilnPasses

/// The stages between a captured (and possibly quantized) graph and a graph with delegates:
/// `canonicalize` (decompose what no chosen backend takes whole, fold constants and batch
/// norms, CSE, DCE), `partition` (the plan, recorded as node annotations), `lower` (each
/// partition through its backend's compiler). The portable remainder is decomposed by the
/// compile pipeline afterwards.
///
/// ```swift
/// let pipeline = DelegationPipeline(backends: try BackendCatalog.shared.resolve(["xnnpack"]))
/// let (lowered, plan) = try pipeline.run(graph)
/// let compiled = try KilnCompiler.compile(lowered)
/// ```
public struct DelegationPipeline: Sendable {
    /// The stage names `--dump-after` accepts besides pass names.
    public static let stageNames = ["partition", "lower"]

    public var backends: [BackendCatalog.Entry]
    public var isAuto: Bool
    /// Receives the stage name and the graph's text after each stage in ``dumpAfter``.
    public var dumpAfter: Set<String> = []
    public var dump: @Sendable (_ stage: String, _ text: String) -> Void = { _, _ in }

    public init(backends: [BackendCatalog.Entry], auto: Bool = false) {
        self.backends = backends
        self.isAuto = auto
    }

    /// The passes before partitioning: `decompose` keeps whole every op a chosen backend lists.
    public var canonicalizationPasses: [any Pass] {
        let keep = Set(backends.flatMap { $0.descriptor.ops.map(\.op) }.filter { OpTable.schema(named: $0)?.pte == nil })
        // ConstantFolding keeps weights int8 behind their dequantize (`keptCompact`), so a backend
        // can claim the quantized form.
        return [Decompose(allowPartial: true, keeping: keep), ConstantFolding(), FoldBatchNorm(),
                CommonSubexpressionElimination(), DeadCodeElimination()]
    }

    /// Canonicalizes `graph` for the chosen backends.
    public func canonicalize(_ graph: Graph) throws(PassError) -> Graph {
        var g = graph
        _ = try PassManager(canonicalizationPasses, verifyEachPass: PassManager.verifiesByDefault).run(&g)
        return g
    }

    /// The delegation plan of a canonicalized graph.
    public func plan(_ graph: Graph) -> DelegationPlan {
        let plan = Partitioner(backends: backends.map(\.descriptor), auto: isAuto).plan(graph)
        if dumpAfter.contains("partition") { dump("partition", KIRPrinter.print(Self.annotated(plan))) }
        return plan
    }

    /// Canonicalizes, plans and lowers: the graph with delegate calls, and its plan.
    /// - Throws: ``PartitionError`` (a pass's error becomes `.graph`); `.noCompiler` for a backend
    ///   in the plan without a compiler in this build.
    public func run(_ graph: Graph) throws(PartitionError) -> (graph: Graph, plan: DelegationPlan) {
        let canonical: Graph
        do { canonical = try canonicalize(graph) } catch {
            throw PartitionError(.graph, "before partitioning: \(error)")
        }
        let plan = self.plan(canonical)
        var compilers: [String: any BackendCompiler] = [:]
        for entry in backends { if let c = entry.compiler { compilers[entry.descriptor.name] = c } }
        let lowered = try Lowering.lower(plan, compilers: compilers)
        if dumpAfter.contains("lower") { dump("lower", KIRPrinter.print(lowered)) }
        return (lowered, plan)
    }

    /// The plan's graph with each delegated node annotated `{backend = "xnnpack", partition = 0}`:
    /// what `--dump-after partition` prints (and the text form reads back).
    public static func annotated(_ plan: DelegationPlan) -> Graph {
        var g = plan.graph
        for p in plan.placements {
            guard let backend = p.backend, let id = p.partition else { continue }
            g.nodes[p.node].annotations["backend"] = .string(backend)
            g.nodes[p.node].annotations["partition"] = .int(id)
        }
        return g
    }
}
