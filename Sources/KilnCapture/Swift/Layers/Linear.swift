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

/// `nn.Dropout`: the identity at inference, which is all a capture records.
public struct Dropout: Layer {
    public let probability: Double

    public init(_ probability: Double = 0.5) {
        self.probability = probability
    }

    public func forward(_ x: TracedTensor) -> TracedTensor { x }
}

/// `nn.ReLU`: `max(x, 0)`.
public struct ReLU: Layer {
    public init() {}
    public func forward(_ x: TracedTensor) -> TracedTensor { relu(x) }
}

/// `nn.GELU`: exact (`approximate: "none"`) or tanh form.
public struct GELU: Layer {
    public let approximate: String
    public init(approximate: String = "none") { self.approximate = approximate }
    public func forward(_ x: TracedTensor) -> TracedTensor { gelu(x, approximate: approximate) }
}

/// `nn.SiLU`: `x * sigmoid(x)`.
public struct SiLU: Layer {
    public init() {}
    public func forward(_ x: TracedTensor) -> TracedTensor { silu(x) }
}

/// `nn.Flatten`: dims `start...end` merged into one (PyTorch's default keeps the batch dim).
public struct Flatten: Layer {
    public let start: Int, end: Int
    public init(start: Int = 1, end: Int = -1) {
        self.start = start
        self.end = end
    }
    public func forward(_ x: TracedTensor) -> TracedTensor { x.flattened(start: start, end: end) }
}

/// `nn.Sequential`: modules applied in order, named `0`, `1`, ... in parameter paths.
///
/// ```swift
/// let mlp = Sequential(Linear(256, 512), ReLU(), Linear(512, 10))   // 0.weight, 0.bias, 2.weight, ...
/// ```
public final class Sequential: Layer {
    public let layers: [any Module]

    public init(_ layers: [any Module]) {
        self.layers = layers
    }

    public convenience init(_ layers: any Module...) {
        self.init(layers)
    }

    public func namedChildren() -> [(key: String, value: Any)] {
        layers.enumerated().map { (String($0.offset), $0.element as Any) }
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        layers.reduce(x) { h, layer in layer(h) }
    }
}
