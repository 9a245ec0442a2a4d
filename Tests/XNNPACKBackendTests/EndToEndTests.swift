#if canImport(Glibc)
import Glibc
#endif
import KilnEmit
import KilnExamples
import KilnIR
import KilnPartition
import KilnRuntime
import KilnTensor
import Testing
import XNNPACKCompiler
import XNNPACKRuntime

/// The Examples through the whole path: partition for xnnpack, lower, emit a `.pte`, load it
/// with the XNNPACK runtime, run, and compare with the portable program on the same input.
/// Tolerance: 1e-4 relative to the largest output magnitude (fp32, different summation order).
struct EndToEndTests {
    /// A compiled program for `graph`, delegated to xnnpack or portable, loaded and ready.
    static func load(_ graph: Graph, delegated: Bool, threads: Int = 1) throws -> (Method, DelegationPlan?) {
        var toCompile = graph
        var plan: DelegationPlan?
        if delegated {
            let catalog = BackendCatalog()
            catalog.register(XNNPACKCompiler())
            let pipeline = DelegationPipeline(backends: try catalog.resolve(["xnnpack"]))
            (toCompile, plan) = try pipeline.run(graph)
        }
        let compiled = try KilnCompiler.compile(toCompile)
        let registry = BackendRegistry()
        registry.register(XNNPACKRuntime())
        let path = "/tmp/kiln-xnnpack-e2e-\(getpid())-\(graph.name)-\(delegated).pte"
        try FileIO.writeAtomically(compiled.bytes, to: path)
        defer { unlink(path) }
        return (try Program.load(path: path, backends: registry).method(threads: threads), plan)
    }

    static func compare(_ name: ExampleModels.Name, delegatedNodesAtLeast: Int, tolerance: Float = 1e-4,
                        threads: Int = 1) throws {
        let model = try ExampleModels.build(name)
        let (portable, _) = try load(model.graph, delegated: false)
        let (delegated, plan) = try load(model.graph, delegated: true, threads: threads)
        let delegatedNodes = plan?.placements.filter { $0.backend != nil }.count ?? 0
        #expect(delegatedNodes >= delegatedNodesAtLeast, "\(name): \(delegatedNodes) nodes delegated")
        let want = try portable([model.input])[0]
        delegated.isProfiling = true
        let got = try delegated([model.input])[0]
        let scale = max(1, want.floatValues().map(abs).max() ?? 0)
        let difference = XNNPACKHarness.maxDifference(got, want)
        #expect(difference <= tolerance * scale, "\(name): max difference \(difference)")
        // The delegate's run time is a profiling event `kiln bench --profile` shows.
        #expect(delegated.delegateEvents.contains { $0.name == "xnnpack" && $0.nanoseconds > 0 })
    }

    @Test func mlpRunsWhollyOnXNNPACK() throws {
        try Self.compare(.mlp, delegatedNodesAtLeast: 5)
    }

    @Test func cnnRunsWhollyOnXNNPACK() throws {
        try Self.compare(.cnn, delegatedNodesAtLeast: 9)
    }

    @Test func cnnOnTwoThreadsGivesTheSameNumbers() throws {
        try Self.compare(.cnn, delegatedNodesAtLeast: 9, threads: 2)
    }

    @Test func decoderBlockDelegatesItsLinearsAndNorms() throws {
        try Self.compare(.decoderBlock, delegatedNodesAtLeast: 10)
    }
}
