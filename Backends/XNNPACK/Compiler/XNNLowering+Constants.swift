import KilnIR
import KilnTensor
import XNNPACKSchema

extension XNNLowering {
    /// Adds a constant stored as named data `<prefix>/<name>` and returns its value; the same
    /// name with the same value and bytes is stored once. A graph constant read by two nodes that
    /// lay it out or quantize it differently (a weight of `linear` and of `mm`, a bias at two
    /// input scales) gets a second key, `<name>.1`, instead of the first node's bytes.
    mutating func addConstant(_ name: String, _ value: XNNValue, bytes: [UInt8]) -> UInt32 {
        var key = "\(keyPrefix)/\(name)", suffix = 0
        while let stored = storedConstants[key] {
            var candidate = value
            candidate.dataKey = key
            if stored.bytes == bytes, payload.values[Int(stored.value)] == candidate { return stored.value }
            suffix += 1
            key = "\(keyPrefix)/\(name).\(suffix)"
        }
        var value = value
        value.dataKey = key
        namedData.append((key, bytes))
        let index = payload.add(value)
        storedConstants[key] = StoredConstant(value: index, bytes: bytes)
        return index
    }

    /// Constant `v` as it is (fp32, or int8 with the parameters of its dequantize).
    mutating func constant(_ v: ValueID, _ tensor: Tensor) throws(XNNPACKError) -> UInt32 {
        let name = graph[v].name
        switch tensor.dtype {
        case .float32:
            return addConstant(name, XNNValue(datatype: .fp32, dims: tensor.shape), bytes: Self.bytes(tensor))
        case .int8:
            guard let q = dequantizeParams(of: v) else {
                throw XNNPACKError(.unsupported, "constant %\(name) is int8 but no dequantize_per_tensor reads it")
            }
            return addConstant(name, XNNValue(datatype: .qint8, dims: tensor.shape, scale: q.scale,
                                              zeroPoint: Int32(q.zeroPoint)), bytes: Self.bytes(tensor))
        default:
            throw XNNPACKError(.unsupported, "constant %\(name) is \(tensor.dtype); XNNPACK takes float32 and int8")
        }
    }

    /// Constant fp32 `v` as the other operand of a binary op on an NHWC value: its shape padded
    /// to rank 4 and permuted to NHWC, so XNNPACK's broadcasting lines up.
    mutating func constantNHWC(_ v: ValueID, _ tensor: Tensor) throws(XNNPACKError) -> UInt32 {
        guard tensor.dtype == .float32, tensor.rank <= 4 else {
            throw XNNPACKError(.unsupported, "constant %\(graph[v].name) (\(tensor)) cannot be laid out NHWC")
        }
        let dims = [Int](repeating: 1, count: 4 - tensor.rank) + tensor.shape
        let data = Self.permute(tensor.floatValues(), dims: dims, permutation: Self.toNHWC)
        return addConstant("\(graph[v].name).nhwc", XNNValue(datatype: .fp32, dims: Self.toNHWC.map { dims[$0] }),
                           bytes: Self.bytes(data))
    }

    /// The raw bytes of a tensor.
    static func bytes(_ tensor: Tensor) -> [UInt8] {
        tensor.withUnsafeRawBytes { Array($0) }
    }

    static func bytes<T>(_ values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    /// `data` (row-major over `dims`) with its dims reordered: result dim i is source dim permutation[i].
    static func permute<T>(_ data: [T], dims: [Int], permutation: [Int]) -> [T] {
        let rank = dims.count
        guard rank > 1, !data.isEmpty else { return data }
        var strides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * dims[i + 1] }
        let outDims = permutation.map { dims[$0] }
        let outStrides = permutation.map { strides[$0] }
        var result = [T]()
        result.reserveCapacity(data.count)
        var index = [Int](repeating: 0, count: rank)
        for _ in 0..<data.count {
            var offset = 0
            for d in 0..<rank { offset += index[d] * outStrides[d] }
            result.append(data[offset])
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < outDims[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return result
    }
}
