@testable import GPUCompiler
import GPURuntime
import KilnBackendDescriptors
import KilnIR
import KilnOps
import KilnPartition
import KilnTensor
import Testing

/// Every GPU lowering runs on the Vulkan device (lavapipe here) and matches the portable
/// evaluator within fp32 tolerances: 1e-4 absolute plus 1e-4 relative.
struct GPUOpTests {
    /// The descriptor lists exactly the ops GPUCompiler lowers, and every one has a case.
    @Test func descriptorListsExactlyTheLoweredOps() throws {
        let descriptor = GPUCompiler().descriptor
        let listed = Set(descriptor.ops.map(\.op))
        #expect(listed == Set(GPUCompiler.loweredOps))
        #expect(descriptor.id == "KilnGPU" && descriptor.name == "gpu")
        let covered = Set(try gpuOpCases().map(\.op))
        #expect(listed.subtracting(covered).isEmpty, "descriptor entries without a test case: \(listed.subtracting(covered))")
    }

    @Test(.enabled(if: vulkanAvailable, noVulkanReason), arguments: try gpuOpCases())
    func opMatchesPortable(_ c: GPUOpCase) throws {
        let gpu = try runOnGPU(c.graph, c.inputs)
        expectClose(gpu, try runPortable(c.graph, c.inputs), c.name)
    }

    /// A chain whose intermediates share memory: the planner reuses regions whose lifetimes
    /// ended, and the results still match.
    @Test(.enabled(if: vulkanAvailable, noVulkanReason)) func memoryIsReusedAcrossAChain() throws {
        let c = try opCase("chain", [("x", [4, 64])]) { b, x in
            var h = x[0]
            for i in 0..<6 {
                h = try b.call("linear", [h, try weight(&b, "w\(i)", [64, 64], seed: UInt64(20 + i)), nil])[0]
                h = try b.call(i % 2 == 0 ? "relu" : "tanh", [h])[0]
            }
            return [h]
        }
        let plan = try GPUMemoryPlan(c.graph)
        let weights = 6 * 64 * 64
        // Input, output and 12 intermediates of 256 floats: reuse keeps the arena to a few of them.
        #expect(plan.size - weights <= 4 * 256)
        expectClose(try runOnGPU(c.graph, c.inputs), try runPortable(c.graph, c.inputs), "chain")
    }

    @Test func unsupportedOpsAndOperandsAreRejectedNamingTheNode() throws {
        let cumsum = try opCase("exp", [("x", [4])]) { b, x in try b.call("exp", [x[0]]) }
        #expect {
            try GPUCompiler().preprocess(Partition(id: 0, backend: "gpu", graph: cumsum.graph), compileSpecs: [])
        } throws: { e in
            let e = e as? GPUCompilerError
            return e?.kind == .unsupportedOp && e?.message.contains("exp") == true && e?.message.contains("#0") == true
        }
        var b = GraphBuilder(name: "ints")
        let x = try b.input("x", TensorType(.int32, static: [4]))
        b.output(try b.call("neg", [x]))
        let ints = try b.finish()
        #expect {
            try GPUCompiler().preprocess(Partition(id: 3, backend: "gpu", graph: ints), compileSpecs: [])
        } throws: { e in
            (e as? GPUCompilerError)?.kind == .unsupportedOperand && "\(e)".contains("partition 3: %x")
        }
        let transposed = try opCase("tconv", [("x", [1, 2, 4, 4])]) { b, x in
            try b.call("convolution", [x[0], try weight(&b, "w", [2, 3, 3, 3], seed: 1), nil], ["transposed": .bool(true)])
        }
        #expect(throws: GPUCompilerError.self) {
            try GPUCompiler().preprocess(Partition(id: 0, backend: "gpu", graph: transposed.graph), compileSpecs: [])
        }
    }
}
