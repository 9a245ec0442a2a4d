import KilnTensor

/// The integer type values are quantized to. `int4` is stored in an `int8` tensor (range -8...7)
/// while the graph computes, and packed two per byte when a weight is folded into a constant.
public enum QuantDType: String, Hashable, Sendable, CaseIterable {
    case int8, uint8, int16, int4

    /// The tensor dtype quantized values have in the graph.
    public var storage: DType {
        switch self {
        case .int8, .int4: .int8
        case .uint8: .uint8
        case .int16: .int16
        }
    }

    /// The full range of the type.
    public var range: ClosedRange<Int> {
        switch self {
        case .int8: -128...127
        case .uint8: 0...255
        case .int16: -32768...32767
        case .int4: -8...7
        }
    }

    /// `i8`, `u8`, `i16`, `i4`, as annotations write it.
    public var shortName: String {
        switch self {
        case .int8: "i8"
        case .uint8: "u8"
        case .int16: "i16"
        case .int4: "i4"
        }
    }
}

/// Which elements share one scale and zero point.
public enum QuantizationGranularity: Hashable, Sendable, CustomStringConvertible {
    /// One pair for the whole tensor.
    case perTensor
    /// One pair per index of dim `axis` (weights: axis 0, the output channels).
    case perChannel(axis: Int)
    /// One pair per `size` consecutive elements of each row of a rank-2 weight.
    case perGroup(size: Int)
    /// One pair per row of the last dim (dynamic activations: one per token).
    case perToken

    public var description: String {
        switch self {
        case .perTensor: "per_tensor"
        case .perChannel(let axis): "per_channel(\(axis))"
        case .perGroup(let size): "per_group(\(size))"
        case .perToken: "per_token"
        }
    }
}

/// How an observer turns what it saw into a range.
public enum HistogramRange: Hashable, Sendable {
    /// The range holding `fraction` of the observed values (0.9999: clip the outer 0.01%),
    /// split evenly between the two tails.
    case percentile(Double)
    /// The range whose quantization error (rounding inside, clipping outside) is least, as
    /// PyTorch's `HistogramObserver` searches for.
    case mse
}

/// The observer a static spec is calibrated with (``Observer``).
public enum ObserverKind: Hashable, Sendable, CustomStringConvertible {
    /// The smallest and largest value seen.
    case minMax
    /// Each sample's min and max, averaged with weight `averagingConstant` (PyTorch: 0.01).
    case movingAverageMinMax(averagingConstant: Double)
    /// Min and max per index of the spec's channel axis.
    case perChannelMinMax
    /// A histogram over the values seen, and a range chosen from it.
    case histogram(HistogramRange)

    public var description: String {
        switch self {
        case .minMax: "minmax"
        case .movingAverageMinMax(let c): "moving_average_minmax(\(c))"
        case .perChannelMinMax: "per_channel_minmax"
        case .histogram(.percentile(let p)): "histogram_percentile(\(p))"
        case .histogram(.mse): "histogram_mse"
        }
    }
}

/// How one tensor is quantized: integer type and range, symmetric or affine, granularity, static
/// (calibrated ranges) or dynamic (ranges computed at run time), the observer, and the smallest scale.
///
/// ```swift
/// let activations = QuantizationSpec.int8Activation()            // affine, per tensor, static
/// let weights = QuantizationSpec.int8Weight()                     // symmetric -127...127, per channel
/// print(weights)   // i8[-127,127] symmetric per_channel(0) static per_channel_minmax
/// ```
public struct QuantizationSpec: Hashable, Sendable, CustomStringConvertible {
    public var dtype: QuantDType
    public var quantMin: Int
    public var quantMax: Int
    /// Symmetric: zero point 0 (the middle of a signed range); affine: any zero point.
    public var symmetric: Bool
    public var granularity: QuantizationGranularity
    /// Dynamic specs choose their qparams at run time (`choose_qparams_*` nodes).
    public var isDynamic: Bool
    public var observer: ObserverKind
    /// The smallest scale chosen (PyTorch: `torch.finfo(torch.float32).eps`).
    public var eps: Double

    public init(dtype: QuantDType, quantMin: Int? = nil, quantMax: Int? = nil, symmetric: Bool,
                granularity: QuantizationGranularity, isDynamic: Bool = false, observer: ObserverKind = .minMax,
                eps: Double = Double(Float.ulpOfOne)) {
        self.dtype = dtype
        self.quantMin = quantMin ?? dtype.range.lowerBound
        self.quantMax = quantMax ?? dtype.range.upperBound
        self.symmetric = symmetric
        self.granularity = granularity
        self.isDynamic = isDynamic
        self.observer = observer
        self.eps = eps
    }

    /// Per-tensor affine int8 activations, calibrated with `observer`.
    public static func int8Activation(observer: ObserverKind = .minMax) -> QuantizationSpec {
        QuantizationSpec(dtype: .int8, symmetric: false, granularity: .perTensor, observer: observer)
    }

    /// Per-token affine int8 activations whose qparams are chosen at run time.
    public static let int8DynamicActivation =
        QuantizationSpec(dtype: .int8, symmetric: false, granularity: .perToken, isDynamic: true)

    /// Symmetric int8 weights in -127...127, one scale per output channel (axis 0).
    public static func int8Weight(axis: Int = 0) -> QuantizationSpec {
        QuantizationSpec(dtype: .int8, quantMin: -127, quantMax: 127, symmetric: true,
                         granularity: .perChannel(axis: axis), observer: .perChannelMinMax)
    }

    /// Symmetric int4 weights in -8...7, one scale per `groupSize` elements of each row.
    public static func int4GroupWeight(groupSize: Int) -> QuantizationSpec {
        QuantizationSpec(dtype: .int4, symmetric: true, granularity: .perGroup(size: groupSize),
                         observer: .perChannelMinMax)
    }

    /// `i8[-128,127] affine per_tensor static histogram_mse`: how annotations show the spec.
    public var description: String {
        "\(dtype.shortName)[\(quantMin),\(quantMax)] \(symmetric ? "symmetric" : "affine") \(granularity) "
            + (isDynamic ? "dynamic" : "static \(observer)")
    }
}

/// How the output of an annotated pattern is quantized.
public enum OutputQuantization: Hashable, Sendable, CustomStringConvertible {
    /// Its own spec, calibrated by its own observer.
    case spec(QuantizationSpec)
    /// The same scale and zero point as operand `input` of the node (cat, pooling, reshapes):
    /// one observer sees both.
    case shared(input: Int)
    /// Fixed qparams whatever the data (sigmoid, softmax: [0, 1); tanh: [-1, 1]).
    case fixed(scale: Double, zeroPoint: Int, dtype: QuantDType)

    public var description: String {
        switch self {
        case .spec(let s): s.description
        case .shared(let i): "shared(in\(i))"
        case .fixed(let scale, let zp, let dtype): "fixed(\(dtype.shortName), scale=\(scale), zero_point=\(zp))"
        }
    }

    /// Int8 qparams for outputs in [0, 1): scale 1/256, zero point -128.
    public static let unitInterval = OutputQuantization.fixed(scale: 1.0 / 256, zeroPoint: -128, dtype: .int8)
    /// Int8 qparams for outputs in [-1, 1]: scale 2/256, zero point 0.
    public static let signedUnitInterval = OutputQuantization.fixed(scale: 2.0 / 256, zeroPoint: 0, dtype: .int8)
}

/// What a quantizer decided for one node: specs for some of its tensor operands (by operand
/// position among the node's tensor operands), for its output, and the pattern it belongs to.
///
/// In a fused pattern (`convolution → relu`) the first node carries the input specs and the last
/// the output; the nodes between have neither, so nothing is quantized inside the pattern.
public struct NodeQuantization: Hashable, Sendable {
    /// The quantizer that claimed the node.
    public var quantizer: String
    /// The pattern's ops joined by `+` (`convolution+batch_norm+relu`).
    public var pattern: String
    /// Specs of tensor operands, keyed by their position in ``KilnIR/Node/operands``.
    public var inputs: [Int: QuantizationSpec]
    /// The output's quantization (result 0), or nil when it stays float.
    public var output: OutputQuantization?

    public init(quantizer: String, pattern: String, inputs: [Int: QuantizationSpec] = [:],
                output: OutputQuantization? = nil) {
        self.quantizer = quantizer
        self.pattern = pattern
        self.inputs = inputs
        self.output = output
    }
}
