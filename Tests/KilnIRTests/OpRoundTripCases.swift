import KilnIR
import KilnOps
import KilnTensor
import Testing

/// One small graph that applies some op; the round-trip tests print and re-parse it, and
/// `everyOpHasARoundTripCase` checks that together the cases use every op in the table.
///
/// Cases set attributes away from their defaults where the op has any (so keyword printing is
/// exercised), and give optional tensors both present and absent.
struct OpCase: Sendable, CustomTestStringConvertible {
    let name: String
    let build: @Sendable (inout GraphBuilder) throws -> [ValueID]

    init(_ name: String, _ build: @escaping @Sendable (inout GraphBuilder) throws -> [ValueID]) {
        self.name = name
        self.build = build
    }

    var testDescription: String { name }

    func graph() throws -> Graph { try makeGraph { try build(&$0) } }

    /// The graph of the case called `name`.
    static func graph(_ name: String) throws -> Graph {
        try #require(all.first { $0.name == name }, "no op case called '\(name)'").graph()
    }
}

/// The symbol the symbolic cases share.
let seqSymbol = Symbol("seq", range: 1...128)

extension OpCase {
    static let all: [OpCase] = linearAlgebra + spatial + elementwise + reduction + layout + normalization
        + quantization + sampling + math + shaping

    static let linearAlgebra: [OpCase] = [
        OpCase("linear with bias") { b in
            let x = try b.input("x", t(.float32, 2, 3))
            let w = try b.constant("w", try counting(.float32, [4, 3]))
            let bias = try b.input("bias", t(.float32, 4))
            return try b.call("linear", [x, w, bias], location: "fc1")
        },
        OpCase("linear without bias, symbolic batch") { b in
            b.symbol("seq", range: seqSymbol.range)
            let x = try b.input("x", TensorType(.float32, [1, Dim(seqSymbol), 3]))
            let w = try b.constant("w", try counting(.float32, [2, 3]))
            return try b.call("linear", [x, w, nil])
        },
        OpCase("addmm with beta and alpha") { b in
            let s = try b.input("bias", t(.float32, 4))
            let m1 = try b.input("m1", t(.float32, 2, 3))
            let m2 = try b.input("m2", t(.float32, 3, 4))
            return try b.call("addmm", [s, m1, m2], ["beta": .float(0.5), "alpha": .int(2)])
        },
        OpCase("mm") { b in
            let a = try b.input("a", t(.float16, 2, 3))
            let c = try b.input("c", t(.float16, 3, 4))
            return try b.call("mm", [a, c])
        },
        OpCase("bmm") { b in
            let a = try b.input("a", t(.float32, 2, 3, 4))
            let c = try b.input("c", t(.float32, 2, 4, 5))
            return try b.call("bmm", [a, c])
        },
        OpCase("matmul of a vector and a batch") { b in
            let a = try b.input("a", t(.bfloat16, 3))
            let c = try b.input("c", t(.bfloat16, 2, 3, 4))
            return try b.call("matmul", [a, c])
        },
    ]

    static let spatial: [OpCase] = [
        OpCase("convolution with bias, stride and padding") { b in
            let x = try b.input("img", t(.float32, 1, 3, 8, 8))
            let w = try b.constant("cw", try counting(.float32, [4, 3, 3, 3]))
            let bias = try b.constant("cb", try counting(.float32, [4]))
            return try b.call("convolution", [x, w, bias], ["stride": .intList([2, 2]), "padding": .intList([1, 1])],
                              location: "conv1")
        },
        OpCase("convolution without bias, dilation") { b in
            let x = try b.input("img", t(.float32, 1, 2, 9, 9))
            let w = try b.input("cw", t(.float32, 2, 2, 3, 3))
            return try b.call("convolution", [x, w, nil], ["dilation": .intList([2, 2])])
        },
        OpCase("transposed grouped convolution") { b in
            let x = try b.input("img", t(.float32, 1, 4, 4, 4))
            let w = try b.input("cw", t(.float32, 4, 1, 3, 3))
            return try b.call("convolution", [x, w, nil],
                              ["stride": .intList([2, 2]), "transposed": .bool(true),
                               "output_padding": .intList([1, 1]), "groups": .int(2)])
        },
        OpCase("_adaptive_avg_pool2d") { b in
            let x = try b.input("img", t(.float32, 1, 3, 8, 8))
            return try b.call("_adaptive_avg_pool2d", [x], ["output_size": .intList([2, 2])])
        },
        OpCase("adaptive_avg_pool2d of a 3-D input") { b in
            let x = try b.input("img", t(.float16, 3, 8, 8))
            return try b.call("adaptive_avg_pool2d", [x], ["output_size": .intList([1, 1])])
        },
    ]

    static let elementwise: [OpCase] = [
        OpCase("relu of int32") { b in
            try b.call("relu", [try b.input("x", t(.int32, 5))])
        },
        OpCase("silu of f16") { b in
            try b.call("silu", [try b.input("x", t(.float16, 2, 2))])
        },
        OpCase("sigmoid of i64 gives f32") { b in
            try b.call("sigmoid", [try b.input("x", t(.int64, 3))])
        },
        OpCase("neg of bf16") { b in
            try b.call("neg", [try b.input("x", t(.bfloat16, 1))])
        },
        OpCase("rsqrt of a scalar") { b in
            try b.call("rsqrt", [try b.input("x", t(.float32))])
        },
        OpCase("add.Tensor with broadcast and float alpha") { b in
            let x = try b.input("x", t(.float32, 2, 3))
            let y = try b.input("y", t(.float32, 3))
            return try b.call("add.Tensor", [x, y], ["alpha": .float(2.5)])
        },
        OpCase("add.Scalar with int alpha") { b in
            try b.call("add.Scalar", [try b.input("x", t(.int32, 4))], ["other": .int(3), "alpha": .int(-2)])
        },
        OpCase("sub.Tensor with default alpha") { b in
            let x = try b.input("x", t(.int8, 4))
            let y = try b.input("y", t(.int8, 4))
            return try b.call("sub.Tensor", [x, y])
        },
        OpCase("sub.Scalar with float alpha") { b in
            try b.call("sub.Scalar", [try b.input("x", t(.float32, 4))], ["other": .float(1.5), "alpha": .float(-0.5)])
        },
        OpCase("sub.Scalar of -0.0") { b in
            try b.call("sub.Scalar", [try b.input("x", t(.float32, 4))], ["other": .float(-0.0)])
        },
        OpCase("add.Scalar of nan, mul.Scalar by -nan") { b in
            let x = try b.input("x", t(.float32, 4))
            let y = try b.call("add.Scalar", [x], ["other": .float(.nan)])[0]
            return try b.call("mul.Scalar", [y], ["other": .float(-.nan)])
        },
        OpCase("mul.Tensor promotes u8 with i8") { b in
            let x = try b.input("x", t(.uint8, 4))
            let y = try b.input("y", t(.int8, 1))
            return try b.call("mul.Tensor", [x, y])
        },
        OpCase("mul.Scalar by -inf") { b in
            try b.call("mul.Scalar", [try b.input("x", t(.float32, 4))], ["other": .float(-.infinity)])
        },
        OpCase("div.Tensor of ints gives f32") { b in
            let x = try b.input("x", t(.int32, 2))
            let y = try b.input("y", t(.int32, 2))
            return try b.call("div.Tensor", [x, y])
        },
        OpCase("div.Scalar by a tiny float") { b in
            try b.call("div.Scalar", [try b.input("x", t(.float32, 2))], ["other": .float(1e-5)])
        },
        OpCase("pow.Tensor_Tensor") { b in
            let x = try b.input("x", t(.float32, 2))
            let y = try b.input("y", t(.float32, 2))
            return try b.call("pow.Tensor_Tensor", [x, y])
        },
        OpCase("pow.Tensor_Scalar with extreme int exponent") { b in
            try b.call("pow.Tensor_Scalar", [try b.input("x", t(.int64, 2))], ["exponent": .int(Int.max)])
        },
    ]

    static let reduction: [OpCase] = [
        OpCase("mean.dim with keepdim and dtype") { b in
            let x = try b.input("x", t(.float16, 2, 3, 4))
            return try b.call("mean.dim", [x], ["dim": .intList([-1, 0]), "keepdim": .bool(true), "dtype": .dtype(.float32)])
        },
        OpCase("mean.dim over everything") { b in
            try b.call("mean.dim", [try b.input("x", t(.float32, 2, 3))])
        },
        OpCase("_softmax") { b in
            try b.call("_softmax", [try b.input("x", t(.float32, 2, 3))], ["dim": .int(-1), "half_to_float": .bool(false)])
        },
        OpCase("softmax.int with dtype") { b in
            try b.call("softmax.int", [try b.input("x", t(.bfloat16, 2, 3))], ["dim": .int(1), "dtype": .dtype(.float32)])
        },
    ]

    static let layout: [OpCase] = [
        OpCase("_clone_dim_order with a row-major dim order") { b in
            try b.call("dim_order_ops._clone_dim_order", [try b.input("x", t(.float32, 2, 3))],
                       ["dim_order": .intList([0, 1])])
        },
        OpCase("view_copy with -1") { b in
            try b.call("view_copy", [try b.input("x", t(.float32, 2, 6))], ["size": .intList([-1, 4])])
        },
        OpCase("reshape to a scalar") { b in
            try b.call("reshape", [try b.input("x", t(.int64, 1, 1))], ["shape": .intList([])])
        },
        OpCase("flatten.using_ints of middle dims") { b in
            try b.call("flatten.using_ints", [try b.input("x", t(.float32, 2, 3, 4, 5))],
                       ["start_dim": .int(1), "end_dim": .int(2)])
        },
        OpCase("flatten.using_ints with defaults") { b in
            try b.call("flatten.using_ints", [try b.input("x", t(.float32, 2, 3))])
        },
        OpCase("permute_copy") { b in
            try b.call("permute_copy", [try b.input("x", t(.bool, 2, 3, 4))], ["dims": .intList([2, 0, 1])])
        },
        OpCase("transpose.int") { b in
            try b.call("transpose.int", [try b.input("x", t(.float32, 2, 3))], ["dim0": .int(0), "dim1": .int(-1)])
        },
        OpCase("slice_copy.Tensor with every attribute") { b in
            try b.call("slice_copy.Tensor", [try b.input("x", t(.float32, 2, 10))],
                       ["dim": .int(1), "start": .int(1), "end": .int(-1), "step": .int(2)])
        },
        OpCase("slice_copy.Tensor with extreme bounds") { b in
            try b.call("slice_copy.Tensor", [try b.input("x", t(.float32, 10))],
                       ["start": .int(Int.min), "end": .int(Int.max)])
        },
        OpCase("slice_copy.Tensor of a symbolic dim") { b in
            b.symbol("seq", range: seqSymbol.range)
            let x = try b.input("x", TensorType(.float32, [Dim(seqSymbol), 4]))
            return try b.call("slice_copy.Tensor", [x], ["start": .int(0), "end": .int(-1)])
        },
        OpCase("cat of three along dim 1") { b in
            let x = try b.input("x", t(.float32, 2, 1))
            let y = try b.input("y", t(.float32, 2, 3))
            return try b.call("cat", [], ["tensors": .tensorList([x, y, x]), "dim": .int(1)])
        },
    ]

    static let normalization: [OpCase] = [
        OpCase("batch_norm without weight and bias") { b in
            let x = try b.input("x", t(.float32, 2, 3, 4, 4))
            let mean = try b.constant("mean", try counting(.float32, [3]))
            let variance = try b.constant("var", try counting(.float32, [3]))
            return try b.call("batch_norm", [x, nil, nil, mean, variance],
                              ["momentum": .float(0.2), "eps": .float(1e-3), "cudnn_enabled": .bool(false)])
        },
        OpCase("batch_norm with weight and bias") { b in
            let x = try b.input("x", t(.float16, 2, 3))
            let params = try ["w", "b", "m", "v"].map { try b.input($0, t(.float16, 3)) }
            return try b.call("batch_norm", params.reduce(into: [x]) { $0.append($1) })
        },
        OpCase("_native_batch_norm_legit_no_training, three results") { b in
            let x = try b.input("x", t(.float32, 1, 2, 3, 3))
            let w = try b.constant("w", try counting(.float32, [2]))
            let mean = try b.constant("mean", try counting(.float32, [2]))
            let variance = try b.constant("var", try counting(.float32, [2]))
            return try b.call("_native_batch_norm_legit_no_training", [x, w, nil, mean, variance],
                              ["momentum": .float(0.1), "eps": .float(1e-5)],
                              names: ["y", "saved_mean", "saved_invstd"], location: "bn1")
        },
        OpCase("rms_norm with weight and eps") { b in
            let x = try b.input("x", t(.float32, 2, 8))
            let w = try b.input("w", t(.float32, 8))
            return try b.call("rms_norm", [x, w], ["normalized_shape": .intList([8]), "eps": .float(1e-6)])
        },
        OpCase("rms_norm without weight or eps") { b in
            try b.call("rms_norm", [try b.input("x", t(.bfloat16, 2, 8))], ["normalized_shape": .intList([2, 8])])
        },
    ]

    static let quantization: [OpCase] = [
        OpCase("quantize_per_tensor") { b in
            try b.call("quantized_decomposed.quantize_per_tensor", [try b.input("x", t(.float32, 2, 3))],
                       ["scale": .float(0.05), "zero_point": .int(-3), "quant_min": .int(-128), "quant_max": .int(127),
                        "dtype": .dtype(.int8)])
        },
        OpCase("quantize_per_tensor.tensor") { b in
            let x = try b.input("x", t(.float32, 2, 3))
            let s = try b.constant("s", try Tensor([Float(0.125)], shape: [1]))
            let z = try b.constant("z", try Tensor([Int64(7)], shape: []))
            return try b.call("quantized_decomposed.quantize_per_tensor.tensor", [x, s, z],
                              ["quant_min": .int(0), "quant_max": .int(255), "dtype": .dtype(.uint8)])
        },
        OpCase("dequantize_per_tensor with out_dtype") { b in
            try b.call("quantized_decomposed.dequantize_per_tensor", [try b.input("q", t(.int8, 4))],
                       ["scale": .float(0.5), "zero_point": .int(0), "quant_min": .int(-127), "quant_max": .int(127),
                        "dtype": .dtype(.int8), "out_dtype": .dtype(.float16)])
        },
        OpCase("dequantize_per_tensor.tensor") { b in
            let q = try b.input("q", t(.uint8, 4))
            let s = try b.input("s", t(.float32, 1))
            let z = try b.input("z", t(.int32, 1))
            return try b.call("quantized_decomposed.dequantize_per_tensor.tensor", [q, s, z],
                              ["quant_min": .int(0), "quant_max": .int(255), "dtype": .dtype(.uint8)])
        },
        OpCase("quantize_per_channel") { b in
            let x = try b.input("x", t(.float32, 4, 3))
            let s = try b.constant("s", try counting(.float32, [4]))
            let z = try b.constant("z", try counting(.int64, [4]))
            return try b.call("quantized_decomposed.quantize_per_channel", [x, s, z],
                              ["axis": .int(0), "quant_min": .int(-8), "quant_max": .int(7), "dtype": .dtype(.int8)])
        },
        OpCase("dequantize_per_channel without zero points") { b in
            let q = try b.input("q", t(.int8, 4, 3))
            let s = try b.input("s", t(.float32, 3))
            return try b.call("quantized_decomposed.dequantize_per_channel", [q, s, nil],
                              ["axis": .int(-1), "quant_min": .int(-128), "quant_max": .int(127), "dtype": .dtype(.int8)])
        },
        OpCase("quantize_per_channel_group") { b in
            let x = try b.input("x", t(.float32, 4, 8))
            let s = try b.input("s", t(.float32, 4, 2))
            let z = try b.input("z", t(.int8, 4, 2))
            return try b.call("quantized_decomposed.quantize_per_channel_group", [x, s, z],
                              ["quant_min": .int(-8), "quant_max": .int(7), "dtype": .dtype(.int8), "group_size": .int(4)])
        },
        OpCase("dequantize_per_channel_group without zero points") { b in
            let q = try b.input("q", t(.int8, 4, 8))
            let s = try b.input("s", t(.float16, 4, 2))
            return try b.call("quantized_decomposed.dequantize_per_channel_group", [q, s],
                              ["quant_min": .int(-8), "quant_max": .int(7), "dtype": .dtype(.int8), "group_size": .int(4),
                               "output_dtype": .dtype(.bfloat16)])
        },
        OpCase("dequantize_per_channel_group with zero points") { b in
            let q = try b.input("q", t(.int8, 4, 8))
            let s = try b.input("s", t(.float32, 4, 2))
            let z = try b.input("z", t(.float32, 4, 2))
            return try b.call("quantized_decomposed.dequantize_per_channel_group", [q, s, z],
                              ["quant_min": .int(-8), "quant_max": .int(7), "dtype": .dtype(.int8), "group_size": .int(4)])
        },
        OpCase("kiln.dequantize_per_channel_group_int4") { b in
            let q = try b.input("q", t(.uint8, 4, 4))
            let s = try b.input("s", t(.float32, 4, 2))
            return try b.call("kiln.dequantize_per_channel_group_int4", [q, s],
                              ["quant_min": .int(-8), "quant_max": .int(7), "group_size": .int(4)])
        },
        OpCase("quantize_per_token") { b in
            let x = try b.input("x", t(.float32, 2, 5))
            let s = try b.input("s", t(.float32, 2, 1))
            let z = try b.input("z", t(.int64, 2, 1))
            return try b.call("quantized_decomposed.quantize_per_token", [x, s, z],
                              ["quant_min": .int(-128), "quant_max": .int(127), "dtype": .dtype(.int8)])
        },
        OpCase("dequantize_per_token") { b in
            let q = try b.input("q", t(.int8, 2, 5))
            let s = try b.input("s", t(.float32, 2, 1))
            let z = try b.input("z", t(.int64, 2, 1))
            return try b.call("quantized_decomposed.dequantize_per_token", [q, s, z],
                              ["quant_min": .int(-128), "quant_max": .int(127), "dtype": .dtype(.int8),
                               "output_dtype": .dtype(.float16)])
        },
        OpCase("choose_qparams.tensor, two results") { b in
            try b.call("quantized_decomposed.choose_qparams.tensor", [try b.input("x", t(.float32, 4, 4))],
                       ["quant_min": .int(0), "quant_max": .int(255), "eps": .float(1.1920928955078125e-07),
                        "dtype": .dtype(.uint8)],
                       names: ["scale", "zero_point"])
        },
        OpCase("choose_qparams_per_token_asymmetric, symbolic") { b in
            b.symbol("seq", range: seqSymbol.range)
            let x = try b.input("x", TensorType(.float32, [2, Dim(seqSymbol), 8]))
            return try b.call("quantized_decomposed.choose_qparams_per_token_asymmetric", [x], ["dtype": .dtype(.int8)])
        },
    ]
}
