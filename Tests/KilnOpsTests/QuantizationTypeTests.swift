import KilnOps
import KilnTensor
import Testing

/// `quantized_decomposed.<name>`.
private func qd(_ name: String) -> String { "quantized_decomposed.\(name)" }

/// Arguments with an int8 range (-128...127), overridden or extended by `named`.
private func int8(_ named: [String: Argument<TensorType>]) -> [String: Argument<TensorType>] {
    ["quant_min": .int(-128), "quant_max": .int(127), "dtype": .dtype(.int8)].merging(named) { _, new in new }
}

/// Per-tensor quantization with numeric scale and zero point.
private func perTensor(_ input: Argument<TensorType>, _ named: [String: Argument<TensorType>] = [:])
    -> [String: Argument<TensorType>] {
    int8(["input": input, "scale": .float(0.1), "zero_point": .int(0)].merging(named) { _, new in new })
}

/// Per-tensor quantization with one-element scale and zero-point tensors.
private func perTensorTensors(_ input: Argument<TensorType>, _ named: [String: Argument<TensorType>] = [:])
    -> [String: Argument<TensorType>] {
    int8(["input": input, "scale": t(.float32, 1), "zero_point": t(.int64, 1)].merging(named) { _, new in new })
}

/// Per-channel along axis 0 of a [16, 3, 3, 3] weight.
private func perChannel(_ input: Argument<TensorType>, _ named: [String: Argument<TensorType>] = [:])
    -> [String: Argument<TensorType>] {
    int8(["input": input, "scales": t(.float32, 16), "zero_points": t(.int64, 16), "axis": .int(0)]
        .merging(named) { _, new in new })
}

/// Groups of 32 along dim 1 of an [8, 64] matrix.
private func perGroup(_ input: Argument<TensorType>, _ named: [String: Argument<TensorType>] = [:])
    -> [String: Argument<TensorType>] {
    int8(["input": input, "scales": t(.float32, 8, 2), "zero_points": t(.int64, 8, 2), "group_size": .int(32)]
        .merging(named) { _, new in new })
}

/// Packed int4 rows (two values per byte), scales per group of 32 of the unpacked [8, 64].
private func packedInt4(_ input: Argument<TensorType>, _ named: [String: Argument<TensorType>] = [:])
    -> [String: Argument<TensorType>] {
    ["input": input, "scales": t(.float32, 8, 2), "quant_min": .int(-8), "quant_max": .int(7), "group_size": .int(32)]
        .merging(named) { _, new in new }
}

/// The quantized_decomposed family: output dtypes, qparam shapes per granularity, range checks.
let quantizationCases: [OpCase] = [
    .ok(qd("quantize_per_tensor"), "int8", perTensor(t(.float32, 4, 4)), "i8[4, 4]"),
    .ok(qd("quantize_per_tensor"), "uint8, symbolic",
        perTensor(t(.float16, 1, seq, 256), ["quant_min": .int(0), "quant_max": .int(255), "dtype": .dtype(.uint8)]),
        "u8[1, seq, 256]"),
    .ok(qd("quantize_per_tensor"), "4-bit in int8", perTensor(t(.float32, 4), ["quant_min": .int(-8), "quant_max": .int(7)]),
        "i8[4]"),
    .fails(qd("quantize_per_tensor"), "integer input", perTensor(t(.int32, 4)),
           argument: "input", "expected a floating-point tensor, got i32"),
    .fails(qd("quantize_per_tensor"), "float dtype", perTensor(t(.float32, 4), ["dtype": .dtype(.float32)]),
           argument: "dtype", "expected an integer dtype, got f32"),
    .fails(qd("quantize_per_tensor"), "bool dtype", perTensor(t(.float32, 4), ["dtype": .dtype(.bool)]),
           argument: "dtype", "expected an integer dtype, got bool"),
    .fails(qd("quantize_per_tensor"), "empty range", perTensor(t(.float32, 4), ["quant_min": .int(5), "quant_max": .int(4)]),
           argument: "quant_min", "quant_min 5 is greater than quant_max 4"),
    .fails(qd("quantize_per_tensor"), "quant_min below the dtype", perTensor(t(.float32, 4), ["quant_min": .int(-129)]),
           argument: "quant_min", "range -129...127 does not fit i8 (-128...127)"),
    .fails(qd("quantize_per_tensor"), "quant_max above the dtype",
           perTensor(t(.float32, 4), ["quant_min": .int(0), "quant_max": .int(256), "dtype": .dtype(.uint8)]),
           argument: "quant_max", "range 0...256 does not fit u8 (0...255)"),
    .fails(qd("quantize_per_tensor"), "zero scale", perTensor(t(.float32, 4), ["scale": .float(0)]),
           argument: "scale", "expected a positive finite scale, got 0.0"),
    .fails(qd("quantize_per_tensor"), "infinite scale", perTensor(t(.float32, 4), ["scale": .float(.infinity)]),
           argument: "scale", "expected a positive finite scale, got inf"),
    .fails(qd("quantize_per_tensor"), "NaN scale", perTensor(t(.float32, 4), ["scale": .float(.nan)]),
           argument: "scale", "got nan"),

    .ok(qd("quantize_per_tensor.tensor"), "one-element qparams", perTensorTensors(t(.float32, 4, 4)), "i8[4, 4]"),
    .ok(qd("quantize_per_tensor.tensor"), "rank-0 scale, [1, 1] zero point",
        perTensorTensors(t(.float32, seq), ["scale": t(.float32), "zero_point": t(.int32, 1, 1)]), "i8[seq]"),
    .fails(qd("quantize_per_tensor.tensor"), "integer input", perTensorTensors(t(.int8, 4)),
           argument: "input", "expected a floating-point tensor, got i8"),
    .fails(qd("quantize_per_tensor.tensor"), "two scales", perTensorTensors(t(.float32, 4), ["scale": t(.float32, 2)]),
           argument: "scale", "expected a one-element tensor, got f32[2]"),
    .fails(qd("quantize_per_tensor.tensor"), "symbolic scales", perTensorTensors(t(.float32, 4), ["scale": t(.float32, seq)]),
           argument: "scale", "expected a one-element tensor, got f32[seq]"),
    .fails(qd("quantize_per_tensor.tensor"), "integer scales", perTensorTensors(t(.float32, 4), ["scale": t(.int64, 1)]),
           argument: "scale", "expected a floating-point tensor, got i64"),
    .fails(qd("quantize_per_tensor.tensor"), "float zero point",
           perTensorTensors(t(.float32, 4), ["zero_point": t(.float32, 1)]),
           argument: "zero_point", "expected an integer tensor, got f32"),
    .fails(qd("quantize_per_tensor.tensor"), "empty zero point",
           perTensorTensors(t(.float32, 4), ["zero_point": t(.int64, 0)]),
           argument: "zero_point", "expected a one-element tensor, got i64[0]"),

    .ok(qd("dequantize_per_tensor"), "to f32", perTensor(t(.int8, 4, 4)), "f32[4, 4]"),
    .ok(qd("dequantize_per_tensor"), "to f16", perTensor(t(.int8, seq), ["out_dtype": .dtype(.float16)]), "f16[seq]"),
    .fails(qd("dequantize_per_tensor"), "input dtype", perTensor(t(.uint8, 4)),
           argument: "input", "input is u8, dtype says i8"),
    .fails(qd("dequantize_per_tensor"), "integer out_dtype", perTensor(t(.int8, 4), ["out_dtype": .dtype(.int32)]),
           argument: "out_dtype", "expected a floating-point out_dtype, got i32"),
    .fails(qd("dequantize_per_tensor"), "negative scale", perTensor(t(.int8, 4), ["scale": .float(-0.5)]),
           argument: "scale", "expected a positive finite scale, got -0.5"),
    .fails(qd("dequantize_per_tensor"), "float dtype", perTensor(t(.float32, 4), ["dtype": .dtype(.float32)]),
           argument: "dtype", "expected an integer dtype, got f32"),

    .ok(qd("dequantize_per_tensor.tensor"), "one-element qparams", perTensorTensors(t(.int8, 4, 4)), "f32[4, 4]"),
    .fails(qd("dequantize_per_tensor.tensor"), "input dtype", perTensorTensors(t(.int16, 4)),
           argument: "input", "input is i16, dtype says i8"),
    .fails(qd("dequantize_per_tensor.tensor"), "two zero points",
           perTensorTensors(t(.int8, 4), ["zero_point": t(.int64, 2)]),
           argument: "zero_point", "expected a one-element tensor, got i64[2]"),

    .ok(qd("quantize_per_channel"), "conv weight", perChannel(t(.float32, 16, 3, 3, 3)), "i8[16, 3, 3, 3]"),
    // Regression: a rank-0 input once indexed shape[axis] out of range and trapped.
    .fails(qd("quantize_per_channel"), "scalar input", perChannel(t(.float32)),
           argument: "input", "expected rank 1 or more, got f32[]"),
    .fails(qd("dequantize_per_channel"), "scalar input", perChannel(t(.int8)),
           argument: "input", "expected rank 1 or more, got i8[]"),
    .ok(qd("quantize_per_channel"), "negative axis",
        perChannel(t(.float32, 4, 8), ["axis": .int(-1), "scales": t(.float32, 8), "zero_points": t(.int32, 8)]),
        "i8[4, 8]"),
    .ok(qd("quantize_per_channel"), "symbolic channel dim",
        perChannel(t(.float32, seq, 8), ["scales": t(.float32, seq), "zero_points": t(.float32, seq)]), "i8[seq, 8]"),
    .fails(qd("quantize_per_channel"), "integer input", perChannel(t(.int32, 16, 3, 3, 3)),
           argument: "input", "expected a floating-point tensor, got i32"),
    .fails(qd("quantize_per_channel"), "range", perChannel(t(.float32, 16, 3, 3, 3), ["quant_max": .int(128)]),
           argument: "quant_max", "does not fit i8"),
    .fails(qd("quantize_per_channel"), "axis out of range", perChannel(t(.float32, 16, 3, 3, 3), ["axis": .int(4)]),
           argument: "axis", "dim 4 is out of range for a tensor of rank 4"),
    .fails(qd("quantize_per_channel"), "integer scales", perChannel(t(.float32, 16, 3, 3, 3), ["scales": t(.int32, 16)]),
           argument: "scales", "expected floating-point scales, got i32"),
    .fails(qd("quantize_per_channel"), "scales shape", perChannel(t(.float32, 16, 3, 3, 3), ["scales": t(.float32, 8)]),
           argument: "scales", "expected shape [16] (of dim 0), got f32[8]"),
    .fails(qd("quantize_per_channel"), "bool zero points",
           perChannel(t(.float32, 16, 3, 3, 3), ["zero_points": t(.bool, 16)]),
           argument: "zero_points", "expected numeric zero points, got bool"),
    .fails(qd("quantize_per_channel"), "zero points shape",
           perChannel(t(.float32, 16, 3, 3, 3), ["zero_points": t(.int64, 1)]),
           argument: "zero_points", "expected shape [16] (of dim 0), got i64[1]"),

    .ok(qd("dequantize_per_channel"), "no zero points", perChannel(t(.int8, 16, 3, 3, 3), ["zero_points": .none]),
        "f32[16, 3, 3, 3]"),
    .ok(qd("dequantize_per_channel"), "to bf16", perChannel(t(.int8, 16, 4), ["out_dtype": .dtype(.bfloat16)]),
        "bf16[16, 4]"),
    .fails(qd("dequantize_per_channel"), "input dtype", perChannel(t(.float32, 16, 4)),
           argument: "input", "input is f32, dtype says i8"),
    .fails(qd("dequantize_per_channel"), "scales along the wrong axis",
           perChannel(t(.int8, 16, 4), ["axis": .int(1)]),
           argument: "scales", "expected shape [4] (of dim 1), got f32[16]"),
    .fails(qd("dequantize_per_channel"), "integer out_dtype", perChannel(t(.int8, 16, 4), ["out_dtype": .dtype(.int8)]),
           argument: "out_dtype", "expected a floating-point out_dtype, got i8"),

    .ok(qd("quantize_per_channel_group"), "groups of 32", perGroup(t(.float32, 8, 64)), "i8[8, 64]"),
    .ok(qd("quantize_per_channel_group"), "symbolic rows",
        perGroup(t(.float32, seq, 64), ["scales": t(.float32, seq, 2), "zero_points": t(.int64, seq, 2)]),
        "i8[seq, 64]"),
    .fails(qd("quantize_per_channel_group"), "rank 3", perGroup(t(.float32, 2, 8, 64)),
           argument: "input", "expected rank 2, got f32[2, 8, 64]"),
    .fails(qd("quantize_per_channel_group"), "zero group size", perGroup(t(.float32, 8, 64), ["group_size": .int(0)]),
           argument: "group_size", "expected a positive group size, got 0"),
    .fails(qd("quantize_per_channel_group"), "group size does not divide",
           perGroup(t(.float32, 8, 64), ["group_size": .int(48)]),
           argument: "group_size", "input dim 1 (64) is not a multiple of group_size 48"),
    .fails(qd("quantize_per_channel_group"), "scales shape", perGroup(t(.float32, 8, 64), ["group_size": .int(16)]),
           argument: "scales", "expected shape [8, 4] (of [rows, cols / group_size]), got f32[8, 2]"),
    .ok(qd("dequantize_per_channel_group"), "no zero points", perGroup(t(.int8, 8, 64), ["zero_points": .none]),
        "f32[8, 64]"),
    .fails(qd("dequantize_per_channel_group"), "zero points shape",
           perGroup(t(.int8, 8, 64), ["zero_points": t(.int64, 8, 1)]),
           argument: "zero_points", "expected shape [8, 2]"),

    .ok("kiln.dequantize_per_channel_group_int4", "packed [8, 32] to [8, 64]", packedInt4(t(.uint8, 8, 32)), "f32[8, 64]"),
    .ok("kiln.dequantize_per_channel_group_int4", "zero points, f16 out",
        packedInt4(t(.uint8, 8, 32), ["zero_points": t(.int64, 8, 2), "output_dtype": .dtype(.float16)]), "f16[8, 64]"),
    .fails("kiln.dequantize_per_channel_group_int4", "int8 input", packedInt4(t(.int8, 8, 32)),
           argument: "input", "expected packed uint8 bytes, got i8"),
    .fails("kiln.dequantize_per_channel_group_int4", "int8 range", packedInt4(t(.uint8, 8, 32), ["quant_min": .int(-128)]),
           argument: "quant_min", "range -128...7 does not fit int4"),
    .fails("kiln.dequantize_per_channel_group_int4", "group does not divide",
           packedInt4(t(.uint8, 8, 32), ["group_size": .int(48)]), argument: "group_size", "not a multiple of group_size 48"),
    .fails("kiln.dequantize_per_channel_group_int4", "scales shape", packedInt4(t(.uint8, 8, 16)),
           argument: "scales", "expected shape [8, 1]"),

    .ok(qd("quantize_per_token"), "symbolic tokens",
        int8(["input": t(.float32, 2, seq, 64), "scales": t(.float32, 2, seq, 1), "zero_points": t(.int64, 2, seq, 1)]),
        "i8[2, seq, 64]"),
    .fails(qd("quantize_per_token"), "scalar input",
           int8(["input": t(.float32), "scales": t(.float32, 1), "zero_points": t(.int64, 1)]),
           argument: "input", "expected rank 1 or more, got f32[]"),
    .fails(qd("quantize_per_token"), "scales without the trailing 1",
           int8(["input": t(.float32, 2, seq, 64), "scales": t(.float32, 2, seq), "zero_points": t(.int64, 2, seq, 1)]),
           argument: "scales", "expected shape [2, seq, 1] (of input.shape[:-1] + [1]), got f32[2, seq]"),
    .ok(qd("dequantize_per_token"), "to f32",
        int8(["input": t(.int8, seq, 64), "scales": t(.float32, seq, 1), "zero_points": t(.int64, seq, 1),
              "output_dtype": .dtype(.float32)]),
        "f32[seq, 64]"),
    .fails(qd("dequantize_per_token"), "zero points shape",
           int8(["input": t(.int8, seq, 64), "scales": t(.float32, seq, 1), "zero_points": t(.int64, seq),
                 "output_dtype": .dtype(.float32)]),
           argument: "zero_points", "expected shape [seq, 1]"),

    .ok(qd("choose_qparams.tensor"), "scale and zero point",
        int8(["input": t(.float32, 4, seq), "eps": .float(1e-5)]), "f32[1]", "i64[1]"),
    .fails(qd("choose_qparams.tensor"), "integer input", int8(["input": t(.int32, 4), "eps": .float(1e-5)]),
           argument: "input", "expected a floating-point tensor, got i32"),
    .fails(qd("choose_qparams.tensor"), "range", int8(["input": t(.float32, 4), "eps": .float(1e-5), "quant_min": .int(1),
                                                       "quant_max": .int(0)]),
           argument: "quant_min", "quant_min 1 is greater than quant_max 0"),
    .fails(qd("choose_qparams.tensor"), "negative eps", int8(["input": t(.float32, 4), "eps": .float(-1)]),
           argument: "eps", "expected a non-negative eps"),

    .ok(qd("choose_qparams_per_token_asymmetric"), "per row",
        ["input": t(.float32, 2, seq, 64), "dtype": .dtype(.int8)], "f32[2, seq, 1]", "i64[2, seq, 1]"),
    .ok(qd("choose_qparams_per_token_asymmetric"), "one row", ["input": t(.float16, 64), "dtype": .dtype(.uint8)],
        "f32[1]", "i64[1]"),
    .fails(qd("choose_qparams_per_token_asymmetric"), "integer input", ["input": t(.int8, 2, 64), "dtype": .dtype(.int8)],
           argument: "input", "expected a floating-point tensor, got i8"),
    .fails(qd("choose_qparams_per_token_asymmetric"), "scalar input", ["input": t(.float32), "dtype": .dtype(.int8)],
           argument: "input", "expected rank 1 or more"),
    .fails(qd("choose_qparams_per_token_asymmetric"), "float dtype", ["input": t(.float32, 2, 64), "dtype": .dtype(.float16)],
           argument: "dtype", "expected an integer dtype, got f16"),
]

@Suite struct QuantizationTypeTests {
    @Test(arguments: quantizationCases)
    func inference(_ c: OpCase) {
        c.check()
    }

    /// Every per-tensor form names its qparams `scale` and `zero_point`, as upstream does, whether
    /// they are numbers or one-element tensors (regression: the rule once trapped on the `.tensor` forms).
    @Test func perTensorParameterNames() throws {
        #expect(try schema(qd("quantize_per_tensor")).parameters.map(\.name)
                == ["input", "scale", "zero_point", "quant_min", "quant_max", "dtype"])
        #expect(try schema(qd("dequantize_per_tensor.tensor")).parameters.map(\.name)
                == ["input", "scale", "zero_point", "quant_min", "quant_max", "dtype", "out_dtype"])
    }
}
