import KilnPTE

/// Slot numbers of `Schemas/xnnpack.fbs`, in field order.
enum Slot {
    enum Graph { static let values = 0, nodes = 1, inputs = 2, outputs = 3 }
    enum Value {
        static let datatype = 0, dims = 1, scale = 2, zeroPoint = 3, channelScales = 4, channelDim = 5, data = 6,
                   permutation = 7
    }
    enum Node {
        static let kind = 0, inputs = 1, outputs = 2, params = 3, floatParams = 4, outputMin = 5, outputMax = 6,
                   flags = 7, source = 8
    }
}

extension XNNPayload {
    /// The payload as a FlatBuffers buffer (identifier `XN01`); the same payload gives the same bytes.
    public func encoded() -> [UInt8] {
        var b = FlatBufferBuilder()
        let valueOffsets = values.map { encode($0, &b) }
        let nodeOffsets = nodes.map { encode($0, &b) }
        let valuesVector = b.createVector(offsets: valueOffsets)
        let nodesVector = b.createVector(offsets: nodeOffsets)
        let inputsVector = b.createVector(inputs)
        let outputsVector = b.createVector(outputs)
        b.startTable()
        b.add(offset: valuesVector, slot: Slot.Graph.values)
        b.add(offset: nodesVector, slot: Slot.Graph.nodes)
        b.add(offset: inputsVector, slot: Slot.Graph.inputs)
        b.add(offset: outputsVector, slot: Slot.Graph.outputs)
        return b.finish(root: b.endTable(), fileIdentifier: Self.fileIdentifier)
    }

    private func encode(_ v: XNNValue, _ b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let dims = b.createVector(v.dims.map { UInt64($0) })
        let scales = v.channelScales.isEmpty ? nil : b.createVector(v.channelScales)
        let key = v.dataKey.map { b.createString($0) }
        let permutation = v.permutation.isEmpty ? nil : b.createVector(v.permutation.map { UInt8($0) })
        b.startTable()
        b.add(v.datatype.rawValue, default: XNNDataType.fp32.rawValue, slot: Slot.Value.datatype)
        b.add(offset: dims, slot: Slot.Value.dims)
        b.add(v.scale, default: 1, slot: Slot.Value.scale)
        b.add(v.zeroPoint, default: 0, slot: Slot.Value.zeroPoint)
        b.add(offset: scales, slot: Slot.Value.channelScales)
        b.add(UInt32(v.channelDim), default: 0, slot: Slot.Value.channelDim)
        b.add(offset: key, slot: Slot.Value.data)
        b.add(offset: permutation, slot: Slot.Value.permutation)
        return b.endTable()
    }

    private func encode(_ n: XNNNode, _ b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let inputs = b.createVector(n.inputs)
        let outputs = b.createVector(n.outputs)
        let params = n.params.isEmpty ? nil : b.createVector(n.params.map { Int64($0) })
        let floats = n.floatParams.isEmpty ? nil : b.createVector(n.floatParams)
        let source = n.source.isEmpty ? nil : b.createString(n.source)
        b.startTable()
        b.add(n.kind.rawValue, default: 0, slot: Slot.Node.kind)
        b.add(offset: inputs, slot: Slot.Node.inputs)
        b.add(offset: outputs, slot: Slot.Node.outputs)
        b.add(offset: params, slot: Slot.Node.params)
        b.add(offset: floats, slot: Slot.Node.floatParams)
        b.add(n.outputMin, default: -.infinity, slot: Slot.Node.outputMin)
        b.add(n.outputMax, default: .infinity, slot: Slot.Node.outputMax)
        b.add(n.flags, default: 0, slot: Slot.Node.flags)
        b.add(offset: source, slot: Slot.Node.source)
        return b.endTable()
    }
}
