/// Llama's SwiGLU feed-forward: `w2(silu(w1 x) * w3 x)`, no biases.
public final class FeedForward: Layer {
    public let w1: Linear, w2: Linear, w3: Linear

    public init(dim: Int, hidden: Int) {
        w1 = Linear(dim, hidden, bias: false)
        w2 = Linear(hidden, dim, bias: false)
        w3 = Linear(dim, hidden, bias: false)
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        w2(multiply(silu(w1(x)), w3(x)))
    }
}

/// A Llama-style decoder block: `h = x + attn(attn_norm(x))`, `out = h + mlp(mlp_norm(h))`.
///
/// ```swift
/// let block = DecoderBlock(dim: 256, heads: 4, hidden: 768, maxSequence: 32)
/// let graph = try capture(block, inputs: [TensorSpec("x", [1, 32, 256])])
/// ```
public final class DecoderBlock: Layer {
    public let attnNorm: RMSNorm
    public let attn: MultiHeadAttention
    public let mlpNorm: RMSNorm
    public let mlp: FeedForward

    public init(dim: Int, heads: Int, hidden: Int, maxSequence: Int, ropeTheta: Double = 10_000, eps: Double = 1e-5) {
        attnNorm = RMSNorm(dim, eps: eps)
        attn = MultiHeadAttention(dim: dim, heads: heads, maxSequence: maxSequence, ropeTheta: ropeTheta)
        mlpNorm = RMSNorm(dim, eps: eps)
        mlp = FeedForward(dim: dim, hidden: hidden)
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        let h = add(x, attn(attnNorm(x)))
        return add(h, mlp(mlpNorm(h)))
    }
}
