import KilnIR
import KilnOps
import KilnRuntime
import KilnTensor
import Testing
import XNNPACKSchema
@testable import XNNPACKRuntime

/// fp32 partitions built by hand, lowered and run on XNNPACK, against the portable evaluator.
/// Tolerance: 1e-4 relative to the reference's largest magnitude (XNNPACK sums in another order
/// and with FMA; these reductions are at most a few hundred terms long).
struct FloatLoweringTests {
    /// Builds a graph with one float input of `shape` and whatever `body` adds.
    static func graph(_ shape: [Int], _ body: (inout GraphBuilder, ValueID) throws -> ValueID) throws -> Graph {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", TensorType(.float32, static: shape))
        b.output(try body(&b, x))
        return try b.finish()
    }

    static func constant(_ b: inout GraphBuilder, _ name: String, _ shape: [Int], seed: UInt64,
                         in range: ClosedRange<Float> = -0.5...0.5) throws -> ValueID {
        try b.constant(name, XNNPACKHarness.random(shape, seed: seed, in: range))
    }

    /// Lowers and runs `graph` on a seeded input and checks it against the portable result.
    @discardableResult
    static func check(_ graph: Graph, input range: ClosedRange<Float> = -1...1, tolerance: Float = 1e-4,
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> XNNPayload {
        let shape = graph.type(of: graph.inputs[0]).staticShape!
        let x = try XNNPACKHarness.random(shape, seed: 7, in: range)
        let expected = try XNNPACKHarness.reference(graph, [x])
        let actual = try XNNPACKHarness.run(graph, [x])
        let scale = max(1, expected[0].floatValues().map(abs).max() ?? 0)
        let difference = XNNPACKHarness.maxDifference(actual[0], expected[0])
        #expect(difference <= tolerance * scale, "max difference \(difference)", sourceLocation: sourceLocation)
        return try XNNPACKHarness.lower(graph).bytes.withUnsafeBytes { try XNNPayload.decode($0) }
    }

    @Test func linearWithBiasAndFusedRelu() throws {
        let g = try Self.graph([4, 32]) { b, x in
            let w = try Self.constant(&b, "w", [16, 32], seed: 1), bias = try Self.constant(&b, "b", [16], seed: 2)
            let y = try b.call("linear", [x, w, bias])[0]
            return try b.call("relu", [y])[0]
        }
        let payload = try Self.check(g)
        #expect(payload.nodes.map(\.kind) == [.fullyConnected])
        #expect(payload.nodes[0].outputMin == 0)
    }

    @Test func addmmAndMmTakeTransposedWeights() throws {
        let g = try Self.graph([3, 24]) { b, x in
            let w = try Self.constant(&b, "w", [24, 8], seed: 3), bias = try Self.constant(&b, "b", [8], seed: 4)
            let y = try b.call("addmm", [bias, x, w])[0]
            let w2 = try Self.constant(&b, "w2", [8, 5], seed: 5)
            return try b.call("mm", [y, w2])[0]
        }
        #expect(try Self.check(g).nodes.map(\.kind) == [.fullyConnected, .fullyConnected])
    }

    @Test func aWeightSharedByLinearAndMmIsStoredInBothLayouts() throws {
        let g = try Self.graph([3, 8]) { b, x in
            let w = try Self.constant(&b, "w", [8, 8], seed: 22)
            let y = try b.call("linear", [x, w, nil])[0]      // reads w as [out, in]
            return try b.call("mm", [y, w])[0]               // reads w as [in, out]
        }
        let payload = try Self.check(g)
        let keys = payload.values.compactMap(\.dataKey)
        #expect(keys.contains("xnnpack/p0/w.f32") && keys.contains("xnnpack/p0/w.f32.1"), "\(keys)")
    }

    @Test func anArgumentOfTheRightSizeButWrongShapeIsRefused() throws {
        let g = try Self.graph([2, 6]) { b, x in try b.call("relu", [x])[0] }
        let lowered = try XNNPACKHarness.lower(g)
        let payload = try lowered.bytes.withUnsafeBytes { try XNNPayload.decode($0) }
        let store = NamedDataStore(lowered.namedData)
        let delegate = try XNNPACKDelegate(payload, threads: 1) { key in store.bytes(key) }
        let values = [try Tensor(zeros: .float32, shape: [3, 4]), try Tensor(zeros: .float32, shape: [2, 6])]
            .map(BackendValue.tensor)
        let error = #expect(throws: XNNPACKError.self) {
            try delegate.run(BackendArguments(values: values, valueIndices: Array(values.indices)))
        }
        #expect(error?.message.contains("the payload expects f32[2, 6]") == true, "\(String(describing: error))")
    }

    @Test func linearOverThreeDims() throws {
        let g = try Self.graph([2, 5, 16]) { b, x in
            try b.call("linear", [x, try Self.constant(&b, "w", [12, 16], seed: 6), nil])[0]
        }
        try Self.check(g)
    }

    @Test func convolutionBlockStaysNHWCInside() throws {
        // conv 3x3 s1 p1 + relu -> conv 3x3 s2 p1 (bias) + hardtanh -> depthwise 3x3 -> add per-channel constant.
        let g = try Self.graph([1, 3, 16, 16]) { b, x in
            var h = try b.call("convolution", [x, try Self.constant(&b, "w0", [8, 3, 3, 3], seed: 10), nil],
                               ["padding": .intList([1, 1])])[0]
            h = try b.call("relu", [h])[0]
            h = try b.call("convolution", [h, try Self.constant(&b, "w1", [16, 8, 3, 3], seed: 11),
                                           try Self.constant(&b, "b1", [16], seed: 12)],
                           ["stride": .intList([2, 2]), "padding": .intList([1, 1])])[0]
            h = try b.call("hardtanh", [h], ["min_val": .float(-0.5), "max_val": .float(0.5)])[0]
            h = try b.call("convolution", [h, try Self.constant(&b, "dw", [16, 1, 3, 3], seed: 13), nil],
                           ["padding": .intList([1, 1]), "groups": .int(16)])[0]
            return try b.call("add.Tensor", [h, try Self.constant(&b, "shift", [16, 1, 1], seed: 14)])[0]
        }
        let payload = try Self.check(g)
        #expect(payload.nodes.map(\.kind) == [.convolution2d, .convolution2d, .depthwiseConvolution2d, .add])
        #expect(payload.values[Int(payload.inputs[0])].permutation == [0, 2, 3, 1])
        #expect(payload.values[Int(payload.outputs[0])].permutation == [0, 2, 3, 1])
    }

    @Test func groupedConvolution() throws {
        let g = try Self.graph([1, 8, 9, 9]) { b, x in
            try b.call("convolution", [x, try Self.constant(&b, "w", [12, 4, 3, 3], seed: 15), nil],
                       ["groups": .int(2), "dilation": .intList([2, 2])])[0]
        }
        try Self.check(g)
    }

    @Test func poolingThenClassifierHead() throws {
        let g = try Self.graph([1, 4, 12, 12]) { b, x in
            var h = try b.call("max_pool2d", [x], ["kernel_size": .intList([3, 3]), "stride": .intList([2, 2]),
                                                    "padding": .intList([1, 1])])[0]
            h = try b.call("avg_pool2d", [h], ["kernel_size": .intList([2, 2])])[0]
            h = try b.call("_adaptive_avg_pool2d", [h], ["output_size": .intList([1, 1])])[0]
            h = try b.call("flatten.using_ints", [h], ["start_dim": .int(1)])[0]
            return try b.call("linear", [h, try Self.constant(&b, "fc", [3, 4], seed: 16), nil])[0]
        }
        #expect(try Self.check(g).nodes.map(\.kind)
                    == [.maxPooling2d, .averagePooling2d, .globalAveragePooling2d, .staticReshape, .fullyConnected])
    }

    @Test func unaryOps() throws {
        typealias Body = (inout GraphBuilder, ValueID) throws -> ValueID
        let cases: [(String, Body)] = [
            ("sigmoid", { b, x in try b.call("sigmoid", [x])[0] }),
            ("hardswish", { b, x in try b.call("hardswish", [x])[0] }),
            ("abs", { b, x in try b.call("abs", [x])[0] }),
            ("neg", { b, x in try b.call("neg", [x])[0] }),
            ("silu", { b, x in try b.call("silu", [x])[0] }),
            ("relu", { b, x in try b.call("relu", [x])[0] }),
            ("hardtanh", { b, x in try b.call("hardtanh", [x])[0] }),
            ("leaky_relu", { b, x in try b.call("leaky_relu", [x], ["negative_slope": .float(0.2)])[0] }),
            ("clamp", { b, x in try b.call("clamp", [x], ["min": .float(-0.3), "max": .float(0.4)])[0] }),
        ]
        for (name, body) in cases {
            let g = try Self.graph([2, 3, 5], body)
            let payload = try Self.check(g)
            #expect(!payload.nodes.isEmpty, "\(name)")
        }
        let sqrt = try Self.graph([7, 3]) { b, x in try b.call("sqrt", [x])[0] }
        try Self.check(sqrt, input: 0.1...4)
    }

    @Test func binaryOpsBroadcast() throws {
        for op in ["add.Tensor", "sub.Tensor", "mul.Tensor", "div.Tensor"] {
            let g = try Self.graph([2, 3, 4]) { b, x in
                let c = try Self.constant(&b, "c", [3, 1], seed: 20, in: 0.5...1.5)
                let y = try b.call(op, [x, c])[0]
                return try b.call(op, [y, x])[0]
            }
            try Self.check(g, input: 0.5...1.5)
        }
    }

    @Test func softmaxPadAndReshape() throws {
        let g = try Self.graph([2, 3, 8]) { b, x in
            var h = try b.call("_softmax", [x], ["dim": .int(-1), "half_to_float": .bool(false)])[0]
            h = try b.call("constant_pad_nd", [h], ["pad": .intList([1, 2, 0, 1]), "value": .float(0.25)])[0]
            return try b.call("view_copy", [h], ["size": .intList([8, 11])])[0]
        }
        #expect(try Self.check(g).nodes.map(\.kind) == [.softmax, .staticConstantPad, .staticReshape])
    }
}

