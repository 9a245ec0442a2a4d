import KilnIR
import KilnOps
import KilnTensor
import XNNPACKSchema

extension XNNLowering {
    /// linear(x, w[out, in], b?), addmm(b, x, w[in, out]), mm(x, w[in, out]) → fully_connected.
    /// Per-channel int8 weights (which the 2022 XNNPACK's fully-connected lacks) run as a 1x1
    /// convolution over the rows, which takes them; one-row fp32 layers run split along K
    /// (``lowerSplitK(_:out:input:w:weightName:permutation:bias:)``).
    mutating func lowerFullyConnected(_ node: Node, index: Int, _ args: OpArguments<ValueID>) throws(XNNPACKError) {
        let x: ValueID, wv: ValueID, bias: ValueID?
        switch node.op.name {
        case "linear": (x, wv, bias) = (args.tensor("input"), args.tensor("weight"), args.optionalTensor("bias"))
        case "addmm":
            guard args.scalar("beta").value == 1, args.scalar("alpha").value == 1 else {
                throw unsupported(node, "only beta = alpha = 1 is lowered")
            }
            (x, wv, bias) = (args.tensor("mat1"), args.tensor("mat2"), args.tensor("self"))
        default: (x, wv, bias) = (args.tensor("self"), args.tensor("mat2"), nil)
        }
        let w = try weight(wv, of: node)
        guard w.shape.count == 2 else { throw unsupported(node, "weight has shape \(w.shape), expected 2-D") }
        // Filter as [out, in].
        let permutation = node.op.name == "linear" ? [0, 1] : [1, 0]
        let outChannels = w.shape[permutation[0]]
        let out = plannedOutput(index)
        let int8 = runsInt8(out, operands: [x])
        let input = try operand(x, int8: int8)
        guard !nhwc.contains(input) else { throw unsupported(node, "its input is an NHWC image; flatten it first") }
        let inputScale = int8 ? payload.values[Int(input)].scale : nil
        if int8, case .perChannel(_, _, _, let axis) = w, axis == permutation[0] {
            try lowerLinearAsConvolution(node, out: out, input: input, w: w, permutation: permutation, bias: bias)
            return
        }
        if int8, case .perChannel = w { throw unsupported(node, "per-channel weight scales must be along the output dim") }
        if !int8, try lowerSplitK(node, out: out, input: input, w: w, weightName: graph[wv].name, permutation: permutation,
                                  bias: bias) {
            return
        }
        let filter = weightValue(w, name: graph[wv].name, permutation: permutation, int8: int8)
        let b = try biasValue(bias, channels: outChannels, weight: w, inputScale: inputScale, of: node)
        let y = try bindOutput(out, int8: int8, layoutNHWC: false, node: node)
        payload.nodes.append(XNNNode(kind: .fullyConnected, inputs: [input, filter, b], outputs: [y],
                                     outputMin: out.min, outputMax: out.max, source: graph.describe(node)))
    }

    /// An int8 linear with per-channel weights: rows [M, K] reshaped to an NHWC image [1, M, 1, K],
    /// a 1x1 qc8 convolution to [1, M, 1, N], reshaped back.
    private mutating func lowerLinearAsConvolution(_ node: Node, out: PlannedOutput, input: UInt32, w: XNNWeight,
                                                   permutation: [Int], bias: ValueID?) throws(XNNPACKError) {
        let inDims = payload.values[Int(input)].dims
        let k = inDims.last ?? 1
        let m = inDims.dropLast().reduce(1, *)
        let n = w.shape[permutation[0]]
        let inputValue = payload.values[Int(input)]
        var image = inputValue
        image.dims = [1, m, 1, k]
        image.permutation = []
        let imageIndex = payload.add(image)
        payload.nodes.append(XNNNode(kind: .staticReshape, inputs: [input], outputs: [imageIndex], params: [1, m, 1, k],
                                     source: graph.describe(node)))
        // Filter [N, 1, 1, K], channel dim 0.
        let w4: XNNWeight
        if case .perChannel(let q, let shape, let scales, _) = w {
            let rows = Self.permute(q, dims: shape, permutation: permutation)
            w4 = .perChannel(rows, shape: [n, 1, 1, k], scales: scales, axis: 0)
        } else { w4 = w }
        let filter = weightValue(w4, name: "\(graph[node.results[0]].name).filter", permutation: [0, 1, 2, 3], int8: true)
        let b = try biasValue(bias, channels: n, weight: w4, inputScale: inputValue.scale, of: node)
        let convOut = payload.add(XNNValue(datatype: .qint8, dims: [1, m, 1, n], scale: out.q?.scale ?? 1,
                                           zeroPoint: Int32(out.q?.zeroPoint ?? 0)))
        payload.nodes.append(XNNNode(kind: .convolution2d, inputs: [imageIndex, filter, b], outputs: [convOut],
                                     params: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, k, n], outputMin: out.min, outputMax: out.max,
                                     source: graph.describe(node)))
        let y = try bindOutput(out, int8: true, layoutNHWC: false, node: node)
        payload.nodes.append(XNNNode(kind: .staticReshape, inputs: [convOut], outputs: [y],
                                     params: payload.values[Int(y)].dims, source: graph.describe(node)))
    }

    /// convolution (NCHW input, OIHW weight) → convolution_2d or depthwise_convolution_2d on NHWC.
    mutating func lowerConvolution(_ node: Node, index: Int, _ args: OpArguments<ValueID>) throws(XNNPACKError) {
        guard !args.bool("transposed") else { throw unsupported(node, "transposed convolution is not lowered") }
        let x = args.tensor("input"), wv = args.tensor("weight")
        let w = try weight(wv, of: node)
        let stride = args.intList("stride"), padding = args.intList("padding"), dilation = args.intList("dilation")
        let groups = args.int("groups")
        guard w.shape.count == 4, stride.count == 2, padding.count == 2, dilation.count == 2 else {
            throw unsupported(node, "only 2-D convolution is lowered")
        }
        let out = plannedOutput(index)
        let int8 = runsInt8(out, operands: [x])
        let input = try operand(x, int8: int8)
        guard nhwc.contains(input) else {
            throw unsupported(node, "its input %\(graph[x].name) is not laid out NHWC (it comes from an op that keeps NCHW)")
        }
        let inChannels = payload.values[Int(input)].dims[3]
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let depthwise = groups > 1 && groups == inChannels && w.shape[1] == 1
        if int8, case .perChannel(_, _, _, let axis) = w, axis != 0 {
            throw unsupported(node, "per-channel weight scales must be along the output channels (axis 0)")
        }
        let filter = weightValue(w, name: graph[wv].name, permutation: depthwise ? [1, 2, 3, 0] : [0, 2, 3, 1], int8: int8)
        let inputScale = int8 ? payload.values[Int(input)].scale : nil
        let b = try biasValue(args.optionalTensor("bias"), channels: o, weight: w, inputScale: inputScale, of: node)
        let y = try bindOutput(out, int8: int8, layoutNHWC: true, node: node)
        let common = [padding[0], padding[1], padding[0], padding[1], kh, kw, stride[0], stride[1], dilation[0], dilation[1]]
        let params = depthwise ? common + [o / inChannels, inChannels] : common + [groups, inChannels / groups, o / groups]
        payload.nodes.append(XNNNode(kind: depthwise ? .depthwiseConvolution2d : .convolution2d, inputs: [input, filter, b],
                                     outputs: [y], params: params, outputMin: out.min, outputMax: out.max,
                                     source: graph.describe(node)))
    }

    /// max_pool2d, avg_pool2d (no padding), adaptive average pooling to 1x1 → XNNPACK pooling on NHWC.
    mutating func lowerPooling(_ node: Node, index: Int, _ args: OpArguments<ValueID>) throws(XNNPACKError) {
        let x = args.tensor("self")
        switch node.op.name {
        case "max_pool2d", "avg_pool2d":
            let kernel = args.intList("kernel_size")
            var stride = args.intList("stride")
            if stride.isEmpty { stride = kernel }
            let padding = args.intList("padding")
            guard kernel.count == 2, stride.count == 2, padding.count == 2, !args.bool("ceil_mode") else {
                throw unsupported(node, "needs 2-D kernel, stride and padding, and ceil_mode false")
            }
            let pads = [padding[0], padding[1], padding[0], padding[1]]
            if node.op.name == "max_pool2d" {
                let dilation = args.intList("dilation")
                guard dilation.count == 2 else { throw unsupported(node, "needs a 2-D dilation") }
                try emit(.maxPooling2d, node, index: index, inputs: [x], layoutNHWC: true,
                         params: pads + kernel + stride + dilation)
            } else {
                guard padding == [0, 0], case .none = args["divisor_override"] else {
                    throw unsupported(node, "average pooling is lowered without padding or divisor_override")
                }
                try emit(.averagePooling2d, node, index: index, inputs: [x], int8Capable: false, layoutNHWC: true,
                         params: pads + kernel + stride)
            }
        default:
            guard args.intList("output_size") == [1, 1] else {
                throw unsupported(node, "adaptive average pooling is lowered to a 1x1 output only")
            }
            try emit(.globalAveragePooling2d, node, index: index, inputs: [x], layoutNHWC: true)
        }
    }
}
