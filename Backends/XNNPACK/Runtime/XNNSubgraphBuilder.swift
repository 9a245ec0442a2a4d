import CXNNPACK
import XNNPACKSchema

/// Turns a decoded ``XNNPayload`` into an XNNPACK subgraph: one `xnn_define_*_value` per value
/// (constants pointing at their bytes), one `xnn_define_*` per node. Every XNNPACK status other
/// than success becomes an ``XNNPACKError`` naming the value or node.
struct XNNSubgraphBuilder {
    let payload: XNNPayload
    /// The bytes of each constant value, by value index (nil for computed values).
    let constantData: [UnsafeRawPointer?]
    /// Per-channel scales handed to XNNPACK, which keeps the pointers (they are read again when
    /// the runtime is created): the caller frees them after the runtime is gone.
    let channelScales: ChannelScaleStore

    /// The subgraph, and the XNNPACK id of each payload value. External input `i` gets id `i`,
    /// external output `j` gets id `inputs.count + j`.
    func build() throws(XNNPACKError) -> (subgraph: xnn_subgraph_t, ids: [UInt32]) {
        let externalCount = UInt32(payload.inputs.count + payload.outputs.count)
        var created: xnn_subgraph_t?
        try check(xnn_create_subgraph(externalCount, 0, &created), "xnn_create_subgraph")
        guard let subgraph = created else { throw XNNPACKError(.library, "xnn_create_subgraph returned no subgraph") }
        do {
            var ids = [UInt32](repeating: XNN_INVALID_VALUE_ID, count: payload.values.count)
            for (i, v) in payload.values.enumerated() {
                ids[i] = try define(v, index: i, in: subgraph)
            }
            for (i, node) in payload.nodes.enumerated() {
                try define(node, index: i, ids: ids, in: subgraph)
            }
            return (subgraph, ids)
        } catch {
            xnn_delete_subgraph(subgraph)
            throw error
        }
    }

    private func define(_ v: XNNValue, index: Int, in subgraph: xnn_subgraph_t) throws(XNNPACKError) -> UInt32 {
        var externalID = XNN_INVALID_VALUE_ID
        var flags: UInt32 = 0
        if let i = payload.inputs.firstIndex(of: UInt32(index)) {
            externalID = UInt32(i)
            flags = UInt32(XNN_VALUE_FLAG_EXTERNAL_INPUT)
        } else if let j = payload.outputs.firstIndex(of: UInt32(index)) {
            externalID = UInt32(payload.inputs.count + j)
            flags = UInt32(XNN_VALUE_FLAG_EXTERNAL_OUTPUT)
        }
        let dims = v.dims
        let data = constantData[index]
        var id: UInt32 = 0
        let datatype = xnn_datatype(UInt32(v.datatype.rawValue))
        let status: xnn_status = dims.withUnsafeBufferPointer { d in
            switch v.datatype {
            case .fp32:
                return xnn_define_tensor_value(subgraph, datatype, d.count, d.baseAddress, data, externalID, flags, &id)
            case .qint8, .quint8, .qint32:
                return xnn_define_quantized_tensor_value(subgraph, datatype, v.zeroPoint, Float(v.scale), d.count,
                                                         d.baseAddress, data, externalID, flags, &id)
            case .qcint8, .qcint32:
                let scales = channelScales.keep(v.channelScales)
                return xnn_define_channelwise_quantized_tensor_value(subgraph, datatype, scales, d.count, v.channelDim,
                                                                     d.baseAddress, data, externalID, flags, &id)
            }
        }
        try check(status, "value \(index) (\(v.datatype) \(dims))")
        return id
    }

    private func define(_ n: XNNNode, index: Int, ids: [UInt32], in subgraph: xnn_subgraph_t) throws(XNNPACKError) {
        let input = { (slot: Int) -> UInt32 in
            slot < n.inputs.count && n.inputs[slot] != XNNPayload.absent ? ids[Int(n.inputs[slot])] : XNN_INVALID_VALUE_ID
        }
        let x = input(0), w = input(1), b = input(2)
        let y = ids[Int(n.outputs[0])]
        let lo = Float(n.outputMin), hi = Float(n.outputMax)
        let p = n.params.map { UInt32($0) }
        let f = n.flags
        let status: xnn_status
        switch n.kind {
        case .fullyConnected:
            status = xnn_define_fully_connected(subgraph, lo, hi, x, w, b, y, f)
        case .convolution2d:
            status = xnn_define_convolution_2d(subgraph, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10],
                                               Int(p[11]), Int(p[12]), lo, hi, x, w, b, y, f)
        case .depthwiseConvolution2d:
            status = xnn_define_depthwise_convolution_2d(subgraph, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9],
                                                         p[10], Int(p[11]), lo, hi, x, w, b, y, f)
        case .maxPooling2d:
            status = xnn_define_max_pooling_2d(subgraph, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9],
                                               lo, hi, x, y, f)
        case .averagePooling2d:
            status = xnn_define_average_pooling_2d(subgraph, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], lo, hi, x, y, f)
        case .globalAveragePooling2d:
            status = xnn_define_global_average_pooling_2d(subgraph, lo, hi, x, y, f)
        case .add: status = xnn_define_add2(subgraph, lo, hi, x, w, y, f)
        case .multiply: status = xnn_define_multiply2(subgraph, lo, hi, x, w, y, f)
        case .subtract: status = xnn_define_subtract(subgraph, lo, hi, x, w, y, f)
        case .divide: status = xnn_define_divide(subgraph, lo, hi, x, w, y, f)
        case .maximum: status = xnn_define_maximum2(subgraph, x, w, y, f)
        case .minimum: status = xnn_define_minimum2(subgraph, x, w, y, f)
        case .clamp: status = xnn_define_clamp(subgraph, lo, hi, x, y, f)
        case .hardswish: status = xnn_define_hardswish(subgraph, x, y, f)
        case .sigmoid: status = xnn_define_sigmoid(subgraph, x, y, f)
        case .softmax: status = xnn_define_softmax(subgraph, x, y, f)
        case .leakyRelu:
            status = xnn_define_leaky_relu(subgraph, Float(n.floatParams.first ?? 0.01), x, y, f)
        case .elu: status = xnn_define_elu(subgraph, Float(n.floatParams.first ?? 1), x, y, f)
        case .abs: status = xnn_define_abs(subgraph, x, y, f)
        case .negate: status = xnn_define_negate(subgraph, x, y, f)
        case .squareRoot: status = xnn_define_square_root(subgraph, x, y, f)
        case .square: status = xnn_define_square(subgraph, x, y, f)
        case .convert: status = xnn_define_convert(subgraph, x, y, f)
        case .staticReshape:
            let shape = n.params
            status = shape.withUnsafeBufferPointer { s in xnn_define_static_reshape(subgraph, s.count, s.baseAddress, x, y, f) }
        case .staticConstantPad:
            let rank = n.params.count / 2
            guard n.params.count == 2 * rank, rank == payload.values[Int(n.inputs[0])].dims.count else {
                throw XNNPACKError(.payload, "node \(index) (static_constant_pad): \(n.params.count) paddings for a rank-"
                                       + "\(payload.values[Int(n.inputs[0])].dims.count) input")
            }
            let pre = Array(n.params[0..<rank]), post = Array(n.params[rank...])
            let value = Float(n.floatParams.first ?? 0)
            status = pre.withUnsafeBufferPointer { a in
                post.withUnsafeBufferPointer { c in
                    xnn_define_static_constant_pad(subgraph, a.baseAddress, c.baseAddress, value, x, y, f)
                }
            }
        }
        try check(status, "node \(index) (\(n.kind)\(n.source.isEmpty ? "" : ", from \(n.source)"))")
    }
}

/// Throws unless `status` is success, naming `what`.
func check(_ status: xnn_status, _ what: @autoclosure () -> String) throws(XNNPACKError) {
    guard status != xnn_status_success else { return }
    throw XNNPACKError(.library, "\(what()): \(describe(status))")
}

/// `invalid parameter`, `unsupported parameter`, ... for an XNNPACK status.
func describe(_ status: xnn_status) -> String {
    switch status {
    case xnn_status_uninitialized: "XNNPACK is not initialized"
    case xnn_status_invalid_parameter: "invalid parameter (shapes or ids that do not fit the node)"
    case xnn_status_invalid_state: "invalid state"
    case xnn_status_unsupported_parameter: "unsupported parameter"
    case xnn_status_unsupported_hardware: "unsupported hardware"
    case xnn_status_out_of_memory: "out of memory"
    default: "status \(status.rawValue)"
    }
}

/// Float arrays that must outlive an XNNPACK subgraph and runtime (per-channel scales).
final class ChannelScaleStore {
    private var arrays: [UnsafeMutablePointer<Float>] = []

    /// A copy of `values` as floats, alive until the store goes away.
    func keep(_ values: [Double]) -> UnsafePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
        for (i, v) in values.enumerated() { p[i] = Float(v) }
        arrays.append(p)
        return UnsafePointer(p)
    }

    deinit { arrays.forEach { $0.deallocate() } }
}
