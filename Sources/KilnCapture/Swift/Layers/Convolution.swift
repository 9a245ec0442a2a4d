import KilnOps
import KilnTensor

/// `nn.Conv2d` on NCHW input: weight `[out, in / groups, kh, kw]`, optional bias `[out]`.
///
/// ```swift
/// let conv = Conv2d(3, 16, kernelSize: 3, padding: 1)
/// let h = conv(x)             // f32[1, 3, 64, 64] -> f32[1, 16, 64, 64]
/// ```
public final class Conv2d: Layer {
    public let weight: ModuleParameter
    public let bias: ModuleParameter?
    public let stride: [Int], padding: [Int], dilation: [Int]
    public let groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        weight = ModuleParameter(zeros: [outChannels, inChannels / Swift.max(groups, 1), kernelSize, kernelSize])
        self.bias = bias ? ModuleParameter(zeros: [outChannels]) : nil
        self.stride = [stride, stride]
        self.padding = [padding, padding]
        self.dilation = [dilation, dilation]
        self.groups = groups
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        x.apply("convolution", [x.use(weight), bias.map { x.use($0) }],
                ["stride": .intList(stride), "padding": .intList(padding), "dilation": .intList(dilation),
                 "groups": .int(groups)],
                at: x.tracer.location(#fileID, #line))
    }
}

/// `nn.BatchNorm2d` at inference: `(x - running_mean) / sqrt(running_var + eps) * weight + bias`
/// per channel (dim 1). `num_batches_tracked` is kept so PyTorch state dicts load.
public final class BatchNorm2d: Layer {
    public let weight: ModuleParameter
    public let bias: ModuleParameter
    public let runningMean: ModuleParameter
    public let runningVar: ModuleParameter
    public let numBatchesTracked: ModuleParameter
    public let eps: Double

    public init(_ channels: Int, eps: Double = 1e-5) {
        weight = ModuleParameter(ones: [channels])
        bias = ModuleParameter(zeros: [channels])
        runningMean = ModuleParameter(zeros: [channels], kind: .buffer(persistent: true))
        runningVar = ModuleParameter(ones: [channels], kind: .buffer(persistent: true))
        numBatchesTracked = ModuleParameter(zeros: [], dtype: .int64, kind: .buffer(persistent: true))
        self.eps = eps
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        x.apply("batch_norm", [x.use(weight), x.use(bias), x.use(runningMean), x.use(runningVar)],
                ["training": .bool(false), "eps": .float(eps)], at: x.tracer.location(#fileID, #line))
    }
}

/// `nn.MaxPool2d`: the largest element of each window (stride defaults to the kernel size).
public struct MaxPool2d: Layer {
    public let kernelSize: Int, stride: Int, padding: Int

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        x.apply("max_pool2d", [], ["kernel_size": .intList([kernelSize, kernelSize]), "stride": .intList([stride, stride]),
                                   "padding": .intList([padding, padding])],
                at: x.tracer.location(#fileID, #line))
    }
}

/// `nn.AdaptiveAvgPool2d`: averages over windows that divide the input into `outputSize`.
public struct AdaptiveAvgPool2d: Layer {
    public let outputSize: [Int]

    public init(_ outputSize: [Int]) {
        self.outputSize = outputSize
    }

    public func forward(_ x: TracedTensor) -> TracedTensor {
        x.apply("adaptive_avg_pool2d", [], ["output_size": .intList(outputSize)], at: x.tracer.location(#fileID, #line))
    }
}
