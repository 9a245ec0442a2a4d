import KilnIR
import KilnKernels
import KilnOps
import KilnPasses
import KilnTensor
import Testing

/// The math ops' decompositions (text in, text out: `GoldenTests` with `Golden/decompose-math.kir`): the same
/// numbers before and after, evaluated with the portable kernels.
@Suite struct DecomposeMathTests {
    /// Each non-core math op against its decomposition, on inputs that hit every kink. The f32
    /// decompositions compute what the fused kernels do, operation for operation, so the results
    /// are bit-identical; float16 ones round after every step, so they agree to a float16 ulp.
    @Test(arguments: [
        ("hardswish f32", "%y = hardswish(%x)", DType.float32, Float(0)),
        ("hardsigmoid f32", "%y = hardsigmoid(%x)", .float32, 0),
        ("hardswish f16", "%y = hardswish(%x)", .float16, 1e-3),
        ("hardsigmoid f16", "%y = hardsigmoid(%x)", .float16, 1e-3),
        ("triu", "%y = triu(%x, diagonal=1)", .float32, 0),
        ("triu, far diagonal", "%y = triu(%x, diagonal=-9223372036854775808)", .float32, 0),
        ("softmax in f32 of f16", "%y = softmax.int(%x, dim=-1, dtype=f32)", .float16, 0),
    ])
    func decomposedMatchesTheFusedKernel(_ label: String, _ line: String, _ dtype: DType, _ tolerance: Float) throws {
        let values = (0..<48).map { Float($0) / 4 - 6 }  // -6 ... 5.75 by 0.25: -3, 0 and 3 included
        let x: Tensor = dtype == .float16
            ? try Tensor(values.map { Float16($0) }, shape: [6, 8]) : try Tensor(values, shape: [6, 8])
        let graph = try parse("graph @g(%x: \(dtype.textName)[6, 8]) {\n  \(line)\n  return %y\n}\n")
        var decomposed = graph
        try runPasses([Decompose()], on: &decomposed)
        #expect(decomposed.nodes.allSatisfy { $0.op.pte != nil })
        let before = try GraphEvaluator(graph).run([x]).outputs[0]
        let after = try GraphEvaluator(decomposed).run([x]).outputs[0]
        if tolerance == 0 {
            #expect(before == after, "\(label): \(before.floatValues()) vs \(after.floatValues())")
        } else {
            expectClose(before, after, tolerance: tolerance, label)
        }
    }

    @Test func zerosAndOnesMatchFull() throws {
        let graph = try parse("""
            graph @g() {
              %z = zeros(size=[2, 3], dtype=bf16)
              %o = ones(size=[3])
              return %z, %o
            }
            """)
        var decomposed = graph
        try runPasses([Decompose()], on: &decomposed)
        #expect(decomposed.nodes.map(\.op.name) == ["full", "full"])
        let before = try GraphEvaluator(graph).run([]).outputs
        let after = try GraphEvaluator(decomposed).run([]).outputs
        #expect(before == after)
        #expect(after[1].floatValues() == [1, 1, 1])
    }
}
