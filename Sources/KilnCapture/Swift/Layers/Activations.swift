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
