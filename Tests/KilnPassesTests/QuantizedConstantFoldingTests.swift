import KilnIR
import KilnPasses
import KilnTensor
import Testing

/// Constant folding and quantized weights: a dequantize of a constant stays (the weight stays
/// int8), and a permute of such a dequantize moves onto the int8 constant, the per-channel axis
/// following its dim, so nothing is transposed at run time. Results are bit-identical.
@Suite struct QuantizedConstantFoldingTests {
    /// A linear on an int8 weight (per-channel along dim 0 or per-tensor), decomposed by hand as
    /// Decompose does: permute the [out, in] weight to [in, out], then addmm.
    static func linear(perChannel: Bool, extraUse: Bool = false) throws -> Graph {
        let dq = perChannel
            ? "quantized_decomposed.dequantize_per_channel(%w.int8, %w.scales, axis=0, quant_min=-127, quant_max=127, dtype=i8)"
            : "quantized_decomposed.dequantize_per_tensor(%w.int8, scale=0.01, zero_point=3, quant_min=-128, quant_max=127, dtype=i8)"
        return try parse("""
        kir 1

        graph @forward(%x: f32[2, 4]) {
          %b = constant f32[3] dense [0.1, -0.2, 0.3]
          %w.int8 = constant i8[3, 4] dense [64, -127, 32, 16, 127, 64, -32, 0, 5, -6, 7, -8]
          %w.scales = constant f32[3] dense [0.007874016, 0.015748031, 0.25]
          %w.dq = \(dq) : f32[3, 4]
          %wt = permute_copy(%w.dq, dims=[1, 0]) : f32[4, 3]
          %y = addmm(%b, %x, %wt) : f32[2, 3]
          return \(extraUse ? "%y, %w.dq" : "%y")
        }
        """)
    }

    static func folded(_ graph: Graph) throws -> Graph {
        var g = graph
        try runPasses([ConstantFolding(), DeadCodeElimination()], on: &g)
        return g
    }

    static func outputs(_ graph: Graph) throws -> [Tensor] {
        let x = try Tensor([0.5, -1, 2, 0.25, -0.75, 1.5, -2, 1] as [Float], shape: [2, 4])
        return try GraphEvaluator(graph).run([x]).outputs
    }

    @Test func aPerChannelWeightIsTransposedInTheFile() throws {
        let original = try Self.linear(perChannel: true)
        let g = try Self.folded(original)
        #expect(g.nodes.map(\.op.name) == ["quantized_decomposed.dequantize_per_channel", "addmm"])
        let dq = g.nodes[0]
        #expect(dq.arguments.contains(.int(1)), "axis follows dim 0 to position 1: \(dq.arguments)")
        let weight = try #require(g[dq.operands[0]].constantData)
        #expect(weight.dtype == .int8 && weight.shape == [4, 3])
        #expect(weight.scalars(as: Int8.self) == [64, 127, 5, -127, 64, -6, 32, -32, 7, 16, 0, -8])
        #expect(try Self.outputs(g)[0].scalars(as: Float.self) == (try Self.outputs(original)[0].scalars(as: Float.self)))
    }

    @Test func aPerTensorWeightToo() throws {
        let original = try Self.linear(perChannel: false)
        let g = try Self.folded(original)
        #expect(g.nodes.map(\.op.name) == ["quantized_decomposed.dequantize_per_tensor", "addmm"])
        #expect(try Self.outputs(g)[0].scalars(as: Float.self) == (try Self.outputs(original)[0].scalars(as: Float.self)))
    }

    @Test func aDequantizeReadElsewhereStays() throws {
        let g = try Self.folded(try Self.linear(perChannel: true, extraUse: true))
        #expect(g.nodes.map(\.op.name) == ["quantized_decomposed.dequantize_per_channel", "permute_copy", "addmm"])
    }
}
