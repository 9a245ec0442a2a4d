import KilnIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `decoder_block`: one Llama-style transformer block over 32 tokens of width 256.
///
/// ```
/// x: f32[1, 32, 256]
/// h   = x + attn(attn_norm(x))      4 heads of 64, rotary embeddings, causal mask, no biases
/// out = h + mlp(mlp_norm(h))        SwiGLU, hidden 768: w2(silu(w1 n) * w3 n)
/// ```
enum DecoderBlock {
    static let tokens = 32
    static let dim = 256
    static let heads = 4
    static let headDim = 64
    static let hidden = 768
    static let ropeTheta = 10_000.0

    /// Builds the graph with weights drawn from `seed`.
    static func build(seed: UInt64) throws -> ExampleModel {
        var m = ModelBuilder(graph: "decoder_block", seed: seed)
        let x = try m.input("x", [1, tokens, dim])
        let n1 = try m.rmsNorm(x, "attn_norm", dim: dim)
        let a = try attention(&m, n1, "attn")
        let h = try m.call("add.Tensor", [x, a], name: "h", at: "attn_residual")
        let n2 = try m.rmsNorm(h, "mlp_norm", dim: dim)
        let f = try mlp(&m, n2, "mlp")
        let out = try m.call("add.Tensor", [h, f], name: "out", at: "mlp_residual")
        return try m.finish(out, input: m.normalTensor("input", [1, tokens, dim]))
    }

    /// Causal multi-head self-attention with rotary embeddings on q and k.
    static func attention(_ m: inout ModelBuilder, _ x: ValueID, _ module: String) throws -> ValueID {
        let (cosTable, sinTable) = rotaryTables()
        let cos = try m.buffer("\(module).rope.cos", [tokens, headDim], cosTable)
        let sin = try m.buffer("\(module).rope.sin", [tokens, headDim], sinTable)
        let mask = try m.buffer("\(module).mask", [tokens, tokens], causalMask())

        /// linear -> [1, T, H, D] -> [1, H, T, D].
        func project(_ head: String) throws -> ValueID {
            let p = try m.linear(x, "\(module).w\(head)", in: dim, out: dim, bias: false, name: head)
            let split = try m.call("view_copy", [p], ["size": .intList([1, tokens, heads, headDim])],
                                   at: "\(module).split_\(head)")
            return try m.call("transpose.int", [split], ["dim0": .int(1), "dim1": .int(2)],
                              name: "\(head).heads", at: "\(module).split_\(head)")
        }
        /// `x * cos + rotate_half(x) * sin`, rotate_half(x) = cat([-x[..., 32:], x[..., :32]], -1).
        func rope(_ t: ValueID, _ head: String) throws -> ValueID {
            let loc = "\(module).rope_\(head)"
            let half = headDim / 2
            let upper = try m.call("slice_copy.Tensor", [t], ["dim": .int(-1), "start": .int(half), "end": .int(headDim)],
                                   at: loc)
            let lower = try m.call("slice_copy.Tensor", [t], ["dim": .int(-1), "start": .int(0), "end": .int(half)],
                                   at: loc)
            let negated = try m.call("neg", [upper], at: loc)
            let rotated = try m.call("cat", [], ["tensors": .tensorList([negated, lower]), "dim": .int(-1)], at: loc)
            let c = try m.call("mul.Tensor", [t, cos], at: loc)
            let s = try m.call("mul.Tensor", [rotated, sin], at: loc)
            return try m.call("add.Tensor", [c, s], name: "\(head).rope", at: loc)
        }

        let q = try rope(try project("q"), "q")
        let k = try rope(try project("k"), "k")
        let v = try project("v")
        let kT = try m.call("transpose.int", [k], ["dim0": .int(-2), "dim1": .int(-1)], at: "\(module).scores")
        var scores = try m.call("matmul", [q, kT], at: "\(module).scores")
        scores = try m.call("mul.Scalar", [scores], ["other": .float(1 / Double(headDim).squareRoot())],
                            at: "\(module).scale")
        scores = try m.call("add.Tensor", [scores, mask], name: "scores", at: "\(module).mask")
        let probs = try m.call("softmax.int", [scores], ["dim": .int(-1)], name: "probs", at: "\(module).softmax")
        let context = try m.call("matmul", [probs, v], name: "context", at: "\(module).context")
        let merged = try m.call("transpose.int", [context], ["dim0": .int(1), "dim1": .int(2)],
                                at: "\(module).merge_heads")
        let flat = try m.call("view_copy", [merged], ["size": .intList([1, tokens, dim])], at: "\(module).merge_heads")
        return try m.linear(flat, "\(module).wo", in: dim, out: dim, bias: false, name: "attn_out")
    }

    /// SwiGLU feed-forward: `w2(silu(w1 x) * w3 x)`.
    static func mlp(_ m: inout ModelBuilder, _ x: ValueID, _ module: String) throws -> ValueID {
        let gate = try m.linear(x, "\(module).w1", in: dim, out: hidden, bias: false, name: "gate")
        let activated = try m.call("silu", [gate], at: "\(module).silu")
        let up = try m.linear(x, "\(module).w3", in: dim, out: hidden, bias: false, name: "up")
        let product = try m.call("mul.Tensor", [activated, up], at: "\(module).gate_mul")
        return try m.linear(product, "\(module).w2", in: hidden, out: dim, bias: false, name: "mlp_out")
    }

    /// cos and sin of `pos * theta^(-2i/headDim)` for i in 0..<headDim/2, each half repeated
    /// (`cat([angles, angles], -1)`), as `[tokens, headDim]` row-major.
    static func rotaryTables() -> (cos: [Float], sin: [Float]) {
        let half = headDim / 2
        let freqs = (0..<half).map { i in pow(ropeTheta, -Double(2 * i) / Double(headDim)) }
        var cosTable: [Float] = []
        var sinTable: [Float] = []
        for pos in 0..<tokens {
            let angles = freqs.map { Double(pos) * $0 }
            let row = angles + angles
            cosTable += row.map { Float(cos($0)) }
            sinTable += row.map { Float(sin($0)) }
        }
        return (cosTable, sinTable)
    }

    /// 0 on and below the diagonal, -inf above: token i attends to tokens 0...i.
    static func causalMask() -> [Float] {
        (0..<tokens).flatMap { row in (0..<tokens).map { col in col <= row ? 0 : -Float.infinity } }
    }
}
