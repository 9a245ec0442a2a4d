import KilnEmit
import KilnExamples
import KilnIR
import KilnOps
import KilnPasses
import KilnRuntime
import KilnTensor
import Testing

/// A method on several threads computes the same bits as on one, and constant weights are packed
/// once when it is created (and counted in the memory it owns).
@Suite struct ThreadsAndPrepackingTests {
    @Test(arguments: ExampleModels.Name.allCases)
    func examplesGiveTheSameBitsOnTwoThreadsAndUnpacked(_ name: ExampleModels.Name) throws {
        let model = try ExampleModels.build(name)
        let compiled = try KilnCompiler.compile(model.graph)
        try withTemporaryFolder { folder in
            let program = try load(compiled.bytes, in: folder)
            let one = try program.method()([model.input])
            let method = try program.method(threads: 2)
            #expect(method.threadCount == 2)
            let two = try method([model.input])
            let plainMethod = try program.method(prepacksWeights: false)
            #expect(plainMethod.prepackedByteCount == 0)
            let plain = try plainMethod([model.input])
            for (i, (got, want)) in zip(two, one).enumerated() {
                #expect(bitwiseDifference(got, want) == nil, "\(name) output \(i): \(bitwiseDifference(got, want) ?? "")")
            }
            for (i, (got, want)) in zip(plain, one).enumerated() {
                #expect(bitwiseDifference(got, want) == nil, "\(name) output \(i) unpacked: \(bitwiseDifference(got, want) ?? "")")
            }
        }
    }

    /// Large enough that the products and convolutions split across the threads.
    @Test func splitWorkGivesTheSameBitsAsTheEvaluator() throws {
        let graph = try Self.wideModel()
        let input = try patterned([8, 16, 24, 24], seed: 3)
        let compiled = try KilnCompiler.compile(graph)
        let reference = try GraphEvaluator(try afterPasses(graph)).run([input]).outputs
        try withTemporaryFolder { folder in
            let program = try load(compiled.bytes, in: folder)
            for threads in [1, 2, 3] {
                let outputs = try program.method(threads: threads)([input])
                #expect(outputs.count == reference.count)
                for (got, want) in zip(outputs, reference) {
                    #expect(bitwiseDifference(got, want) == nil, "\(threads) threads: \(bitwiseDifference(got, want) ?? "")")
                }
            }
        }
    }

    @Test func constantWeightsArePackedOnceAndCounted() throws {
        let model = try ExampleModels.build(.mlp)
        let compiled = try KilnCompiler.compile(model.graph)
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            // fc1..fc3 weights (256x512, 512x512, 512x10 as [k, n]), n padded to 32 columns.
            #expect(method.prepackedByteCount == 4 * (256 * 512 + 512 * 512 + 512 * 32))
            #expect(method.ownedByteCount > method.prepackedByteCount)
        }
    }

    /// conv 3x3 (16 -> 32) and a depthwise conv, then flatten and a linear, on [8, 16, 24, 24].
    static func wideModel() throws -> Graph {
        var b = GraphBuilder(name: "wide")
        let x = try b.input("x", TensorType(.float32, static: [8, 16, 24, 24]))
        let w1 = try b.constant("conv.weight", try patterned([32, 16, 3, 3], seed: 1))
        let bias1 = try b.constant("conv.bias", try patterned([32], seed: 2))
        var h = try b.call("convolution", [x, w1, bias1], ["padding": .intList([1, 1])], location: "conv")[0]
        let w2 = try b.constant("dw.weight", try patterned([32, 1, 3, 3], seed: 4))
        h = try b.call("convolution", [h, w2, nil], ["padding": .intList([1, 1]), "groups": .int(32)], location: "dw")[0]
        h = try b.call("view_copy", [h], ["size": .intList([8, 32 * 24 * 24])], location: "flatten")[0]
        let w3 = try b.constant("fc.weight", try patterned([64, 32 * 24 * 24], seed: 5))
        h = try b.call("linear", [h, w3, nil], location: "fc")[0]
        b.output(h)
        return try b.finish()
    }
}
