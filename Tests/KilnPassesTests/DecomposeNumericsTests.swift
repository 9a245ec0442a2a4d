import Foundation
import KilnExamples
import KilnIR
import KilnKernels
import KilnOps
import KilnPasses
import KilnTensor
import Testing

/// The kernels the decomposed graphs and their originals need.
private let decomposeKernels = kernelsExist(
    "linear", "matmul", "reshape", "flatten.using_ints", "transpose.int", "softmax.int", "batch_norm",
    "adaptive_avg_pool2d", "rms_norm", "addmm", "mm", "bmm", "view_copy", "permute_copy", "_softmax",
    "_native_batch_norm_legit_no_training", "_adaptive_avg_pool2d", "mul.Tensor", "mean.dim", "add.Scalar", "rsqrt")

/// Evaluates before and after decompose on the same inputs: the numbers must agree.
@Suite(.enabled(if: decomposeKernels, "decompose numerics need the portable kernels, which are not all registered yet"))
struct DecomposeNumericsTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var text: String
        var symbols: [String: Int] = [:]
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "linear 2-D with bias", text: """
            graph @g(%x: f32[3, 5], %w: f32[4, 5], %b: f32[4]) {
              %y = linear(%x, %w, %b)
              return %y
            }
            """),
        Case(label: "linear 3-D without bias", text: """
            graph @g(%x: f32[2, 3, 5], %w: f32[4, 5]) {
              %y = linear(%x, %w)
              return %y
            }
            """),
        Case(label: "linear on a symbolic input", text: """
            symbol seq in 1...16
            graph @g(%x: f32[1, seq, 5], %w: f32[4, 5], %b: f32[4]) {
              %y = linear(%x, %w, %b)
              return %y
            }
            """, symbols: ["seq": 7]),
        Case(label: "linear 1-D", text: """
            graph @g(%x: f32[5], %w: f32[4, 5], %b: f32[4]) {
              %y = linear(%x, %w, %b)
              return %y
            }
            """),
        Case(label: "matmul: mm, N-D by 2-D, batch of ones", text: """
            graph @g(%a: f32[3, 5], %b: f32[5, 4], %c: f32[2, 3, 5], %d: f32[1, 5, 4]) {
              %m = matmul(%a, %b)
              %n = matmul(%c, %b)
              %o = matmul(%c, %d)
              return %m, %n, %o
            }
            """),
        Case(label: "matmul: bmm and 4-D equal batch", text: """
            graph @g(%a: f32[3, 2, 5], %b: f32[3, 5, 4], %q: f32[2, 3, 4, 6], %k: f32[2, 3, 6, 4]) {
              %m = matmul(%a, %b)
              %s = matmul(%q, %k)
              return %m, %s
            }
            """),
        Case(label: "matmul with 1-D operands", text: """
            graph @g(%v: f32[5], %m: f32[5, 3], %n: f32[2, 5], %t: f32[2, 4, 5]) {
              %a = matmul(%v, %m)
              %b = matmul(%n, %v)
              %c = matmul(%v, %v)
              %d = matmul(%t, %v)
              return %a, %b, %c, %d
            }
            """),
        Case(label: "reshape, flatten, transpose", text: """
            graph @g(%x: f32[2, 3, 4]) {
              %r = reshape(%x, shape=[4, -1])
              %f = flatten.using_ints(%x, start_dim=1)
              %t = transpose.int(%x, dim0=-1, dim1=0)
              %u = transpose.int(%x, dim0=1, dim1=1)
              return %r, %f, %t, %u
            }
            """),
        Case(label: "flatten of a symbolic tensor", text: """
            symbol n in 1...8
            graph @g(%x: f32[n, 3, 4]) {
              %f = flatten.using_ints(%x, start_dim=1)
              %a = flatten.using_ints(%x)
              return %f, %a
            }
            """, symbols: ["n": 5]),
        Case(label: "softmax, batch norm, adaptive pooling", text: """
            graph @g(%x: f32[2, 3, 5, 4], %g: f32[3], %b: f32[3], %mean: f32[3], %var: f32[3]) {
              %n = batch_norm(%x, %g, %b, %mean, %var, eps=0.001)
              %m = batch_norm(%x, none, none, %mean, %var)
              %p = adaptive_avg_pool2d(%n, output_size=[2, 3])
              %s = softmax.int(%p, dim=1)
              %t = softmax.int(%m, dim=-1, dtype=f32)
              return %s, %t
            }
            """),
        Case(label: "rms_norm with and without weight and eps", text: """
            graph @g(%x: f32[3, 8], %w: f32[8], %y: f32[2, 3, 2, 4], %v: f32[2, 4]) {
              %n = rms_norm(%x, %w, normalized_shape=[8], eps=1e-06)
              %m = rms_norm(%y, normalized_shape=[2, 4])
              %o = rms_norm(%y, %v, normalized_shape=[2, 4], eps=0.5)
              return %n, %m, %o
            }
            """),
    ]

    /// Deterministic inputs for `graph` with the symbols at `symbols`.
    static func inputs(_ graph: Graph, _ symbols: [String: Int]) throws -> [Tensor] {
        try graph.inputs.enumerated().map { i, id in
            let shape = try graph[id].type.shape.map { try #require($0.evaluate(symbols)) }
            var t = try sample(shape, seed: UInt64(i + 1))
            // Running variances must be positive.
            if graph[id].name == "var" { t = try Tensor(t.scalars(as: Float.self).map { abs($0) + 0.5 }, shape: shape) }
            return t
        }
    }

    @Test(arguments: cases)
    func decomposedGraphComputesTheSameNumbers(_ c: Case) throws {
        let original = try parse(c.text)
        var decomposed = original
        try runPasses([Decompose()], on: &decomposed)
        let leftover = decomposed.nodes.filter { $0.op.pte == nil }.map { decomposed.describe($0) }
        #expect(leftover.isEmpty, "not decomposed: \(leftover)")
        let inputs = try Self.inputs(original, c.symbols)
        let before = try GraphEvaluator(original).run(inputs).outputs
        let after = try GraphEvaluator(decomposed).run(inputs).outputs
        #expect(before.count == after.count)
        for (i, (x, y)) in zip(before, after).enumerated() {
            expectClose(x, y, tolerance: 1e-5, "\(c.label), output \(i)")
        }
    }
}

/// The example models (KilnExamples, built in memory): decomposing, and the whole pipeline,
/// keep their outputs.
struct ExamplePipelineTests {
    @Test(arguments: ExampleModels.Name.allCases)
    func pipelineKeepsTheOutputs(_ name: ExampleModels.Name) throws {
        let model = try ExampleModels.build(name)
        let (original, input) = (model.graph, model.input)
        let reference = try GraphEvaluator(original).run([input]).outputs

        var decomposed = original
        try runPasses([Decompose()], on: &decomposed)
        #expect(decomposed.nodes.allSatisfy { $0.op.pte != nil })
        var optimized = decomposed
        let stats = try runPasses([CommonSubexpressionElimination(), ConstantFolding(), DeadCodeElimination()],
                                  on: &optimized)
        #expect(optimized.nodes.allSatisfy { $0.op.pte != nil })
        #expect(stats.last.map { $0.nodesAfter <= decomposed.nodes.count } == true)

        for graph in [decomposed, optimized] {
            let outputs = try GraphEvaluator(graph).run([input]).outputs
            for (x, y) in zip(reference, outputs) { expectClose(x, y, tolerance: 1e-4, "\(name)") }
        }
    }
}
