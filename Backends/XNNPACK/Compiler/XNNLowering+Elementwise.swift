import KilnIR
import KilnOps
import KilnTensor
import XNNPACKSchema

extension XNNLowering {
    /// add/sub/mul/div.Tensor → add2/subtract/multiply2/divide (int8 for add, sub, mul). A constant
    /// operand of an op on an NHWC image is laid out NHWC at compile time.
    mutating func lowerBinary(_ node: Node, index: Int, _ args: OpArguments<ValueID>) throws(XNNPACKError) {
        let a = args.tensor("self"), b = args.tensor("other")
        if node.op.schemaHasAlpha, args.scalar("alpha").value != 1 { throw unsupported(node, "only alpha = 1 is lowered") }
        let kind: XNNNodeKind = switch node.op.name {
        case "add.Tensor": .add
        case "sub.Tensor": .subtract
        case "mul.Tensor": .multiply
        default: .divide
        }
        let out = plannedOutput(index)
        let int8 = kind != .divide && runsInt8(out, operands: [a, b])
        // Non-constant operands first: whether one is an NHWC image decides how constants are laid out.
        var xs = [UInt32?](repeating: nil, count: 2)
        for (i, v) in [a, b].enumerated() where int8 || graph[v].constantData == nil {
            xs[i] = try operand(v, int8: int8)
        }
        let image = xs.contains { $0.map { nhwc.contains($0) } ?? false }
        for (i, v) in [a, b].enumerated() where xs[i] == nil {
            guard let t = graph[v].constantData else { continue }
            xs[i] = image ? try constantNHWC(v, t) : try constant(v, t)
        }
        let inputs = xs.compactMap { $0 }
        if image {
            for (i, v) in [a, b].enumerated() where !nhwc.contains(inputs[i]) && payload.values[Int(inputs[i])].dataKey == nil
                && payload.values[Int(inputs[i])].dims.count == 4 {
                throw unsupported(node, "%\(graph[v].name) is NCHW while the other operand is an NHWC image")
            }
        }
        let y = try bindOutput(out, int8: int8, layoutNHWC: image, node: node)
        payload.nodes.append(XNNNode(kind: kind, inputs: inputs, outputs: [y], outputMin: out.min, outputMax: out.max,
                                     source: graph.describe(node)))
    }

    /// view_copy, flatten and friends → static_reshape. An NHWC image can be reshaped only where
    /// NHWC and NCHW order agree (1x1 spatial, or one channel); the result is in Kiln's order.
    mutating func lowerReshape(_ node: Node, index: Int) throws(XNNPACKError) {
        guard let x = node.operands.first else { throw unsupported(node, "has no input") }
        let out = plannedOutput(index)
        let int8 = runsInt8(out, operands: [x]) && dequantizeSource(x)?.1 == out.q
        let input = try operand(x, int8: int8)
        if nhwc.contains(input) {
            let d = payload.values[Int(input)].dims   // N, H, W, C
            guard d[1] * d[2] == 1 || d[3] == 1 else {
                throw unsupported(node, "reshaping the NHWC image %\(graph[x].name) \(d) would need a transpose, "
                                      + "which the 2022 XNNPACK lacks")
            }
        }
        let y = try bindOutput(out, int8: int8, layoutNHWC: false, node: node)
        payload.nodes.append(XNNNode(kind: .staticReshape, inputs: [input], outputs: [y], params: payload.values[Int(y)].dims,
                                     source: graph.describe(node)))
    }

    /// _softmax / softmax.int over the innermost dim (dim 1 of an NHWC image) → softmax.
    mutating func lowerSoftmax(_ node: Node, index: Int, _ args: OpArguments<ValueID>) throws(XNNPACKError) {
        let x = args.tensor("self")
        let rank = graph.type(of: x).rank
        let dim = args.int("dim") < 0 ? args.int("dim") + rank : args.int("dim")
        let input = try operand(x, int8: false)
        let innermost = nhwc.contains(input) ? 1 : rank - 1
        guard dim == innermost else {
            throw unsupported(node, "softmax over dim \(dim) is not the innermost dim (\(innermost)) XNNPACK reduces")
        }
        try emit(.softmax, node, index: index, inputs: [x], int8Capable: false)
    }

    /// constant_pad_nd with non-negative pads → static_constant_pad (pads permuted for an NHWC image).
    mutating func lowerPad(_ node: Node, index: Int, _ args: OpArguments<ValueID>) throws(XNNPACKError) {
        let x = args.tensor("self")
        let rank = graph.type(of: x).rank
        let pad = args.intList("pad")
        guard pad.count % 2 == 0, pad.count / 2 <= rank, pad.allSatisfy({ $0 >= 0 }) else {
            throw unsupported(node, "pads \(pad) must be non-negative pairs for at most \(rank) dims")
        }
        var pre = [Int](repeating: 0, count: rank), post = pre
        for i in 0..<(pad.count / 2) {
            pre[rank - 1 - i] = pad[2 * i]
            post[rank - 1 - i] = pad[2 * i + 1]
        }
        let out = plannedOutput(index)
        let int8 = runsInt8(out, operands: [x]) && dequantizeSource(x)?.1 == out.q
        if nhwc.contains(try operand(x, int8: int8)) {
            pre = Self.toNHWC.map { pre[$0] }
            post = Self.toNHWC.map { post[$0] }
        }
        try emit(.staticConstantPad, node, index: index, inputs: [x], params: pre + post,
                 floatParams: [args.scalar("value").value])
    }
}

extension OpSchema {
    /// True for add.Tensor and sub.Tensor (which take an alpha).
    var schemaHasAlpha: Bool { parameterIndex("alpha") != nil }
}
