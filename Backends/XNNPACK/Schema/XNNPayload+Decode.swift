import KilnPTE

extension XNNPayload {
    /// The largest rank XNNPACK takes (`XNN_MAX_TENSOR_DIMS`).
    public static let maxRank = 6

    /// Reads and checks a payload: the identifier, every enum, every value and node index, every
    /// shape (rank, overflow), per-channel scale counts and permutations. What XNNPACK itself
    /// checks when the subgraph is defined (shapes agreeing across a node) is left to it.
    ///
    /// - Throws: ``XNNPACKError`` `.payload` naming the node, value or field at fault.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(XNNPACKError) -> XNNPayload {
        guard FBTable.hasIdentifier(fileIdentifier, in: bytes) else {
            throw XNNPACKError(.payload, "the payload (\(bytes.count) bytes) does not carry the identifier \(fileIdentifier)")
        }
        do {
            let root = try FBTable.root(of: bytes)
            var payload = XNNPayload()
            if let values = try root.tables(Slot.Graph.values, name: "values") {
                for i in 0..<values.count {
                    payload.values.append(try decodeValue(values.table(at: i), i))
                }
            }
            if let nodes = try root.tables(Slot.Graph.nodes, name: "nodes") {
                for i in 0..<nodes.count {
                    payload.nodes.append(try decodeNode(nodes.table(at: i), i, valueCount: payload.values.count))
                }
            }
            payload.inputs = try root.vector(Slot.Graph.inputs, of: UInt32.self, name: "inputs").map { Array($0) } ?? []
            payload.outputs = try root.vector(Slot.Graph.outputs, of: UInt32.self, name: "outputs").map { Array($0) } ?? []
            try payload.checkExternals()
            return payload
        } catch let error as XNNPACKError {
            throw error
        } catch {
            throw XNNPACKError(.payload, "\(error)")
        }
    }

    private static func decodeValue(_ t: FBTable, _ i: Int) throws -> XNNValue {
        let raw: UInt8 = try t.scalar(Slot.Value.datatype, default: XNNDataType.fp32.rawValue, name: "datatype")
        guard let datatype = XNNDataType(rawValue: raw) else {
            throw XNNPACKError(.payload, "value \(i): datatype \(raw) is not one of fp32, qint8, quint8, qint32, qcint8, qcint32")
        }
        let rawDims = try t.vector(Slot.Value.dims, of: UInt64.self, name: "dims").map { Array($0) } ?? []
        guard rawDims.count <= maxRank else {
            throw XNNPACKError(.payload, "value \(i): rank \(rawDims.count) is over XNNPACK's \(maxRank)")
        }
        var count = 1
        for d in rawDims {
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(clamping: d))
            guard d <= UInt64(Int32.max), !overflow, product <= Int(Int32.max) else {
                throw XNNPACKError(.payload, "value \(i): dims \(rawDims) are too large")
            }
            count = product
        }
        let dims = rawDims.map { Int($0) }
        var value = XNNValue(datatype: datatype, dims: dims)
        value.scale = try t.scalar(Slot.Value.scale, default: 1.0, name: "scale")
        value.zeroPoint = try t.scalar(Slot.Value.zeroPoint, default: Int32(0), name: "zero_point")
        value.channelScales = try t.vector(Slot.Value.channelScales, of: Double.self, name: "channel_scales").map { Array($0) } ?? []
        value.channelDim = Int(try t.scalar(Slot.Value.channelDim, default: UInt32(0), name: "channel_dim"))
        value.dataKey = try t.string(Slot.Value.data, name: "data")
        value.permutation = try t.vector(Slot.Value.permutation, of: UInt8.self, name: "permutation").map { $0.map { Int($0) } } ?? []
        guard value.scale.isFinite, value.scale > 0 else {
            throw XNNPACKError(.payload, "value \(i): scale \(value.scale) is not a positive finite number")
        }
        if datatype.isChannelwise {
            guard value.channelDim < dims.count, value.channelScales.count == dims[value.channelDim] else {
                throw XNNPACKError(.payload, "value \(i): \(value.channelScales.count) channel scales for channel dim "
                                       + "\(value.channelDim) of dims \(dims)")
            }
            guard value.channelScales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw XNNPACKError(.payload, "value \(i): a channel scale is not a positive finite number")
            }
        }
        if !value.permutation.isEmpty, value.permutation.sorted() != Array(0..<dims.count) {
            throw XNNPACKError(.payload, "value \(i): permutation \(value.permutation) is not a permutation of its \(dims.count) dims")
        }
        return value
    }

    private static func decodeNode(_ t: FBTable, _ i: Int, valueCount: Int) throws -> XNNNode {
        let raw: UInt8 = try t.scalar(Slot.Node.kind, default: 0, name: "kind")
        guard let kind = XNNNodeKind(rawValue: raw) else {
            throw XNNPACKError(.payload, "node \(i): kind \(raw) is not a known node kind")
        }
        var node = XNNNode(kind: kind, inputs: [], outputs: [])
        node.inputs = try t.vector(Slot.Node.inputs, of: UInt32.self, name: "inputs").map { Array($0) } ?? []
        node.outputs = try t.vector(Slot.Node.outputs, of: UInt32.self, name: "outputs").map { Array($0) } ?? []
        node.params = try t.vector(Slot.Node.params, of: Int64.self, name: "params").map { $0.map { Int($0) } } ?? []
        node.floatParams = try t.vector(Slot.Node.floatParams, of: Double.self, name: "float_params").map { Array($0) } ?? []
        node.outputMin = try t.scalar(Slot.Node.outputMin, default: -Double.infinity, name: "output_min")
        node.outputMax = try t.scalar(Slot.Node.outputMax, default: Double.infinity, name: "output_max")
        node.flags = try t.scalar(Slot.Node.flags, default: UInt32(0), name: "flags")
        node.source = try t.string(Slot.Node.source, name: "source") ?? ""
        let at = "node \(i) (\(kind)\(node.source.isEmpty ? "" : ", from \(node.source)"))"
        let arity = kind.arity
        guard arity.inputs.contains(node.inputs.count) else {
            throw XNNPACKError(.payload, "\(at): \(node.inputs.count) inputs, expected \(arity.inputs)")
        }
        guard node.outputs.count == 1 else {
            throw XNNPACKError(.payload, "\(at): \(node.outputs.count) outputs, expected 1")
        }
        if let params = arity.params, node.params.count != params {
            throw XNNPACKError(.payload, "\(at): \(node.params.count) params, expected \(params)")
        }
        guard node.params.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }) else {
            throw XNNPACKError(.payload, "\(at): params \(node.params) are not all in 0...\(Int32.max)")
        }
        for (slot, index) in node.inputs.enumerated() where !(index == absent && slot == 2) {
            guard Int(index) < valueCount else {
                throw XNNPACKError(.payload, "\(at): input \(slot) refers to value \(index), out of range 0..<\(valueCount)")
            }
        }
        guard Int(node.outputs[0]) < valueCount else {
            throw XNNPACKError(.payload, "\(at): output refers to value \(node.outputs[0]), out of range 0..<\(valueCount)")
        }
        guard !node.outputMin.isNaN, !node.outputMax.isNaN, node.outputMin < node.outputMax else {
            throw XNNPACKError(.payload, "\(at): output range \(node.outputMin)...\(node.outputMax) is empty")
        }
        return node
    }

    /// Inputs and outputs refer to distinct, non-constant values.
    private func checkExternals() throws(XNNPACKError) {
        var seen = Set<UInt32>()
        for (what, list) in [("input", inputs), ("output", outputs)] {
            for (i, index) in list.enumerated() {
                guard Int(index) < values.count else {
                    throw XNNPACKError(.payload, "\(what) \(i) refers to value \(index), out of range 0..<\(values.count)")
                }
                guard values[Int(index)].dataKey == nil else {
                    throw XNNPACKError(.payload, "\(what) \(i) refers to value \(index), a constant")
                }
                guard seen.insert(index).inserted else {
                    throw XNNPACKError(.payload, "\(what) \(i) refers to value \(index), already an input or output")
                }
            }
        }
        for (i, v) in values.enumerated() where !v.permutation.isEmpty && !seen.contains(UInt32(i)) {
            throw XNNPACKError(.payload, "value \(i) has a permutation but is not an input or output")
        }
    }
}
