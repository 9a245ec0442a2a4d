import KilnIR
import KilnOps
import KilnTensor
import XNNPACKSchema

extension XNNLowering {
    /// rms_norm over the last dim, from XNNPACK's nodes (the 2022 library has no reduction but
    /// global average pooling): square → reshape rows to an NHWC image [rows, D, 1, 1] → global
    /// average pooling (the mean over D) → + eps → sqrt → x / that → × weight.
    mutating func lowerRMSNorm(_ node: Node, index: Int, _ args: OpArguments<ValueID>) throws(XNNPACKError) {
        let x = args.tensor("input")
        let input = try operand(x, int8: false)
        let dims = payload.values[Int(input)].dims
        guard args.intList("normalized_shape").count == 1, let d = dims.last, !nhwc.contains(input) else {
            throw unsupported(node, "rms_norm is lowered over the last dim of a non-image tensor only")
        }
        let eps = args.optionalFloat("eps") ?? Double(Float.ulpOfOne)
        let rows = dims.dropLast().reduce(1, *)
        let rowDims = Array(dims.dropLast()) + [1]
        let source = graph.describe(node)
        func step(_ kind: XNNNodeKind, _ inputs: [UInt32], _ outDims: [Int], params: [Int] = []) -> UInt32 {
            let y = payload.add(XNNValue(datatype: .fp32, dims: outDims))
            payload.nodes.append(XNNNode(kind: kind, inputs: inputs, outputs: [y], params: params, source: source))
            return y
        }
        let squared = step(.square, [input], dims)
        let image = step(.staticReshape, [squared], [rows, d, 1, 1], params: [rows, d, 1, 1])
        let mean = step(.globalAveragePooling2d, [image], [rows, 1, 1, 1])
        let perRow = step(.staticReshape, [mean], rowDims, params: rowDims)
        let epsilon = addConstant("\(graph[node.results[0]].name).eps", XNNValue(datatype: .fp32, dims: [1]),
                                  bytes: Self.bytes([Float(eps)]))
        let root = step(.squareRoot, [step(.add, [perRow, epsilon], rowDims)], rowDims)
        let out = plannedOutput(index)
        guard let w = args.optionalTensor("weight") else {
            let y = try bindOutput(out, int8: false, layoutNHWC: false, node: node)
            payload.nodes.append(XNNNode(kind: .divide, inputs: [input, root], outputs: [y], source: source))
            return
        }
        let normalized = step(.divide, [input, root], dims)
        let weight = try operand(w, int8: false)
        let y = try bindOutput(out, int8: false, layoutNHWC: false, node: node)
        payload.nodes.append(XNNNode(kind: .multiply, inputs: [normalized, weight], outputs: [y], source: source))
    }

    /// add/sub/mul/div.Scalar → the binary node with a one-element constant (alpha folded in).
    mutating func lowerScalarBinary(_ node: Node, index: Int, _ args: OpArguments<ValueID>) throws(XNNPACKError) {
        let x = args.tensor("self")
        var scalar = args.scalar("other").value
        if node.op.parameterIndex("alpha") != nil { scalar *= args.scalar("alpha").value }
        let kind: XNNNodeKind = switch node.op.name {
        case "add.Scalar": .add
        case "sub.Scalar": .subtract
        case "mul.Scalar": .multiply
        default: .divide
        }
        let input = try operand(x, int8: false)
        let rank = payload.values[Int(input)].dims.count
        let constant = addConstant("\(graph[node.results[0]].name).scalar",
                                   XNNValue(datatype: .fp32, dims: [Int](repeating: 1, count: max(rank, 1))),
                                   bytes: Self.bytes([Float(scalar)]))
        let out = plannedOutput(index)
        let y = try bindOutput(out, int8: false, layoutNHWC: nhwc.contains(input), node: node)
        payload.nodes.append(XNNNode(kind: kind, inputs: [input, constant], outputs: [y], outputMin: out.min,
                                     outputMax: out.max, source: graph.describe(node)))
    }
}
