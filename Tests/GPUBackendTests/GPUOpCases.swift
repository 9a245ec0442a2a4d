import KilnIR
import KilnOps
import KilnTensor

/// One small graph per GPU lowering (and per shader path: 1x1 conv as GEMM, depthwise,
/// grouped, broadcasting), with seeded inputs. `op` names the descriptor entry it covers.
struct GPUOpCase: CustomStringConvertible {
    var name: String
    var op: String
    var graph: Graph
    var inputs: [Tensor]
    var description: String { name }
}

/// Builds a case: `inputs` as (name, shape); `body` adds constants and nodes and returns the outputs.
func opCase(_ name: String, op: String? = nil, _ inputs: [(String, [Int])], seed: UInt64 = 1,
            _ body: (inout GraphBuilder, [ValueID]) throws -> [ValueID]) throws -> GPUOpCase {
    var b = GraphBuilder(name: name)
    var ids: [ValueID] = []
    var tensors: [Tensor] = []
    for (i, (n, shape)) in inputs.enumerated() {
        ids.append(try b.input(n, TensorType(.float32, static: shape)))
        tensors.append(try seeded(shape, seed: seed &+ UInt64(i) &* 7919, in: -2...2))
    }
    b.output(try body(&b, ids))
    return GPUOpCase(name: name, op: op ?? name, graph: try b.finish(), inputs: tensors)
}

/// A seeded constant.
func weight(_ b: inout GraphBuilder, _ name: String, _ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -0.5...0.5) throws -> ValueID {
    try b.constant(name, try seeded(shape, seed: seed, in: range))
}

func unaryCase(_ op: String, _ attributes: KeyValuePairs<String, Argument<ValueID>> = [:], name: String? = nil) throws -> GPUOpCase {
    try opCase(name ?? op, op: op, [("x", [2, 3, 33])]) { b, x in try b.call(op, [x[0]], attributes) }
}

func binaryCase(_ op: String, _ lhs: [Int], _ rhs: [Int], name: String? = nil,
                _ attributes: KeyValuePairs<String, Argument<ValueID>> = [:]) throws -> GPUOpCase {
    try opCase(name ?? op, op: op, [("a", lhs), ("b", rhs)]) { b, x in try b.call(op, [x[0], x[1]], attributes) }
}

/// Every case, covering every op GPUCompiler lowers.
func gpuOpCases() throws -> [GPUOpCase] {
    var cases: [GPUOpCase] = []
    // Matrix products.
    cases.append(try opCase("linear", [("x", [2, 5, 40])]) { b, x in
        let w = try weight(&b, "w", [24, 40], seed: 2), bias = try weight(&b, "bias", [24], seed: 3)
        return try b.call("linear", [x[0], w, bias])
    })
    cases.append(try opCase("linear_no_bias", op: "linear", [("x", [3, 17])]) { b, x in
        try b.call("linear", [x[0], try weight(&b, "w", [9, 17], seed: 4), nil])
    })
    cases.append(try opCase("addmm", [("x", [7, 20])]) { b, x in
        let bias = try weight(&b, "bias", [11], seed: 5), w = try weight(&b, "w", [20, 11], seed: 6)
        return try b.call("addmm", [bias, x[0], w], ["beta": .float(0.5), "alpha": .float(2)])
    })
    cases.append(try binaryCase("mm", [19, 33], [33, 18]))
    cases.append(try binaryCase("bmm", [3, 8, 21], [3, 21, 5]))
    cases.append(try binaryCase("matmul", [2, 4, 9, 16], [2, 4, 16, 9]))
    cases.append(try binaryCase("matmul", [2, 1, 9, 16], [3, 16, 7], name: "matmul_broadcast"))
    cases.append(try binaryCase("matmul", [5, 6], [6], name: "matmul_vector"))
    // 16 rows or more take the tiled shader (fewer take matvec.comp).
    cases.append(try binaryCase("matmul", [2, 1, 20, 16], [3, 16, 18], name: "matmul_broadcast_tiled"))
    cases.append(try opCase("linear_tiled", op: "linear", [("x", [40, 24])]) { b, x in
        try b.call("linear", [x[0], try weight(&b, "w", [20, 24], seed: 17), try weight(&b, "bias", [20], seed: 18)])
    })
    cases.append(try opCase("convolution_1x1_tiled", op: "convolution", [("x", [2, 5, 4, 5])]) { b, x in
        try b.call("convolution", [x[0], try weight(&b, "w", [17, 5, 1, 1], seed: 19), try weight(&b, "bias", [17], seed: 20)])
    })
    // Convolution and pooling.
    cases.append(try opCase("convolution", [("x", [2, 3, 11, 10])]) { b, x in
        let w = try weight(&b, "w", [8, 3, 3, 3], seed: 7), bias = try weight(&b, "bias", [8], seed: 8)
        return try b.call("convolution", [x[0], w, bias], ["stride": .intList([2, 1]), "padding": .intList([1, 1])])
    })
    // One value for both dims, as the op's rule allows (stride 2, padding 1, dilation 1).
    cases.append(try opCase("convolution_single_values", op: "convolution", [("x", [1, 3, 9, 8])]) { b, x in
        let w = try weight(&b, "w", [4, 3, 3, 3], seed: 21)
        return try b.call("convolution", [x[0], w, nil],
                          ["stride": .intList([2]), "padding": .intList([1]), "dilation": .intList([1])])
    })
    cases.append(try opCase("convolution_1x1", op: "convolution", [("x", [2, 6, 5, 7])]) { b, x in
        let w = try weight(&b, "w", [4, 6, 1, 1], seed: 9), bias = try weight(&b, "bias", [4], seed: 10)
        return try b.call("convolution", [x[0], w, bias])
    })
    cases.append(try opCase("convolution_depthwise", op: "convolution", [("x", [1, 6, 9, 9])]) { b, x in
        let w = try weight(&b, "w", [12, 1, 3, 3], seed: 11)
        return try b.call("convolution", [x[0], w, nil],
                          ["padding": .intList([1, 1]), "dilation": .intList([2, 2]), "groups": .int(6)])
    })
    cases.append(try opCase("convolution_grouped", op: "convolution", [("x", [1, 4, 6, 6])]) { b, x in
        try b.call("convolution", [x[0], try weight(&b, "w", [6, 2, 2, 2], seed: 12), nil], ["groups": .int(2)])
    })
    cases.append(try unaryCase("max_pool2d", ["kernel_size": .intList([3, 3]), "stride": .intList([2, 2]),
                                             "padding": .intList([1, 1]), "ceil_mode": .bool(true)]))
    cases.append(try opCase("avg_pool2d", [("x", [1, 3, 9, 8])]) { b, x in
        try b.call("avg_pool2d", [x[0]], ["kernel_size": .intList([3, 2]), "stride": .intList([2, 2]),
                                          "padding": .intList([1, 1]), "count_include_pad": .bool(false)])
    })
    cases.append(try opCase("_adaptive_avg_pool2d", [("x", [2, 3, 10, 7])]) { b, x in
        try b.call("_adaptive_avg_pool2d", [x[0]], ["output_size": .intList([3, 4])])
    })
    cases.append(try opCase("adaptive_avg_pool2d", [("x", [1, 5, 8, 8])]) { b, x in
        try b.call("adaptive_avg_pool2d", [x[0]], ["output_size": .intList([1, 1])])
    })
    // Row-wise reductions.
    cases.append(try unaryCase("_softmax", ["dim": .int(-1), "half_to_float": .bool(false)]))
    cases.append(try unaryCase("softmax.int", ["dim": .int(1)]))
    cases.append(try unaryCase("_log_softmax", ["dim": .int(2), "half_to_float": .bool(false)]))
    cases.append(try unaryCase("log_softmax.int", ["dim": .int(0)]))
    cases.append(try opCase("rms_norm", [("x", [2, 3, 300])]) { b, x in
        try b.call("rms_norm", [x[0], try weight(&b, "w", [300], seed: 13)], ["normalized_shape": .intList([300]), "eps": .float(1e-5)])
    })
    cases.append(try opCase("layer_norm", [("x", [4, 6, 10])]) { b, x in
        let w = try weight(&b, "w", [6, 10], seed: 14), bias = try weight(&b, "bias", [6, 10], seed: 15)
        return try b.call("layer_norm", [x[0], w, bias], ["normalized_shape": .intList([6, 10])])
    })
    cases.append(try opCase("native_layer_norm", [("x", [5, 33])]) { b, x in
        try b.call("native_layer_norm", [x[0], try weight(&b, "w", [33], seed: 16), nil],
                   ["normalized_shape": .intList([33]), "eps": .float(1e-5)])
    })
    // Elementwise.
    for op in ["relu", "silu", "sigmoid", "tanh", "neg"] { cases.append(try unaryCase(op)) }
    cases.append(try unaryCase("gelu"))
    cases.append(try unaryCase("gelu", ["approximate": .string("tanh")], name: "gelu_tanh"))
    cases.append(try unaryCase("hardtanh", ["min_val": .float(-0.5), "max_val": .int(1)]))
    cases.append(try unaryCase("clamp", ["min": .float(-0.25)]))
    cases.append(try binaryCase("add.Tensor", [2, 3, 4, 5], [3, 1, 5], ["alpha": .float(0.5)]))
    cases.append(try binaryCase("sub.Tensor", [4, 1], [1, 6]))
    cases.append(try binaryCase("mul.Tensor", [2, 8, 16], [8, 16]))
    cases.append(try binaryCase("div.Tensor", [3, 7], [3, 7]))
    cases.append(try unaryCase("add.Scalar", ["other": .float(1.5), "alpha": .int(2)]))
    cases.append(try unaryCase("sub.Scalar", ["other": .int(3)]))
    cases.append(try unaryCase("mul.Scalar", ["other": .float(0.125)]))
    cases.append(try unaryCase("div.Scalar", ["other": .float(3)]))
    // Layout.
    cases.append(try opCase("permute_copy", [("x", [2, 3, 4, 5])]) { b, x in
        try b.call("permute_copy", [x[0]], ["dims": .intList([3, 1, 0, 2])])
    })
    cases.append(try unaryCase("transpose.int", ["dim0": .int(0), "dim1": .int(-1)]))
    cases.append(try unaryCase("slice_copy.Tensor", ["dim": .int(-1), "start": .int(-20), "end": .int(30), "step": .int(3)]))
    cases.append(try opCase("cat", [("a", [2, 3, 4]), ("b", [2, 5, 4])]) { b, x in
        try b.call("cat", [], ["tensors": .tensorList([x[0], x[1], x[0]]), "dim": .int(1)])
    })
    cases.append(try opCase("view_copy", [("x", [2, 3, 4])]) { b, x in
        // A view between two computing ops, and a view as an output.
        let r = try b.call("relu", [x[0]])[0]
        let v = try b.call("view_copy", [r], ["size": .intList([6, 4])])[0]
        return [try b.call("neg", [v])[0], v]
    })
    cases.append(try unaryCase("reshape", ["shape": .intList([6, -1])]))
    cases.append(try unaryCase("flatten.using_ints", ["start_dim": .int(1)]))
    cases.append(try unaryCase("unsqueeze_copy", ["dim": .int(1)]))
    cases.append(try opCase("squeeze_copy.dims", [("x", [2, 1, 5])]) { b, x in
        try b.call("squeeze_copy.dims", [x[0]], ["dim": .intList([1])])
    })
    return cases
}
