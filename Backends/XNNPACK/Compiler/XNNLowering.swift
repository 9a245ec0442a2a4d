import KilnIR
import KilnOps
import KilnTensor
import XNNPACKSchema

/// Lowers one partition's graph to an ``XNNPayload``: a value per tensor XNNPACK sees, a node per
/// op (fused activations folded into their producer's output range, `dq → op → q` patterns run
/// as XNNPACK's int8 kernels), constants as named data, and the NCHW ↔ NHWC layout planned once
/// (rank-4 values feeding convolution or pooling live as NHWC inside the delegate; the runtime
/// transposes at the boundary only where a delegate input or output is one of them).
struct XNNLowering {
    /// Per-tensor int8 quantization parameters.
    struct QParams: Equatable {
        var scale: Double
        var zeroPoint: Int
    }

    let graph: Graph
    let keyPrefix: String
    var payload = XNNPayload()
    var namedData: [(key: String, bytes: [UInt8])] = []
    /// The payload value holding each graph value (a `dq` result in int8 mode shares its input's).
    var valueMap: [ValueID: UInt32] = [:]
    /// fp32 versions of int8 values (a `convert` node), by the int8 value.
    var dequantized: [ValueID: UInt32] = [:]
    /// Payload values stored NHWC (their dims are already permuted).
    var nhwc: Set<UInt32> = []
    /// Node indices reading each value.
    var uses: [ValueID: [Int]] = [:]
    /// Nodes lowered as part of another (fused activations, absorbed quantize nodes).
    var absorbed: Set<Int> = []
    /// Activation node fused into each producer node.
    var fusedActivation: [Int: Int] = [:]
    /// Constants stored so far, by named-data key (``addConstant(_:_:bytes:)``).
    var storedConstants: [String: StoredConstant] = [:]

    struct StoredConstant {
        var value: UInt32
        var bytes: [UInt8]
    }

    init(graph: Graph, keyPrefix: String) {
        self.graph = graph
        self.keyPrefix = keyPrefix
        for (i, node) in graph.nodes.enumerated() {
            for v in node.operands { uses[v, default: []].append(i) }
        }
    }

    /// Lowers every node and binds the partition's inputs and outputs.
    mutating func run() throws(XNNPACKError) -> XNNPayload {
        planActivationFusion()
        for input in graph.inputs {
            _ = try external(input)
        }
        for (i, node) in graph.nodes.enumerated() where !absorbed.contains(i) {
            try lower(node, index: i)
        }
        payload.inputs = try graph.inputs.map { v throws(XNNPACKError) in try external(v) }
        var outputs: [UInt32] = []
        for v in graph.outputs {
            var index = try operand(v, int8: graph.type(of: v).dtype == .int8)
            if payload.inputs.contains(index) || outputs.contains(index) || payload.values[Int(index)].dataKey != nil {
                // XNNPACK values are inputs or outputs, not both: copy through an identity clamp.
                let copy = payload.add(payload.values[Int(index)])
                payload.values[Int(copy)].dataKey = nil
                if nhwc.contains(index) { nhwc.insert(copy) }
                payload.nodes.append(XNNNode(kind: .clamp, inputs: [index], outputs: [copy], source: "output \(v)"))
                index = copy
            }
            if nhwc.contains(index) { payload.values[Int(index)].permutation = Self.toNHWC }
            outputs.append(index)
        }
        payload.outputs = outputs
        return payload
    }

    /// NCHW → NHWC: XNNPACK dim i is Kiln dim toNHWC[i].
    static let toNHWC = [0, 2, 3, 1]

    // MARK: values

    /// The static shape of `v`.
    func shape(_ v: ValueID) throws(XNNPACKError) -> [Int] {
        guard let s = graph.type(of: v).staticShape else {
            throw XNNPACKError(.unsupported, "value %\(graph[v].name) has a symbolic shape \(graph.type(of: v)); "
                                   + "XNNPACK needs static shapes")
        }
        return s
    }

    /// The payload value of partition input `v`, created on first use: NHWC when a convolution
    /// or pooling reads it (directly or through a dequantize), int8 with its dequantize's
    /// parameters when it is int8.
    mutating func external(_ v: ValueID) throws(XNNPACKError) -> UInt32 {
        if let index = valueMap[v] { return index }
        let type = graph.type(of: v)
        var dims = try shape(v)
        var value: XNNValue
        switch type.dtype {
        case .float32:
            value = XNNValue(datatype: .fp32, dims: dims)
        case .int8:
            guard let q = dequantizeParams(of: v) else {
                throw XNNPACKError(.unsupported, "input %\(graph[v].name) is int8 but no dequantize_per_tensor reads it")
            }
            value = XNNValue(datatype: .qint8, dims: dims, scale: q.scale, zeroPoint: Int32(q.zeroPoint))
        default:
            throw XNNPACKError(.unsupported, "input %\(graph[v].name) is \(type.dtype); XNNPACK takes float32 and int8")
        }
        let layoutNHWC = dims.count == 4 && readsAsImage(v)
        if layoutNHWC {
            dims = Self.toNHWC.map { dims[$0] }
            value.dims = dims
            value.permutation = Self.toNHWC
        }
        let index = payload.add(value)
        if layoutNHWC { nhwc.insert(index) }
        valueMap[v] = index
        return index
    }

    /// True when a convolution or pooling reads `v`, directly or through quantize, dequantize
    /// and unary elementwise ops (which keep whatever layout their input has).
    func readsAsImage(_ v: ValueID) -> Bool {
        for i in uses[v] ?? [] {
            let node = graph.nodes[i]
            if Self.imageOps.contains(node.op.name) { return true }
            if Self.layoutKeeping.contains(node.op.name), readsAsImage(node.results[0]) { return true }
        }
        return false
    }

    static let layoutKeeping: Set<String> = [
        "quantized_decomposed.dequantize_per_tensor", "quantized_decomposed.quantize_per_tensor", "relu", "hardtanh",
        "clamp", "sigmoid", "hardswish", "silu", "leaky_relu", "abs", "neg", "sqrt",
    ]

    static let imageOps: Set<String> = ["convolution", "max_pool2d", "avg_pool2d", "_adaptive_avg_pool2d",
                                        "adaptive_avg_pool2d"]

    /// The parameters of the (first) `dequantize_per_tensor` reading `v`.
    func dequantizeParams(of v: ValueID) -> QParams? {
        for i in uses[v] ?? [] where graph.nodes[i].op.name == "quantized_decomposed.dequantize_per_tensor" {
            return perTensorParams(graph.nodes[i])
        }
        return nil
    }

    /// scale and zero point of a per-tensor quantize or dequantize node with int8 dtype.
    func perTensorParams(_ node: Node) -> QParams? {
        guard let args = try? OpArguments.validated(node.op, node.arguments), args.dtype("dtype") == .int8,
              case .float(let scale) = args["scale"], case .int(let zp) = args["zero_point"],
              scale > 0, scale.isFinite, (-128...127).contains(zp) else { return nil }
        return QParams(scale: scale, zeroPoint: zp)
    }

    /// A new computed value of `v`'s shape (permuted when `layoutNHWC`).
    mutating func result(_ v: ValueID, datatype: XNNDataType = .fp32, q: QParams? = nil,
                         layoutNHWC: Bool = false) throws(XNNPACKError) -> UInt32 {
        var dims = try shape(v)
        if layoutNHWC { dims = Self.toNHWC.map { dims[$0] } }
        let index = payload.add(XNNValue(datatype: datatype, dims: dims, scale: q?.scale ?? 1,
                                         zeroPoint: Int32(q?.zeroPoint ?? 0)))
        if layoutNHWC { nhwc.insert(index) }
        return index
    }

    /// The payload value of operand `v` as an fp32 tensor (`int8: false`) or as the int8 tensor
    /// behind it (`int8: true`, for a `dq` result or an int8 value).
    mutating func operand(_ v: ValueID, int8: Bool) throws(XNNPACKError) -> UInt32 {
        if let (source, _) = dequantizeSource(v) {
            let q = try operand(source, int8: true)
            if int8 { return q }
            if let f = dequantized[source] { return f }
            let f = payload.add(XNNValue(datatype: .fp32, dims: payload.values[Int(q)].dims))
            if nhwc.contains(q) { nhwc.insert(f) }
            payload.nodes.append(XNNNode(kind: .convert, inputs: [q], outputs: [f], source: describe(v)))
            dequantized[source] = f
            return f
        }
        if let index = valueMap[v] {
            if int8, payload.values[Int(index)].datatype == .fp32 {
                throw XNNPACKError(.unsupported, "value %\(graph[v].name) is float32 where int8 was expected")
            }
            return index
        }
        if let tensor = graph[v].constantData {
            return try constant(v, tensor)
        }
        if case .input = graph[v].definition { return try external(v) }
        throw XNNPACKError(.unsupported, "value %\(graph[v].name) is produced by a node this backend did not lower")
    }

    /// The int8 value and parameters behind `v` when `v` is a `dequantize_per_tensor` result.
    func dequantizeSource(_ v: ValueID) -> (ValueID, QParams)? {
        guard case .result(let n, _) = graph[v].definition else { return nil }
        let node = graph.nodes[n]
        guard node.op.name == "quantized_decomposed.dequantize_per_tensor", let q = perTensorParams(node) else { return nil }
        return (node.operands[0], q)
    }

    /// `%name = op(...) at location`, for messages.
    func describe(_ v: ValueID) -> String {
        if let node = graph.definingNode(of: v) { return graph.describe(node) }
        return "%\(graph[v].name)"
    }
}
