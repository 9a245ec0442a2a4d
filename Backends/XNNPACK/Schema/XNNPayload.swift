/// The payload of one XNNPACK delegate: an XNNPACK subgraph as data (`Schemas/xnnpack.fbs`).
/// ``XNNPACKCompiler`` builds one per partition and ``encoded()`` writes it; the runtime reads
/// it back with ``decode(_:)``, which checks every index before anything is defined.
///
/// ```swift
/// var p = XNNPayload()
/// let x = p.add(XNNValue(datatype: .fp32, dims: [1, 4]))
/// let y = p.add(XNNValue(datatype: .fp32, dims: [1, 4]))
/// p.nodes.append(XNNNode(kind: .clamp, inputs: [x], outputs: [y], outputMin: 0))
/// p.inputs = [x]; p.outputs = [y]
/// let back = try XNNPayload.decode(bytes)      // bytes = p.encoded()
/// ```
public struct XNNPayload: Equatable, Sendable {
    public var values: [XNNValue]
    public var nodes: [XNNNode]
    /// Value indices of the delegate's inputs and outputs, in argument order.
    public var inputs: [UInt32]
    public var outputs: [UInt32]

    public init(values: [XNNValue] = [], nodes: [XNNNode] = [], inputs: [UInt32] = [], outputs: [UInt32] = []) {
        self.values = values
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Appends `value` and returns its index.
    public mutating func add(_ value: XNNValue) -> UInt32 {
        values.append(value)
        return UInt32(values.count - 1)
    }

    /// The index written for an absent optional node input (a missing bias).
    public static let absent = UInt32.max

    /// The FlatBuffers file identifier of the payload.
    public static let fileIdentifier = "XN01"
}

/// XNNPACK's element types, numbered as `enum xnn_datatype`.
public enum XNNDataType: UInt8, Sendable, CaseIterable {
    case fp32 = 1
    case qint8 = 3
    case quint8 = 4
    case qint32 = 5
    case qcint8 = 6
    case qcint32 = 7

    /// Bytes per element.
    public var elementSize: Int {
        switch self {
        case .fp32, .qint32, .qcint32: 4
        case .qint8, .quint8, .qcint8: 1
        }
    }

    /// True for the per-channel types.
    public var isChannelwise: Bool { self == .qcint8 || self == .qcint32 }
}

/// One tensor value of the subgraph.
public struct XNNValue: Equatable, Sendable {
    public var datatype: XNNDataType
    public var dims: [Int]
    /// Per-tensor quantization.
    public var scale: Double
    public var zeroPoint: Int32
    /// Per-channel quantization: one scale per entry of `dims[channelDim]`.
    public var channelScales: [Double]
    public var channelDim: Int
    /// The named-data key of a constant's bytes; nil for a computed value.
    public var dataKey: String?
    /// For delegate inputs and outputs: XNNPACK's dims are the Kiln tensor's dims in this order;
    /// empty when they are the same.
    public var permutation: [Int]

    public init(datatype: XNNDataType, dims: [Int], scale: Double = 1, zeroPoint: Int32 = 0,
                channelScales: [Double] = [], channelDim: Int = 0, dataKey: String? = nil, permutation: [Int] = []) {
        self.datatype = datatype
        self.dims = dims
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.channelScales = channelScales
        self.channelDim = channelDim
        self.dataKey = dataKey
        self.permutation = permutation
    }

    /// Elements of the tensor.
    public var elementCount: Int { dims.reduce(1, *) }

    /// Bytes of the tensor.
    public var byteCount: Int { elementCount * datatype.elementSize }
}

/// The node kinds the payload can hold, one per `xnn_define_*` call.
public enum XNNNodeKind: UInt8, Sendable, CaseIterable {
    case fullyConnected = 0, convolution2d, depthwiseConvolution2d, maxPooling2d, averagePooling2d,
         globalAveragePooling2d, add, multiply, subtract, divide, maximum, minimum, clamp, hardswish,
         sigmoid, softmax, leakyRelu, elu, abs, negate, squareRoot, square, staticReshape,
         staticConstantPad, convert

    /// How many inputs the kind takes (the optional bias counted) and how many `params` it needs
    /// (nil: any number, checked by the node itself).
    public var arity: (inputs: ClosedRange<Int>, params: Int?) {
        switch self {
        case .fullyConnected: (2...3, 0)
        case .convolution2d: (2...3, 13)
        case .depthwiseConvolution2d: (2...3, 12)
        case .maxPooling2d: (1...1, 10)
        case .averagePooling2d: (1...1, 8)
        case .add, .multiply, .subtract, .divide, .maximum, .minimum: (2...2, 0)
        case .staticReshape, .staticConstantPad: (1...1, nil)
        default: (1...1, 0)
        }
    }
}

/// One node: `xnn_define_<kind>(inputs, outputs, params, output range, flags)`.
public struct XNNNode: Equatable, Sendable {
    public var kind: XNNNodeKind
    /// Value indices; ``XNNPayload/absent`` for a missing bias.
    public var inputs: [UInt32]
    public var outputs: [UInt32]
    /// Integer parameters, as `Schemas/xnnpack.fbs` lists them for each kind.
    public var params: [Int]
    /// Float parameters (leaky_relu's slope, elu's alpha, a pad value).
    public var floatParams: [Double]
    /// The fused output range (-inf ... inf: none).
    public var outputMin: Double
    public var outputMax: Double
    public var flags: UInt32
    /// The Kiln node it came from, for messages (`%y = linear(...) at fc1`).
    public var source: String

    public init(kind: XNNNodeKind, inputs: [UInt32], outputs: [UInt32], params: [Int] = [], floatParams: [Double] = [],
                outputMin: Double = -.infinity, outputMax: Double = .infinity, flags: UInt32 = 0, source: String = "") {
        self.kind = kind
        self.inputs = inputs
        self.outputs = outputs
        self.params = params
        self.floatParams = floatParams
        self.outputMin = outputMin
        self.outputMax = outputMax
        self.flags = flags
        self.source = source
    }
}
