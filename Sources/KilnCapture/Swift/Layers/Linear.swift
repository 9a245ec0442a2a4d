import KilnTensor

/// `nn.Linear`: `y = x @ weightᵀ + bias` over the last dim; weight `[out, in]`, bias `[out]`.
///
/// ```swift
/// let fc1 = Linear(256, 512)
/// let h = fc1(x)              // x: f32[1, 256] -> f32[1, 512]
/// ```
public final class Linear: Layer {
    public let weight: ModuleParameter
    public let bias: ModuleParameter?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        weight = ModuleParameter(zeros: [outFeatures, inFeatures])
        self.bias = bias ? ModuleParameter(zeros: [outFeatures]) : nil
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        linear(x, x.use(weight), bias.map { x.use($0) })
    }
}

/// `nn.Embedding`: rows of a `[count, dim]` table picked by integer indices.
///
/// ```swift
/// let embed = Embedding(32_000, 256)
/// let h = embed(tokens)       // tokens: i64[1, seq] -> f32[1, seq, 256]
/// ```
public final class Embedding: Layer {
    public let weight: ModuleParameter

    public init(_ count: Int, _ dim: Int) {
        weight = ModuleParameter(zeros: [count, dim])
    }

    public func forward(_ indices: TracedTensor) -> TracedTensor {
        embedding(indices, indices.use(weight))
    }
}
