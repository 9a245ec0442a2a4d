import GPUCompiler
@testable import GPURuntime
import KilnEmit
import KilnExamples
import KilnIR
import KilnOps
import KilnPartition
import KilnPasses
import KilnRuntime
import KilnTensor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Examples delegated to `gpu` through the whole pipeline (canonicalize → partition → lower →
/// `.pte` → `Program.load` → execute on Vulkan) match the portable evaluator: 1e-4 absolute
/// plus 1e-4 relative per element.
struct GPUEndToEndTests {
    /// The graph lowered for the GPU backend alone, and its `.pte` bytes.
    static func compileForGPU(_ graph: Graph) throws -> (lowered: Graph, bytes: [UInt8]) {
        let catalog = BackendCatalog()
        catalog.register(GPUCompiler())
        let (lowered, _) = try DelegationPipeline(backends: try catalog.resolve(["gpu"])).run(graph)
        return (lowered, try KilnCompiler.compile(lowered).bytes)
    }

    /// Loads `bytes` with `runtime` as the only backend and runs it on `inputs`.
    static func run(_ bytes: [UInt8], _ inputs: [Tensor], runtime: GPURuntime = GPURuntime()) throws -> [Tensor] {
        let registry = BackendRegistry()
        registry.register(runtime)
        let path = "/tmp/kiln-gpu-e2e-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).pte"
        try FileIO.writeAtomically(bytes, to: path)
        defer { unlink(path) }
        let method = try Program.load(path: path, backends: registry).method()
        return try method(inputs)
    }

    @Test(.enabled(if: vulkanAvailable, noVulkanReason), arguments: ExampleModels.Name.allCases)
    func exampleDelegatedToGPUMatchesPortable(_ name: ExampleModels.Name) throws {
        let model = try ExampleModels.build(name)
        let (lowered, bytes) = try Self.compileForGPU(model.graph)
        // Every compute node went to the GPU: the method is one delegate call.
        #expect(lowered.delegates.map(\.backendID) == ["KilnGPU"])
        #expect(lowered.nodes.count == 1)
        let reference = try GraphEvaluator(model.graph).run([model.input]).outputs
        expectClose(try Self.run(bytes, [model.input]), reference, "\(name)")
        // Twice: the recorded command buffer and the planned memory are reused.
        expectClose(try Self.run(bytes, [model.input]), reference, "\(name), second load")
    }

    @Test(.enabled(if: vulkanAvailable, noVulkanReason)) func aPartitionBetweenPortableNodesRuns() throws {
        // exp stays portable: GPU partitions before and after it, values crossing both ways.
        var b = GraphBuilder(name: "split")
        let x = try b.input("x", TensorType(.float32, static: [4, 16]))
        let h = try b.call("relu", [try b.call("linear", [x, try b.constant("w", try seeded([16, 16], seed: 3)), nil])[0]])[0]
        let e = try b.call("exp", [h])[0]
        b.output(try b.call("add.Tensor", [try b.call("neg", [e])[0], h])[0], e)
        let graph = try b.finish()
        let (lowered, bytes) = try Self.compileForGPU(graph)
        #expect(lowered.delegates.count == 2)
        let input = try seeded([4, 16], seed: 9)
        expectClose(try Self.run(bytes, [input]), try GraphEvaluator(graph).run([input]).outputs, "split")
    }

    @Test func aProgramForAnUnavailableGPUFailsToLoadNamingIt() throws {
        let model = try ExampleModels.build(.mlp)
        let (_, bytes) = try Self.compileForGPU(model.graph)
        let missing = GPURuntime(context: .failure(GPURuntimeError(.unavailable, "no Vulkan device with a compute queue")))
        #expect(!missing.isAvailable)
        let error = try #require(throws: RuntimeError.self) { try Self.run(bytes, [model.input], runtime: missing) }
        #expect(error.kind == .backendUnavailable)
        #expect(error.description.contains("KilnGPU"))
    }
}
