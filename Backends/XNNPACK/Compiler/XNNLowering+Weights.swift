import KilnIR
import KilnOps
import KilnQuant
import KilnTensor
import XNNPACKSchema

/// A constant weight as the graph gives it: fp32, or int8 behind a dequantize.
enum XNNWeight {
    case float([Float], shape: [Int])
    case perTensor([Int8], shape: [Int], scale: Double)
    case perChannel([Int8], shape: [Int], scales: [Double], axis: Int)

    var shape: [Int] {
        switch self {
        case .float(_, let s), .perTensor(_, let s, _), .perChannel(_, let s, _, _): s
        }
    }

    /// The weight's scale for output channel `c` (int8 forms).
    func scale(_ c: Int) -> Double {
        switch self {
        case .float: 1
        case .perTensor(_, _, let s): s
        case .perChannel(_, _, let scales, _): scales[c]
        }
    }

    /// The fp32 values (int8 forms dequantized).
    var floats: [Float] {
        switch self {
        case .float(let f, _): return f
        case .perTensor(let q, _, let s): return q.map { Float(Double($0) * s) }
        case .perChannel(let q, let shape, let scales, let axis):
            let inner = shape[(axis + 1)...].reduce(1, *)
            return q.enumerated().map { i, v in Float(Double(v) * scales[(i / inner) % shape[axis]]) }
        }
    }
}

extension XNNLowering {
    /// The constant weight operand `v` of `node`.
    func weight(_ v: ValueID, of node: Node) throws(XNNPACKError) -> XNNWeight {
        if let t = graph[v].constantData {
            guard t.dtype == .float32 else { throw unsupported(node, "weight %\(graph[v].name) is \(t.dtype), not float32") }
            return .float(t.floatValues(), shape: t.shape)
        }
        guard case .result(let n, _) = graph[v].definition else {
            throw unsupported(node, "weight %\(graph[v].name) is not a constant (XNNPACK packs weights ahead of time)")
        }
        let dq = graph.nodes[n]
        guard let args = try? OpArguments.validated(dq.op, dq.arguments), let source = dq.operands.first,
              let data = graph[source].constantData, data.dtype == .int8 else {
            throw unsupported(node, "weight %\(graph[v].name) is neither a constant nor a dequantized int8 constant")
        }
        switch dq.op.name {
        case "quantized_decomposed.dequantize_per_tensor":
            guard let q = perTensorParams(dq), q.zeroPoint == 0 else {
                throw unsupported(node, "an int8 weight needs zero point 0 (symmetric), as XNNPACK's kernels do")
            }
            return .perTensor(data.scalars(as: Int8.self), shape: data.shape, scale: q.scale)
        case "quantized_decomposed.dequantize_per_channel":
            let scales = graph[args.tensor("scales")].constantData?.floatValues().map { Double($0) } ?? []
            let axis = args.int("axis")
            guard axis >= 0, axis < data.rank, scales.count == data.shape[axis] else {
                throw unsupported(node, "per-channel weight scales are not constants along axis \(axis)")
            }
            guard scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw unsupported(node, "per-channel weight scales must be positive and finite")
            }
            if let zp = args.optionalTensor("zero_points"),
               graph[zp].constantData?.floatValues().contains(where: { $0 != 0 }) ?? true {
                throw unsupported(node, "an int8 weight needs zero points 0 (symmetric), as XNNPACK's kernels do")
            }
            return .perChannel(data.scalars(as: Int8.self), shape: data.shape, scales: scales, axis: axis)
        default:
            throw unsupported(node, "weight %\(graph[v].name) comes from \(dq.op.name), not a dequantize")
        }
    }

    /// Adds weight `w` with its dims reordered by `permutation` (result dim i is source dim
    /// permutation[i]): fp32 (dequantized when `int8` is false), qint8, or qcint8 along the
    /// permuted output-channel dim.
    mutating func weightValue(_ w: XNNWeight, name: String, permutation: [Int], int8: Bool) -> UInt32 {
        let dims = permutation.map { w.shape[$0] }
        switch (w, int8) {
        case (.perTensor(let q, let shape, let scale), true):
            return addConstant("\(name).qs8", XNNValue(datatype: .qint8, dims: dims, scale: scale),
                               bytes: Self.bytes(Self.permute(q, dims: shape, permutation: permutation)))
        case (.perChannel(let q, let shape, let scales, let axis), true):
            let channelDim = permutation.firstIndex(of: axis) ?? 0
            return addConstant("\(name).qc8", XNNValue(datatype: .qcint8, dims: dims, channelScales: scales,
                                                       channelDim: channelDim),
                               bytes: Self.bytes(Self.permute(q, dims: shape, permutation: permutation)))
        default:
            return addConstant("\(name).f32", XNNValue(datatype: .fp32, dims: dims),
                               bytes: Self.bytes(Self.permute(w.floats, dims: w.shape, permutation: permutation)))
        }
    }

    /// Adds bias `v` (an fp32 constant of `channels` elements, or nil): fp32, or for an int8 node
    /// int32 with scale input scale × weight scale (per channel when the weight is).
    mutating func biasValue(_ v: ValueID?, channels: Int, weight: XNNWeight, inputScale: Double?,
                            of node: Node) throws(XNNPACKError) -> UInt32 {
        guard let v else { return XNNPayload.absent }
        guard let t = graph[v].constantData, t.dtype == .float32, t.elementCount == channels else {
            throw unsupported(node, "bias %\(graph[v].name) is not a float32 constant of \(channels) elements")
        }
        let name = graph[v].name
        guard let inputScale else {
            return addConstant("\(name).f32", XNNValue(datatype: .fp32, dims: [channels]), bytes: Self.bytes(t.floatValues()))
        }
        let values = t.floatValues()
        var scales: [Double] = []
        var q: [Int32] = []
        for c in 0..<channels {
            let s = inputScale * weight.scale(c)
            scales.append(s)
            q.append(KilnQuant.QParams.int32Bias(Double(values[c]), scale: s))
        }
        if case .perChannel = weight {
            return addConstant("\(name).qc32", XNNValue(datatype: .qcint32, dims: [channels], channelScales: scales),
                               bytes: Self.bytes(q))
        }
        return addConstant("\(name).qs32", XNNValue(datatype: .qint32, dims: [channels], scale: scales[0]),
                           bytes: Self.bytes(q))
    }
}
