import KilnIR
import KilnOps
import KilnTensor
import XNNPACKSchema

/// Where a lowered node's result goes: the graph value it finally defines (a fused activation's
/// result, when one was folded in), the output range, and int8 parameters when the node runs
/// as an int8 kernel (every reader is the same `quantize_per_tensor`).
struct PlannedOutput {
    var value: ValueID
    var min = -Double.infinity
    var max = Double.infinity
    var q: XNNLowering.QParams?
    var quantizeNodes: [Int] = []
}

extension XNNLowering {
    /// Node kinds whose int8 form requires the output's quantization to equal the input's.
    static let keepsParameters: Set<XNNNodeKind> = [.clamp, .maxPooling2d, .staticConstantPad, .staticReshape]

    /// Activations that can become a producer's output range.
    static let activations: Set<String> = ["relu", "hardtanh", "clamp"]
    /// Ops whose XNNPACK node has an output range.
    static let rangedOps: Set<String> = ["linear", "addmm", "mm", "convolution", "add.Tensor", "sub.Tensor",
                                         "mul.Tensor", "div.Tensor", "add.Scalar", "sub.Scalar", "mul.Scalar",
                                         "div.Scalar", "max_pool2d", "avg_pool2d",
                                         "_adaptive_avg_pool2d", "adaptive_avg_pool2d"]

    /// Marks each activation whose input is the only use of a ranged op's result, so the op
    /// clamps its own output (conv → relu becomes one XNNPACK node).
    mutating func planActivationFusion() {
        for (i, node) in graph.nodes.enumerated() where Self.activations.contains(node.op.name) {
            guard activationRange(node) != nil, let input = node.operands.first,
                  case .result(let p, _) = graph[input].definition,
                  Self.rangedOps.contains(graph.nodes[p].op.name), fusedActivation[p] == nil,
                  uses[input] == [i], !graph.outputs.contains(input) else { continue }
            fusedActivation[p] = i
            absorbed.insert(i)
        }
    }

    /// The range an activation clamps to (nil for a clamp with tensor or missing bounds).
    func activationRange(_ node: Node) -> (Double, Double)? {
        guard let args = try? OpArguments.validated(node.op, node.arguments) else { return nil }
        switch node.op.name {
        case "relu": return (0, .infinity)
        case "hardtanh": return (args.scalar("min_val").value, args.scalar("max_val").value)
        case "clamp":
            var lo = -Double.infinity, hi = Double.infinity
            if case .int(let v) = args["min"] { lo = Double(v) } else if case .float(let v) = args["min"] { lo = v }
            if case .int(let v) = args["max"] { hi = Double(v) } else if case .float(let v) = args["max"] { hi = v }
            return (lo, hi)
        default: return nil
        }
    }

    /// The output plan of node `index` (its first result).
    func plannedOutput(_ index: Int) -> PlannedOutput {
        var out = PlannedOutput(value: graph.nodes[index].results[0])
        if let a = fusedActivation[index], let (lo, hi) = activationRange(graph.nodes[a]) {
            out.value = graph.nodes[a].results[0]
            out.min = lo
            out.max = hi
        }
        let readers = uses[out.value] ?? []
        guard !readers.isEmpty, !graph.outputs.contains(out.value) else { return out }
        var q: QParams?
        for r in readers {
            let reader = graph.nodes[r]
            guard reader.op.name == "quantized_decomposed.quantize_per_tensor", let p = perTensorParams(reader),
                  q == nil || q == p else { return out }
            q = p
        }
        out.q = q
        out.quantizeNodes = readers
        return out
    }

    /// The int8 mode of a node: its output plan says int8 and every activation operand is a
    /// dequantize result.
    func runsInt8(_ out: PlannedOutput, operands: [ValueID]) -> Bool {
        out.q != nil && operands.allSatisfy { dequantizeSource($0) != nil }
    }

    /// Creates the node's output value and records which graph values it holds.
    mutating func bindOutput(_ out: PlannedOutput, int8: Bool, layoutNHWC: Bool, node: Node) throws(XNNPACKError) -> UInt32 {
        let index = try result(out.value, datatype: int8 ? .qint8 : .fp32, q: int8 ? out.q : nil, layoutNHWC: layoutNHWC)
        valueMap[node.results[0]] = index
        valueMap[out.value] = index
        if int8 {
            for q in out.quantizeNodes {
                absorbed.insert(q)
                valueMap[graph.nodes[q].results[0]] = index
            }
        }
        return index
    }

    /// Appends a node of `kind` computing `node`'s result from `inputs`.
    @discardableResult
    mutating func emit(_ kind: XNNNodeKind, _ node: Node, index: Int, inputs: [ValueID], int8Capable: Bool = true,
                       layoutNHWC: Bool? = nil, params: [Int] = [], floatParams: [Double] = [],
                       range: (Double, Double)? = nil) throws(XNNPACKError) -> UInt32 {
        let out = plannedOutput(index)
        var int8 = int8Capable && runsInt8(out, operands: inputs)
        // XNNPACK's int8 clamp, max pooling, pad and reshape keep their input's parameters.
        if int8, Self.keepsParameters.contains(kind), let first = inputs.first, dequantizeSource(first)?.1 != out.q {
            int8 = false
        }
        let xs = try inputs.map { v throws(XNNPACKError) in try operand(v, int8: int8) }
        let nhwcOut = layoutNHWC ?? xs.contains { nhwc.contains($0) }
        if layoutNHWC == true, let first = xs.first, !nhwc.contains(first) {
            throw unsupported(node, "its input is not laid out NHWC (it comes from an op that keeps NCHW)")
        }
        let y = try bindOutput(out, int8: int8, layoutNHWC: nhwcOut, node: node)
        let n = XNNNode(kind: kind, inputs: xs, outputs: [y], params: params, floatParams: floatParams,
                        outputMin: max(out.min, range?.0 ?? -.infinity), outputMax: min(out.max, range?.1 ?? .infinity),
                        source: graph.describe(node))
        payload.nodes.append(n)
        return y
    }

    /// Lowers one node.
    mutating func lower(_ node: Node, index: Int) throws(XNNPACKError) {
        let args: OpArguments<ValueID>
        do { args = try OpArguments.validated(node.op, node.arguments) } catch {
            throw XNNPACKError(.unsupported, "\(graph.describe(node)): \(error)")
        }
        let x = node.operands.first
        switch node.op.name {
        case "quantized_decomposed.dequantize_per_tensor":
            // Read lazily: an int8 consumer takes the int8 value, an fp32 one a `convert` of it.
            guard perTensorParams(node) != nil else { throw unsupported(node, "only int8 dequantize is lowered") }
        case "quantized_decomposed.dequantize_per_channel":
            // A per-channel weight: read by the node that packs it (``weight(_:of:)``).
            guard node.operands.first.flatMap({ graph[$0].constantData }) != nil else {
                throw unsupported(node, "only constant per-channel weights are lowered")
            }
        case "quantized_decomposed.quantize_per_tensor":
            guard let q = perTensorParams(node), let x else { throw unsupported(node, "only int8 quantize is lowered") }
            let input = try operand(x, int8: false)
            let y = try result(node.results[0], datatype: .qint8, q: q, layoutNHWC: nhwc.contains(input))
            valueMap[node.results[0]] = y
            payload.nodes.append(XNNNode(kind: .convert, inputs: [input], outputs: [y], source: graph.describe(node)))
        case "linear", "addmm", "mm":
            try lowerFullyConnected(node, index: index, args)
        case "convolution":
            try lowerConvolution(node, index: index, args)
        case "max_pool2d", "avg_pool2d", "_adaptive_avg_pool2d", "adaptive_avg_pool2d":
            try lowerPooling(node, index: index, args)
        case "relu", "hardtanh", "clamp":
            guard let range = activationRange(node), let x else { throw unsupported(node, "needs scalar bounds") }
            try emit(.clamp, node, index: index, inputs: [x], range: range)
        case "sigmoid": try emit(.sigmoid, node, index: index, inputs: node.operands, int8Capable: false)
        case "hardswish": try emit(.hardswish, node, index: index, inputs: node.operands, int8Capable: false)
        case "abs": try emit(.abs, node, index: index, inputs: node.operands, int8Capable: false)
        case "neg": try emit(.negate, node, index: index, inputs: node.operands, int8Capable: false)
        case "sqrt": try emit(.squareRoot, node, index: index, inputs: node.operands, int8Capable: false)
        case "leaky_relu":
            try emit(.leakyRelu, node, index: index, inputs: node.operands, int8Capable: false,
                     floatParams: [args.scalar("negative_slope").value])
        case "silu":
            guard let x else { throw unsupported(node, "has no input") }
            let input = try operand(x, int8: false)
            let s = payload.add(XNNValue(datatype: .fp32, dims: payload.values[Int(input)].dims))
            if nhwc.contains(input) { nhwc.insert(s) }
            payload.nodes.append(XNNNode(kind: .sigmoid, inputs: [input], outputs: [s], source: graph.describe(node)))
            let y = try bindOutput(plannedOutput(index), int8: false, layoutNHWC: nhwc.contains(input), node: node)
            payload.nodes.append(XNNNode(kind: .multiply, inputs: [input, s], outputs: [y], source: graph.describe(node)))
        case "add.Tensor", "sub.Tensor", "mul.Tensor", "div.Tensor":
            try lowerBinary(node, index: index, args)
        case "view_copy", "flatten.using_ints", "reshape", "squeeze.dims", "unsqueeze":
            try lowerReshape(node, index: index)
        case "add.Scalar", "sub.Scalar", "mul.Scalar", "div.Scalar":
            try lowerScalarBinary(node, index: index, args)
        case "rms_norm":
            try lowerRMSNorm(node, index: index, args)
        case "_softmax", "softmax.int":
            try lowerSoftmax(node, index: index, args)
        case "constant_pad_nd":
            try lowerPad(node, index: index, args)
        default:
            throw unsupported(node, "the XNNPACK backend has no lowering for \(node.op.name)")
        }
    }

    func unsupported(_ node: Node, _ why: String) -> XNNPACKError {
        XNNPACKError(.unsupported, "\(graph.describe(node)): \(why)")
    }
}
