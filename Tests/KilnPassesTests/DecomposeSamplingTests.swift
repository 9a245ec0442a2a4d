import KilnIR
import KilnOps
import KilnPasses
import KilnTensor
import Testing

/// The decompositions of the sampling ops (golden text: `GoldenTests`, `Golden/decompose-sampling.kir`):
/// the decomposed graphs compute the original's numbers.
@Suite struct DecomposeSamplingTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var text: String
        var symbols: [String: Int] = [:]
        /// Pooling, upsampling and padding pick elements (exact); the convolutions sum in
        /// another order after decomposition (im2col and GEMM against direct loops).
        var tolerance: Float = 0
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "max_pool2d: padding, ceil mode, dilation", text: """
            graph @g(%x: f32[2, 3, 9, 8]) {
              %a = max_pool2d(%x, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=true)
              %b = max_pool2d(%x, kernel_size=[2, 3], dilation=[2, 1])
              return %a, %b
            }
            """),
        Case(label: "max_pool2d on a symbolic height", text: """
            symbol h in 4...16
            graph @g(%x: f32[1, 2, h, 7]) {
              %a = max_pool2d(%x, kernel_size=[2, 2])
              return %a
            }
            """, symbols: ["h": 9]),
        Case(label: "plain upsample forms, with and without scales", text: """
            graph @g(%x: f32[2, 3, 5, 7]) {
              %n = upsample_nearest2d(%x, output_size=[7, 14], scales_h=1.5)
              %m = upsample_nearest2d(%x, output_size=[8, 11])
              %b = upsample_bilinear2d(%x, output_size=[7, 10], align_corners=false, scales_h=1.5, scales_w=1.5)
              %c = upsample_bilinear2d(%x, output_size=[9, 13], align_corners=true)
              %d = upsample_bilinear2d(%x, output_size=[9, 15], align_corners=false, scales_w=2.2)
              return %n, %m, %b, %c, %d
            }
            """),
        Case(label: "conv2d batched and unbatched", text: """
            graph @g(%x: f32[2, 4, 9, 8], %w: f32[6, 2, 3, 3], %b: f32[6], %u: f32[4, 7, 7]) {
              %c = conv2d(%x, %w, %b, stride=[2, 1], padding=[1, 1], groups=2)
              %d = conv2d(%u, %w, dilation=[2, 2], groups=2)
              return %c, %d
            }
            """, tolerance: 1e-5),
        Case(label: "conv_transpose2d.input batched and unbatched", text: """
            graph @g(%x: f32[2, 4, 5, 4], %w: f32[4, 3, 3, 2], %b: f32[6], %u: f32[4, 3, 3]) {
              %c = conv_transpose2d.input(%x, %w, %b, stride=[2, 2], padding=[1, 0], output_padding=[1, 1], groups=2)
              %d = conv_transpose2d.input(%u, %w, dilation=[2, 1])
              return %c, %d
            }
            """, tolerance: 1e-5),
        Case(label: "unbatched conv2d on a symbolic height", text: """
            symbol h in 3...12
            graph @g(%x: f32[2, h, 6], %w: f32[3, 2, 3, 3]) {
              %c = conv2d(%x, %w, padding=[1, 1])
              return %c
            }
            """, symbols: ["h": 5], tolerance: 1e-5),
    ]

    @Test(arguments: cases)
    func decomposedGraphComputesTheSameNumbers(_ c: Case) throws {
        let original = try parse(c.text)
        var decomposed = original
        try runPasses([Decompose()], on: &decomposed)
        #expect(decomposed.nodes.allSatisfy { $0.op.pte != nil }, "\(KIRPrinter.print(decomposed))")
        let inputs = try original.inputs.enumerated().map { i, id in
            try sample(try original[id].type.shape.map { try #require($0.evaluate(c.symbols)) }, seed: UInt64(i + 1))
        }
        let before = try GraphEvaluator(original).run(inputs).outputs
        let after = try GraphEvaluator(decomposed).run(inputs).outputs
        #expect(before.count == after.count)
        for (i, (x, y)) in zip(before, after).enumerated() {
            expectClose(x, y, tolerance: c.tolerance, "\(c.label), output \(i)")
        }
    }
}
