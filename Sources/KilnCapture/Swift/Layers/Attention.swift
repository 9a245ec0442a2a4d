import KilnOps
import KilnTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The C library's cosine and sine (the class's `cos` and `sin` tables shadow the names inside it).
private func cosine(_ x: Double) -> Double { cos(x) }
private func sine(_ x: Double) -> Double { sin(x) }

/// Rotary position embeddings on `[batch, heads, seq, headDim]`: `x * cos + rotate_half(x) * sin`
/// with `rotate_half(x) = cat([-x[..., d/2:], x[..., :d/2]], -1)` (Llama's form), from tables of
/// `pos * theta^(-2i/headDim)` for `maxSequence` positions (non-persistent buffers `cos`, `sin`).
public final class RotaryEmbedding: Layer {
    public let cos: ModuleParameter
    public let sin: ModuleParameter
    public let headDim: Int

    public init(headDim: Int, maxSequence: Int, theta: Double = 10_000) {
        self.headDim = headDim
        let half = headDim / 2
        let freqs = (0..<half).map { i in pow(theta, -Double(2 * i) / Double(headDim)) }
        var cosTable: [Float] = []
        var sinTable: [Float] = []
        for pos in 0..<Swift.max(maxSequence, 0) {
            let angles = freqs.map { Double(pos) * $0 }
            let row = angles + angles
            cosTable += row.map { Float(cosine($0)) }
            sinTable += row.map { Float(sine($0)) }
        }
        let shape = [Swift.max(maxSequence, 0), 2 * half]
        cos = ModuleParameter(zeros: shape, kind: .buffer(persistent: false))
        sin = ModuleParameter(zeros: shape, kind: .buffer(persistent: false))
        if let c = try? Tensor(cosTable, shape: shape), let s = try? Tensor(sinTable, shape: shape) {
            cos.value = c
            sin.value = s
        }
    }

    /// The first `length` rows of a table, or all of them when it has that many.
    func table(_ x: TracedTensor, _ p: ModuleParameter, length: Dim) -> TracedTensor {
        let t = x.use(p)
        guard length != t.shape[0] else { return t }
        guard let n = length.staticValue else {
            x.tracer.fail(CaptureError(.trace, "rotary embeddings need a static sequence length, got \(x.type)",
                                       location: x.tracer.location(#fileID, #line)))
            return t
        }
        return t.slice(0, 0..<n)
    }

    /// Rotates `x` (`[..., seq, headDim]`) by its positions.
    public func forward(_ x: TracedTensor) -> TracedTensor {
        let length = x.rank >= 2 ? x.shape[x.rank - 2] : Dim(0)
        let cos = table(x, self.cos, length: length), sin = table(x, self.sin, length: length)
        return rotate(x, cos: cos, sin: sin)
    }

    func rotate(_ x: TracedTensor, cos: TracedTensor, sin: TracedTensor) -> TracedTensor {
        let half = headDim / 2
        let upper = x.slice(-1, half..<headDim)
        let lower = x.slice(-1, 0..<half)
        let rotated = concatenated([negative(upper), lower], dim: -1)
        return add(multiply(x, cos), multiply(rotated, sin))
    }
}

/// Multi-head self-attention with rotary embeddings and (by default) a causal mask, Llama style:
/// projections `wq`, `wk`, `wv`, `wo` without bias; `softmax(q kᵀ / sqrt(headDim) + mask) v`.
///
/// The sequence length must be static (at most `maxSequence`): the rotary tables and the mask
/// are sliced to it.
///
/// ```swift
/// let attn = MultiHeadAttention(dim: 256, heads: 4, maxSequence: 32)
/// let y = attn(x)             // f32[1, 32, 256] -> f32[1, 32, 256]
/// ```
public final class MultiHeadAttention: Layer {
    public let wq: Linear, wk: Linear, wv: Linear, wo: Linear
    public let rope: RotaryEmbedding
    /// 0 on and below the diagonal, -inf above (non-persistent); nil without a causal mask.
    public let mask: ModuleParameter?
    public let heads: Int, headDim: Int

    public init(dim: Int, heads: Int, maxSequence: Int, ropeTheta: Double = 10_000, causal: Bool = true) {
        self.heads = Swift.max(heads, 1)
        headDim = dim / self.heads
        wq = Linear(dim, dim, bias: false)
        wk = Linear(dim, dim, bias: false)
        wv = Linear(dim, dim, bias: false)
        wo = Linear(dim, dim, bias: false)
        rope = RotaryEmbedding(headDim: headDim, maxSequence: maxSequence, theta: ropeTheta)
        if causal {
            let n = Swift.max(maxSequence, 0)
            let values = (0..<n).flatMap { row in (0..<n).map { col in col <= row ? Float(0) : -Float.infinity } }
            let mask = ModuleParameter(zeros: [n, n], kind: .buffer(persistent: false))
            if let t = try? Tensor(values, shape: [n, n]) { mask.value = t }
            self.mask = mask
        } else {
            mask = nil
        }
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        guard x.rank == 3, let length = x.shape[1].staticValue else {
            x.tracer.fail(CaptureError(.trace, "attention takes [batch, seq, dim] with a static seq, got \(x.type)",
                                       location: x.tracer.location(#fileID, #line)))
            return x
        }
        let cos = rope.table(x, rope.cos, length: Dim(length)), sin = rope.table(x, rope.sin, length: Dim(length))
        let mask = self.mask.map { m -> TracedTensor in
            let t = x.use(m)
            return t.shape[0] == Dim(length) ? t : t[0..<length, 0..<length]
        }
        /// [B, T, dim] -> [B, heads, T, headDim].
        func project(_ w: Linear) -> TracedTensor {
            w(x).reshape([x.shape[0], Dim(length), Dim(heads), Dim(headDim)]).transposed(1, 2)
        }
        let q = rope.rotate(project(wq), cos: cos, sin: sin)
        let k = rope.rotate(project(wk), cos: cos, sin: sin)
        let v = project(wv)
        var scores = multiply(q.matmul(k.transposed(-2, -1)), 1 / Double(headDim).squareRoot())
        if let mask { scores = add(scores, mask) }
        let context = softmax(scores, dim: -1).matmul(v)
        return wo(context.transposed(1, 2).reshape([x.shape[0], Dim(length), Dim(heads * headDim)]))
    }
}
