import KilnEmit
import KilnIR
import KilnOps
import KilnPasses
import KilnRuntime
import KilnTensor
import Testing

/// Bounded-dynamic inputs (DYNAMIC_BOUND): any size up to the bound runs, shapes downstream
/// follow through each op's shape rule, a size past the bound is rejected naming the input.
@Suite struct DynamicShapeTests {
    /// `x: f32[b, 4]` with `b in 1...8` → linear (4 → 3) → relu, and a softmax over the features.
    static func model() throws -> Graph {
        var b = GraphBuilder(name: "forward")
        let batch = b.symbol("b", range: 1...8)
        let x = try b.input("x", TensorType(.float32, [Dim(batch), 4]))
        let w = try b.constant("w", try patterned([3, 4], seed: 1))
        let bias = try b.constant("bias", try patterned([3], seed: 2))
        let y = try b.call("linear", [x, w, bias], location: "fc")[0]
        let z = try b.call("relu", [y], location: "act")[0]
        let s = try b.call("softmax.int", [z], ["dim": .int(1)], location: "softmax")[0]
        b.output(s, y)
        return try b.finish()
    }

    @Test func runsAtEverySizeUpToTheBoundAndRejectsMore() throws {
        let graph = try Self.model()
        let emitted = try afterPasses(graph)
        let compiled = try KilnCompiler.compile(graph)
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            let meta = try method.inputMeta(0)
            #expect(meta.isDynamic)
            #expect(meta.sizes == [8, 4])
            #expect(meta.description == "f32[<=8, <=4]")
            // Growing, shrinking and repeating sizes.
            for (run, batch) in [1, 3, 8, 3, 3, 1].enumerated() {
                let x = try patterned([batch, 4], seed: run)
                let outputs = try method([x])
                let reference = try GraphEvaluator(emitted).run([x]).outputs
                #expect(outputs.map(\.shape) == [[batch, 3], [batch, 3]])
                for (got, want) in zip(outputs, reference) {
                    #expect(bitwiseDifference(got, want) == nil, "batch \(batch): \(bitwiseDifference(got, want) ?? "")")
                }
            }
            expectRuntimeError(.inputShape, "input 0", "got f32[9, 4]", "dim 0 is 9, beyond its bound 8") {
                try method.setInput(try patterned([9, 4]), at: 0)
            }
            // The method still runs at the last good size.
            #expect(try method([try patterned([2, 4])])[0].shape == [2, 3])
        }
    }

    @Test func aShapeTheOpsRejectIsReportedAndBlocksExecution() throws {
        let compiled = try KilnCompiler.compile(try Self.model())
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            // Within the bounds the file records (every dim of a dynamic tensor is a bound),
            // but the weight needs 4 features.
            expectRuntimeError(.shape, "input 0", "became f32[2, 3]", "aten::addmm.out") {
                try method.setInput(try patterned([2, 3]), at: 0)
            }
            expectRuntimeError(.shape, "aten::addmm.out") { try method.execute() }
            try method.setInput(try patterned([2, 4]), at: 0)
            try method.execute()
            #expect(try method.output(0).shape == [2, 3])
        }
    }
}
