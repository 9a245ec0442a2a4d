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
