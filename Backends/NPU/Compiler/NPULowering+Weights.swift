import KilnIR
import KilnOps
import KilnQuant
import KilnTensor
import NPURuntime

/// Constant operands: quantized weights (read from an integer constant, or quantized here from
/// a float constant) and biases folded to int32 at the accumulator's scale.
extension NPULowering {
    /// A symmetric quantized weight in its graph layout.
    struct Weight {
        var values: [Int]
        var shape: [Int]
        /// One scale, or one per channel along ``axis``.
        var scales: [Double]
        var axis: Int?
        var qmin: Int
        var qmax: Int

        /// One scale per output channel (`count` of them).
        func channelScales(_ count: Int, _ node: Node, _ lowering: NPULowering) throws(NPUCompileError) -> [Double] {
            if scales.count == 1 { return [Double](repeating: scales[0], count: count) }
            guard scales.count == count else {
                throw lowering.fail(node, "weight has \(scales.count) scales along axis \(axis ?? -1), expected one per output channel (\(count))")
            }
            return scales
        }
    }

    /// The weight operand `parameter`: `dequantize_per_tensor` or `dequantize_per_channel`
    /// (along `channelAxis`) of an int8 constant, or of a quantize of a float constant.
    func weight(_ node: Node, _ parameter: String, channelAxis: Int) throws(NPUCompileError) -> Weight {
        guard let id = tensorArgument(node, parameter) else { throw fail(node, "has no \(parameter)") }
        guard let dq = graph.definingNode(of: id), Self.isDequantize(dq.op.name) else {
            throw fail(node, "\(parameter) is not a dequantized constant (the NPU takes int8/int4 weights)")
        }
        let source = dq.operands[0]
        let shape = try staticShape(source, parameter)
        let (scales, zeroPoints, axis) = try parameters(of: dq, channelAxis: channelAxis, shape: shape)
        guard zeroPoints.allSatisfy({ $0 == 0 }) else { throw fail(node, "\(parameter) is not symmetric (zero points must be 0)") }
        guard let qmin = int(dq, "quant_min"), let qmax = int(dq, "quant_max") else { throw fail(node, "\(parameter) has no range") }
        var values: [Int]
        if let t = graph[source].constantData {
            guard t.dtype == .int8 else { throw fail(node, "\(parameter) is \(t.dtype), expected int8") }
            values = t.scalars(as: Int8.self).map(Int.init)
        } else if let q = graph.definingNode(of: source), Self.isQuantize(q.op.name), let t = graph[q.operands[0]].constantData {
            // Quantized here as the portable kernel would: round(x * (1 / scale)) + zero point, clamped.
            let floats = t.floatValues()
            let (qs, qz, _) = try parameters(of: q, channelAxis: channelAxis, shape: shape)
            let inner = axis.map { shape[($0 + 1)...].reduce(1, *) } ?? 1
            values = floats.indices.map { i in
                let c = qs.count == 1 ? 0 : (i / inner) % qs.count
                let v = (floats[i] * Float(1 / qs[c])).rounded(.toNearestOrEven) + Float(qz[c])
                return Int(max(Float(qmin), min(Float(qmax), v)))
            }
        } else {
            throw fail(node, "\(parameter) is not a constant")
        }
        guard values.allSatisfy({ $0 >= qmin && $0 <= qmax }) else { throw fail(node, "\(parameter) has values outside \(qmin)...\(qmax)") }
        return Weight(values: values, shape: shape, scales: scales, axis: axis, qmin: qmin, qmax: qmax)
    }

    /// Scales, zero points and axis of a per-tensor or per-channel (de)quantize node.
    private func parameters(of q: Node, channelAxis: Int, shape: [Int]) throws(NPUCompileError) -> ([Double], [Int], Int?) {
        if q.op.name.contains("per_tensor") {
            let p = try scalarParameters(q)
            return ([p.0], [p.1], nil)
        }
        guard q.op.name.contains("per_channel"), !q.op.name.contains("group") else {
            throw fail(q, "weights must be quantized per tensor or per channel")
        }
        let axis = ((int(q, "axis") ?? 0) + shape.count) % max(shape.count, 1)
        guard axis == channelAxis else { throw fail(q, "per-channel axis \(axis) is not the output-channel axis \(channelAxis)") }
        guard let s = tensorArgument(q, "scales"), let st = graph[s].constantData else { throw fail(q, "scales are not a constant") }
        let scales = st.floatValues().map(Double.init)
        var zps = [Int](repeating: 0, count: scales.count)
        if let z = tensorArgument(q, "zero_points") {
            guard let zt = graph[z].constantData else { throw fail(q, "zero points are not a constant") }
            zps = []
            for v in zt.floatValues() { zps.append(try integer(v, q, "zero point")) }
        }
        guard scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw fail(q, "scales must be positive and finite") }
        return (scales, zps, axis)
    }

    private func scalarParameters(_ q: Node) throws(NPUCompileError) -> (Double, Int) {
        var scale = 0.0, zp = 0
        switch argument(q, "scale") {
        case .float(let s): scale = s
        case .tensor(let id): scale = Double(graph[id].constantData?.floatValues().first ?? 0)
        default: break
        }
        switch argument(q, "zero_point") {
        case .int(let z): zp = z
        case .tensor(let id): zp = try integer(graph[id].constantData?.floatValues().first ?? 0, q, "zero point")
        default: break
        }
        guard scale > 0, scale.isFinite else { throw fail(q, "scale \(scale) is not positive and finite") }
        return (scale, zp)
    }

    /// The bias `parameter` (absent, a float constant, or a dequantized constant) as int32 at
    /// scale `inputScale * weightScales[c]`, rounded half to even and saturated.
    func bias(_ node: Node, _ parameter: String, count: Int, inputScale: Double, weightScales: [Double]) throws(NPUCompileError) -> [Int32] {
        guard let id = tensorArgument(node, parameter) else { return [Int32](repeating: 0, count: count) }
        var floats: [Double]
        if let t = graph[id].constantData {
            floats = t.floatValues().map(Double.init)
        } else if let dq = graph.definingNode(of: id), Self.isDequantize(dq.op.name), let t = graph[dq.operands[0]].constantData,
                  dq.op.name.contains("per_tensor") {
            let (s, z) = try scalarParameters(dq)
            floats = t.floatValues().map { (Double($0) - Double(z)) * s }
        } else {
            throw fail(node, "\(parameter) is not a constant")
        }
        guard floats.count == count else { throw fail(node, "\(parameter) has \(floats.count) values, expected \(count)") }
        return floats.indices.map { c in KilnQuant.QParams.int32Bias(floats[c], scale: inputScale * weightScales[c]) }
    }
}
