import KilnOps

/// `nn.LayerNorm` over the trailing `shape` dims: `(x - mean) / sqrt(var + eps) * weight + bias`.
public final class LayerNorm: Layer {
    public let weight: ModuleParameter?
    public let bias: ModuleParameter?
    public let normalizedShape: [Int]
    public let eps: Double

    public init(_ normalizedShape: [Int], eps: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.normalizedShape = normalizedShape
        self.eps = eps
        weight = elementwiseAffine ? ModuleParameter(ones: normalizedShape) : nil
        self.bias = elementwiseAffine && bias ? ModuleParameter(zeros: normalizedShape) : nil
    }

    /// Over the last dim of size `dim`.
    public convenience init(_ dim: Int, eps: Double = 1e-5) {
        self.init([dim], eps: eps)
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        x.apply("layer_norm", [weight.map { x.use($0) }, bias.map { x.use($0) }],
                ["normalized_shape": .intList(normalizedShape), "eps": .float(eps)], at: x.tracer.location(#fileID, #line))
    }
}

/// `nn.RMSNorm` over the last dim: `x / sqrt(mean(x²) + eps) * weight`. `eps` is 1e-5 unless
/// given (PyTorch's default, None, means the dtype's machine epsilon).
public final class RMSNorm: Layer {
    public let weight: ModuleParameter
    public let eps: Double

    public init(_ dim: Int, eps: Double = 1e-5) {
        weight = ModuleParameter(ones: [dim])
        self.eps = eps
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        x.apply("rms_norm", [x.use(weight)], ["normalized_shape": .intList(weight.value.shape), "eps": .float(eps)],
                at: x.tracer.location(#fileID, #line))
    }
}
