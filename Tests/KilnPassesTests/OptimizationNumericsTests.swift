import KilnExamples
import KilnIR
import KilnOps
import KilnPasses
import KilnTensor
import Testing

/// The optimization passes keep what a graph computes: evaluated before and after on seeded
/// inputs. Batch-norm folding rounds the folded weights once, so it agrees to float32 rounding
/// of the products (relative 1e-5); layout simplification and fusion marking are exact.
@Suite struct OptimizationNumericsTests {
    static func close(_ a: Tensor, _ b: Tensor, rtol: Float) -> Bool {
        let (x, y) = (a.scalars(as: Float.self), b.scalars(as: Float.self))
        let scale = max(1, y.map(abs).max() ?? 0)
        return a.shape == b.shape && zip(x, y).allSatisfy { abs($0 - $1) <= rtol * scale }
    }

    static func seeded(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var g = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        return try Tensor((0..<count).map { _ in Float.random(in: -1..<1, using: &g) }, shape: shape)
    }

    /// conv (3x3, groups 2, bias) → batch norm, and linear → batch norm, with seeded parameters.
    static func model() throws -> Graph {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", TensorType(.float32, static: [2, 4, 6, 6]))
        func constant(_ name: String, _ shape: [Int], _ seed: UInt64, positive: Bool = false) throws -> ValueID {
            var t = try seeded(shape, seed: seed)
            if positive { t = try Tensor(t.scalars(as: Float.self).map { abs($0) + 0.1 }, shape: shape) }
            return try b.constant(name, t)
        }
        let w = try constant("w", [4, 2, 3, 3], 1), bias = try constant("b", [4], 2)
        let c = try b.call("convolution", [x, w, bias], [
            "stride": .intList([1, 1]), "padding": .intList([1, 1]), "dilation": .intList([1, 1]),
            "transposed": .bool(false), "output_padding": .intList([0, 0]), "groups": .int(2)])[0]
        let bn = try b.call("_native_batch_norm_legit_no_training", [
            c, try constant("g", [4], 3), try constant("beta", [4], 4), try constant("mean", [4], 5),
            try constant("var", [4], 6, positive: true)], ["momentum": .float(0.1), "eps": .float(1e-5)])[0]
        let r = try b.call("relu", [bn])[0]
        let flat = try b.call("view_copy", [r], ["size": .intList([2, 144])])[0]
        let fc = try b.call("linear", [flat, try constant("fc.w", [8, 144], 7), try constant("fc.b", [8], 8)])[0]
        let bn2 = try b.call("batch_norm", [
            fc, try constant("g2", [8], 9), try constant("beta2", [8], 10), try constant("mean2", [8], 11),
            try constant("var2", [8], 12, positive: true)], ["momentum": .float(0.1), "eps": .float(1e-5)])[0]
        b.output(bn2)
        return try b.finish()
    }

    @Test func foldingBatchNormKeepsTheOutputs() throws {
        let original = try Self.model()
        var optimized = original
        try runPasses([Decompose(), ConstantFolding(), FoldBatchNorm(), SimplifyLayout(), MarkActivationFusion(),
                       DeadCodeElimination()], on: &optimized)
        let ops = optimized.nodes.map(\.op.name)
        #expect(!ops.contains("_native_batch_norm_legit_no_training"), "not folded: \(ops)")
        #expect(ops == ["convolution", "relu", "view_copy", "addmm"])
        #expect(optimized.nodes[0].annotations["fused_activation"] == .string("relu"))
        let x = try Self.seeded([2, 4, 6, 6], seed: 99)
        let before = try GraphEvaluator(original).run([x]).outputs[0]
        let after = try GraphEvaluator(optimized).run([x]).outputs[0]
        #expect(Self.close(after, before, rtol: 1e-5))
    }

    @Test(arguments: ExampleModels.Name.allCases)
    func theStandardPipelineKeepsTheExamplesOutputs(_ name: ExampleModels.Name) throws {
        let model = try ExampleModels.build(name)
        var optimized = model.graph
        try runPasses([Decompose(), ConstantFolding(), FoldBatchNorm(), SimplifyLayout(), MarkActivationFusion(),
                       CommonSubexpressionElimination(), DeadCodeElimination()], on: &optimized)
        let before = try GraphEvaluator(model.graph).run([model.input]).outputs
        let after = try GraphEvaluator(optimized).run([model.input]).outputs
        for (a, b) in zip(after, before) { #expect(Self.close(a, b, rtol: 1e-5)) }
    }
}
