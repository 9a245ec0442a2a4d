import KilnIR
import KilnTensor
import XNNPACKSchema

/// One-row fp32 fully-connected layers, split along K.
///
/// The 2022 XNNPACK runs a one-row f32 fully-connected with its 1x16 GEMM microkernel: one FMA
/// chain per 16 outputs, K steps long, so it is bound by FMA latency (4 multiply-adds per cycle,
/// ~15 per ns on this machine for K = 512) rather than by memory. Short chains let the CPU
/// overlap consecutive 16-output tiles (K = 32: ~26 per ns). So a one-row layer with K ≥ 64
/// becomes, still entirely on XNNPACK's kernels:
///
///     x [1, K] → reshape [1, 1, 1, K]
///       → convolution 1x1, G groups of K/G input channels, N outputs each   [1, 1, 1, G·N]
///         (group g holds G × W[:, g·K/G ..< (g+1)·K/G]; group 0's bias is G × b, the rest 0)
///       → reshape [1, 1, G, N] → global average pooling (÷ G) with the fused activation's range
///       → reshape to the layer's output shape.
///
/// G is a power of two, so scaling by G and dividing by it are exact; only the order of the
/// summation differs from the one-chain kernel's.
extension XNNLowering {
    /// The number of K slices for a fully-connected of `rows` rows and `k` input channels: 1 (no
    /// split) unless there is one row; otherwise the largest of 8, 4, 2 that divides `k` and
    /// leaves slices of at least 32.
    static func splitKGroups(rows: Int, k: Int) -> Int {
        guard rows == 1 else { return 1 }
        var g = 8
        while g > 1, k % g != 0 || k / g < 32 { g /= 2 }
        return g
    }

    /// Lowers an fp32 fully-connected with one row as split-K (see above); false, emitting
    /// nothing, when the layer does not qualify or a scaled weight would overflow.
    mutating func lowerSplitK(_ node: Node, out: PlannedOutput, input: UInt32, w: XNNWeight, weightName: String,
                              permutation: [Int], bias: ValueID?) throws(XNNPACKError) -> Bool {
        let inDims = payload.values[Int(input)].dims
        let k = inDims.last ?? 1
        let groups = Self.splitKGroups(rows: inDims.dropLast().reduce(1, *), k: k)
        guard groups > 1 else { return false }
        let n = w.shape[permutation[0]]
        guard w.shape[permutation[1]] == k else {
            throw unsupported(node, "weight has \(w.shape[permutation[1]]) input channels, the input \(k)")
        }
        let slice = k / groups
        let scale = Float(groups)
        // [N, K] row-major, then [G·N, 1, 1, K/G]: row g·N + o is G × W[o, g·slice ..< (g+1)·slice].
        let rows = Self.permute(w.floats, dims: w.shape, permutation: permutation)
        var filter = [Float](repeating: 0, count: n * k)
        for g in 0..<groups {
            for o in 0..<n {
                let src = o * k + g * slice, dst = (g * n + o) * slice
                for j in 0..<slice { filter[dst + j] = scale * rows[src + j] }
            }
        }
        guard filter.allSatisfy(\.isFinite) else { return false }
        var biasIndex = XNNPayload.absent
        if let bias {
            guard let t = graph[bias].constantData, t.dtype == .float32, t.elementCount == n else {
                throw unsupported(node, "bias %\(graph[bias].name) is not a float32 constant of \(n) elements")
            }
            var values = [Float](repeating: 0, count: groups * n)
            for (o, b) in t.floatValues().enumerated() { values[o] = scale * b }
            guard values.allSatisfy(\.isFinite) else { return false }
            biasIndex = addConstant("\(graph[bias].name).splitk\(groups).f32", XNNValue(datatype: .fp32, dims: [groups * n]),
                                    bytes: Self.bytes(values))
        }
        let filterIndex = addConstant("\(weightName).splitk\(groups).f32",
                                      XNNValue(datatype: .fp32, dims: [groups * n, 1, 1, slice]), bytes: Self.bytes(filter))
        let source = graph.describe(node)
        func reshape(_ x: UInt32, to dims: [Int]) -> UInt32 {
            let y = payload.add(XNNValue(datatype: .fp32, dims: dims))
            payload.nodes.append(XNNNode(kind: .staticReshape, inputs: [x], outputs: [y], params: dims, source: source))
            return y
        }
        let image = reshape(input, to: [1, 1, 1, k])
        let partial = payload.add(XNNValue(datatype: .fp32, dims: [1, 1, 1, groups * n]))
        payload.nodes.append(XNNNode(kind: .convolution2d, inputs: [image, filterIndex, biasIndex], outputs: [partial],
                                     params: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, groups, slice, n], source: source))
        let slices = reshape(partial, to: [1, 1, groups, n])
        let sum = payload.add(XNNValue(datatype: .fp32, dims: [1, 1, 1, n]))
        payload.nodes.append(XNNNode(kind: .globalAveragePooling2d, inputs: [slices], outputs: [sum],
                                     outputMin: out.min, outputMax: out.max, source: source))
        let y = try bindOutput(out, int8: false, layoutNHWC: false, node: node)
        payload.nodes.append(XNNNode(kind: .staticReshape, inputs: [sum], outputs: [y], params: payload.values[Int(y)].dims,
                                     source: source))
        return true
    }
}
