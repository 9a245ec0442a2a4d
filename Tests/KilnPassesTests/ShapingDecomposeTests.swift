import KilnIR
import KilnKernels
import KilnOps
import KilnPasses
import KilnTensor
import Testing

/// The decompositions of the shaping ops (text in, text out: `GoldenTests` with `Golden/decompose-shaping.kir`):
/// the numbers before and after decompose agree, on the portable kernels.
@Suite struct ShapingDecomposeTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var text: String
        var symbols: [String: Int] = [:]
        /// Inputs of these names are bool masks (`value > 0` of the sample), with row `maskedRow`
        /// all false when given.
        var masks: Set<String> = []
        var maskedRow: Int?
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "shape ops", text: """
            symbol n in 1...8
            graph @g(%x: f32[n, 1, 4], %y: f32[7, 3]) {
              %u = unsqueeze(%x, dim=1)
              %s = squeeze.dims(%u, dim=[1, 2])
              %t = squeeze.dim(%x, dim=-2)
              %e = expand(%x, size=[2, -1, 5, -1])
              %r = select.int(%y, dim=-1, index=-2)
              %a, %b, %c = split.Tensor(%y, split_size=3)
              %p, %q = split_with_sizes(%y, split_sizes=[2, 1], dim=1)
              return %s, %t, %e, %r, %a, %b, %c, %p, %q
            }
            """, symbols: ["n": 3]),
        Case(label: "layer_norm and log_softmax", text: """
            graph @g(%x: f32[2, 5, 8], %w: f32[8], %b: f32[8], %z: f32[3, 4, 6]) {
              %n = layer_norm(%x, %w, %b, normalized_shape=[8])
              %m = layer_norm(%z, normalized_shape=[4, 6], eps=0.001)
              %l = log_softmax.int(%n, dim=-1)
              %k = log_softmax.int(%m, dim=0, dtype=f32)
              return %l, %k
            }
            """),
        Case(label: "matmul with broadcast batch dims and batched right operands", text: """
            graph @g(%a: f32[2, 1, 3, 4], %b: f32[1, 5, 4, 6], %v: f32[4], %c: f32[3, 4], %t: f32[2, 4, 6]) {
              %y = matmul(%a, %b)
              %z = matmul(%v, %t)
              %w = matmul(%c, %t)
              return %y, %z, %w
            }
            """),
        Case(label: "attention, no mask and float mask", text: """
            graph @g(%q: f32[2, 3, 5, 8], %k: f32[2, 3, 6, 8], %v: f32[2, 3, 6, 4], %m: f32[5, 6]) {
              %y = scaled_dot_product_attention(%q, %k, %v)
              %z = scaled_dot_product_attention(%q, %k, %v, %m, scale=0.3)
              return %y, %z
            }
            """),
        Case(label: "attention, bool mask with a fully masked row", text: """
            graph @g(%q: f32[1, 2, 5, 8], %k: f32[1, 2, 6, 8], %v: f32[1, 2, 6, 8], %m: bool[5, 6]) {
              %y = scaled_dot_product_attention(%q, %k, %v, %m)
              return %y
            }
            """, masks: ["m"], maskedRow: 3),
        Case(label: "attention, causal (square and fewer queries), grouped heads, broadcast batch", text: """
            graph @g(%q: f32[1, 4, 5, 8], %k: f32[1, 2, 5, 8], %v: f32[1, 2, 5, 8], %p: f32[2, 2, 3, 8],
                     %r: f32[1, 2, 6, 8]) {
              %y = scaled_dot_product_attention(%q, %k, %v, is_causal=true, enable_gqa=true)
              %z = scaled_dot_product_attention(%p, %r, %r, is_causal=true)
              return %y, %z
            }
            """),
        Case(label: "attention, 3-d with a symbolic length", text: """
            symbol seq in 1...16
            graph @g(%q: f32[2, seq, 8], %k: f32[2, 6, 8], %v: f32[2, 6, 3]) {
              %y = scaled_dot_product_attention(%q, %k, %v)
              return %y
            }
            """, symbols: ["seq": 5]),
    ]

    /// Deterministic inputs for `c`'s graph.
    static func inputs(_ graph: Graph, _ c: Case) throws -> [Tensor] {
        try graph.inputs.enumerated().map { i, id in
            let shape = try graph[id].type.shape.map { try #require($0.evaluate(c.symbols)) }
            let values = try sample(shape, seed: UInt64(i + 1))
            guard c.masks.contains(graph[id].name) else { return values }
            var mask = values.scalars(as: Float.self).map { $0 > -0.3 }
            if let row = c.maskedRow, let width = shape.last {
                for j in 0..<width { mask[row * width + j] = false }
            }
            return try Tensor(mask, shape: shape)
        }
    }

    @Test(arguments: cases)
    func decomposedGraphComputesTheSameNumbers(_ c: Case) throws {
        let original = try parse(c.text)
        var decomposed = original
        try runPasses([Decompose()], on: &decomposed)
        let leftover = decomposed.nodes.filter { $0.op.pte == nil }.map { decomposed.describe($0) }
        #expect(leftover.isEmpty, "not decomposed: \(leftover)")
        let inputs = try Self.inputs(original, c)
        let before = try GraphEvaluator(original).run(inputs).outputs
        let after = try GraphEvaluator(decomposed).run(inputs).outputs
        #expect(before.count == after.count)
        for (i, (x, y)) in zip(before, after).enumerated() {
            expectClose(x, y, tolerance: 1e-5, "\(c.label), output \(i)")
        }
    }

    /// The fully masked row comes out as zeros both ways (torch's safe softmax), not NaN.
    @Test func fullyMaskedRowIsZero() throws {
        let c = Self.cases[4]
        let original = try parse(c.text)
        var decomposed = original
        try runPasses([Decompose()], on: &decomposed)
        let inputs = try Self.inputs(original, c)
        for graph in [original, decomposed] {
            let y = try GraphEvaluator(graph).run(inputs).outputs[0].scalars(as: Float.self)
            // [1, 2, 5, 8]: row 3 of both heads.
            for head in 0..<2 {
                let row = Array(y[((head * 5 + 3) * 8)..<((head * 5 + 4) * 8)])
                #expect(row == Array(repeating: 0, count: 8))
            }
            #expect(!y.contains { $0.isNaN })
        }
    }
}
