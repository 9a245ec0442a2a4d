import KilnCapture

/// The three Kiln Examples (`Examples/README.md`) written as Swift modules. Captured with the
/// Examples' weights loaded, each gives the graph `KilnExamples` builds node by node (same ops,
/// arguments, shapes and constant names; locations are the Swift lines here).
///
/// ```swift
/// let mlp = MLP()
/// try mlp.load(weights)                  // fc1.weight, fc1.bias, ...
/// let graph = try capture(mlp, inputs: [TensorSpec("x", [1, 256])], name: "mlp")
/// ```

/// `mlp`: `fc1 (256 -> 512) -> relu -> fc2 (512 -> 512) -> relu -> fc3 (512 -> 10)`.
public final class MLP: Module {
    public let fc1 = Linear(256, 512)
    public let fc2 = Linear(512, 512)
    public let fc3 = Linear(512, 10)

    public init() {}

    public func callAsFunction(_ x: TracedTensor) -> TracedTensor {
        var h = relu(fc1(x))
        h = relu(fc2(h))
        return fc3(h)
    }
}

/// One block of the CNN: conv3x3 (no bias) -> batch norm -> relu.
public final class ConvBlock: Module {
    public let conv: Conv2d
    public let bn: BatchNorm2d
    public let relu = ReLU()

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int) {
        conv = Conv2d(inChannels, outChannels, kernelSize: 3, stride: stride, padding: 1, bias: false)
        bn = BatchNorm2d(outChannels)
    }

    public func callAsFunction(_ x: TracedTensor) -> TracedTensor {
        relu(bn(conv(x)))
    }
}

/// `cnn`: three conv blocks (3 -> 16 -> 32 -> 64 channels), adaptive average pooling to 1x1,
/// flatten, and a linear head to 10 logits.
public final class CNN: Module {
    public let blocks = [ConvBlock(3, 16, stride: 1), ConvBlock(16, 32, stride: 2), ConvBlock(32, 64, stride: 2)]
    public let pool = AdaptiveAvgPool2d([1, 1])
    public let flatten = Flatten()
    public let fc = Linear(64, 10)

    public init() {}

    public func callAsFunction(_ x: TracedTensor) -> TracedTensor {
        let features = blocks.reduce(x) { h, block in block(h) }
        return fc(flatten(pool(features)))
    }
}

/// `decoder_block`: one Llama-style block over 32 tokens of width 256 (4 heads of 64, rotary
/// embeddings, causal mask), SwiGLU feed-forward of 768: KilnCapture's `DecoderBlock` written
/// out, to show a user module made of the built-in layers.
public final class Decoder: Module {
    public let attnNorm = RMSNorm(256)
    public let attn = MultiHeadAttention(dim: 256, heads: 4, maxSequence: 32)
    public let mlpNorm = RMSNorm(256)
    public let mlp = FeedForward(dim: 256, hidden: 768)

    public init() {}

    public func callAsFunction(_ x: TracedTensor) -> TracedTensor {
        let h = x + attn(attnNorm(x))
        return h + mlp(mlpNorm(h))
    }
}
