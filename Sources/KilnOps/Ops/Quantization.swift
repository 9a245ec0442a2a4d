import KilnTensor

/// PT2E's `quantized_decomposed` family: explicit quantize/dequantize and qparam selection.
///
/// Quantize: `q = clamp(round_half_even(x * (1 / scale)) + zero_point, quant_min, quant_max)` (PyTorch
/// multiplies by the reciprocal; the per-token and per-group forms add the zero point before rounding);
/// dequantize: `x = (q - zero_point) * scale`. 4-bit values use an int8 tensor with range -8...7
/// (packing two per byte is a storage choice made when constants are folded).
/// Which ops of this family quantize, dequantize or choose qparams: the one list the
/// partitioner (a compute node travels with its own q/dq nodes), constant folding (a dequantized
/// constant stays compact) and the backends read.
public enum QuantizationOps {
    /// Every op of the family, Kiln's packed int4 dequantize included.
    public static let all: Set<String> = Set(quantizationOps.map(\.name))
    /// Float → integer ops.
    public static let quantize: Set<String> = all.filter { $0.hasPrefix("quantized_decomposed.quantize_per") }
    /// Integer → float ops.
    public static let dequantize: Set<String> = all.filter { $0.contains(".dequantize_per") }
}

let quantizationOps: [OpSchema] = [
    quantize("quantize_per_tensor", pte: "out", scale: .float, zeroPoint: .int) { args, x in
        try perTensorParams(args)
    },
    quantize("quantize_per_tensor.tensor", pte: "Tensor_out", scale: .tensor, zeroPoint: .tensor) { args, x in
        try perTensorParams(args)
    },
    dequantize("dequantize_per_tensor", pte: "out", scale: .float, zeroPoint: .int) { args, x in
        try perTensorParams(args)
    },
    dequantize("dequantize_per_tensor.tensor", pte: "Tensor_out", scale: .tensor, zeroPoint: .tensor) { args, x in
        try perTensorParams(args)
    },
    quantize("quantize_per_channel", pte: "out", scale: .tensor, zeroPoint: .tensor, axis: true) { args, x in
        try perChannelParams(args, x)
    },
    dequantize("dequantize_per_channel", pte: "out", scale: .tensor, zeroPoint: .optional(.tensor), axis: true) { args, x in
        try perChannelParams(args, x)
    },
    quantize("quantize_per_channel_group", pte: "out", scale: .tensor, zeroPoint: .tensor, groupSize: true) { args, x in
        try perGroupParams(args, x)
    },
    dequantize("dequantize_per_channel_group", pte: "out", scale: .tensor, zeroPoint: .optional(.tensor),
               groupSize: true, outDType: Parameter("output_dtype", .dtype, default: .dtype(.float32))) { args, x in
        try perGroupParams(args, x)
    },
    quantize("quantize_per_token", pte: "out", scale: .tensor, zeroPoint: .tensor) { args, x in
        try perTokenParams(args, x)
    },
    dequantize("dequantize_per_token", pte: "out", scale: .tensor, zeroPoint: .tensor,
               outDType: Parameter("output_dtype", .dtype)) { args, x in
        try perTokenParams(args, x)
    },
    OpSchema("quantized_decomposed.choose_qparams.tensor",
             summary: "per-tensor affine scale and zero point from the input's min and max",
             parameters: [.init("input", .tensor), .init("quant_min", .int), .init("quant_max", .int),
                          .init("eps", .float), .init("dtype", .dtype)],
             results: 2, pte: PTEOperator("quantized_decomposed::choose_qparams", "Tensor_out")) { args in
        try args.requireFloat(args.tensor("input"), argument: "input")
        try checkRange(args)
        guard args.float("eps") >= 0 else { throw args.error("expected a non-negative eps", argument: "eps") }
        return [TensorType(.float32, static: [1]), TensorType(.int64, static: [1])]
    },
    OpSchema("quantized_decomposed.choose_qparams_per_token_asymmetric",
             summary: "per-token (last-dim rows) asymmetric scale and zero point",
             parameters: [.init("input", .tensor), .init("dtype", .dtype)],
             results: 2, pte: PTEOperator("quantized_decomposed::choose_qparams_per_token_asymmetric")) { args in
        let x = args.tensor("input")
        try args.requireFloat(x, argument: "input")
        try args.requireRank(x, 1...Int.max, argument: "input")
        let dtype = args.dtype("dtype")
        guard dtype.isInteger else { throw args.error("expected an integer dtype, got \(dtype)", argument: "dtype") }
        let shape = x.shape.dropLast() + [Dim(1)]
        return [TensorType(.float32, Array(shape)), TensorType(.int64, Array(shape))]
    },
    // ExecuTorch's kernel libraries have no dequantize for packed 4-bit weights, hence `kiln::`.
    OpSchema("kiln.dequantize_per_channel_group_int4",
             summary: "packed 4-bit (two per byte, low nibble first) to float, per group: (q - zero_point) * scale",
             parameters: [.init("input", .tensor), .init("scales", .tensor), .init("zero_points", .optional(.tensor)),
                          .init("quant_min", .int), .init("quant_max", .int), .init("group_size", .int),
                          .init("output_dtype", .dtype, default: .dtype(.float32))],
             pte: PTEOperator("kiln::dequantize_per_channel_group_int4")) { args in
        let x = args.tensor("input")
        guard x.dtype == .uint8 else { throw args.error("expected packed uint8 bytes, got \(x.dtype)", argument: "input") }
        try args.requireRank(x, 2...2, argument: "input")
        let lo = args.int("quant_min"), hi = args.int("quant_max")
        guard -8 <= lo, lo <= hi, hi <= 7 else {
            throw args.error("range \(lo)...\(hi) does not fit int4 (-8...7)", argument: "quant_min")
        }
        let columns = try x.shape[1] * Dim(2)
        let group = args.int("group_size")
        guard group > 0 else { throw args.error("expected a positive group size, got \(group)", argument: "group_size") }
        guard let groups = columns.exactlyDivided(by: group) else {
            throw args.error("unpacked dim 1 (\(columns)) is not a multiple of group_size \(group)", argument: "group_size")
        }
        try requireParams(args, shape: [x.shape[0], groups], "of [rows, 2 * bytes / group_size]")
        let out = args.dtype("output_dtype")
        guard out.isFloatingPoint else {
            throw args.error("expected a floating-point output_dtype, got \(out)", argument: "output_dtype")
        }
        return [TensorType(out, [x.shape[0], columns])]
    },
]

/// The parameters every quantize/dequantize form has after its scale and zero point.
/// Per-tensor forms call their qparams `scale` / `zero_point` (numbers or one-element tensors);
/// the others `scales` / `zero_points`, as upstream does.
private func quantParameters(_ name: String, scale: ArgumentKind, zeroPoint: ArgumentKind, axis: Bool,
                             groupSize: Bool) -> [Parameter] {
    let perTensor = name.contains("per_tensor")
    let scaleName = perTensor ? "scale" : "scales"
    let zeroName = perTensor ? "zero_point" : "zero_points"
    var params: [Parameter] = [.init("input", .tensor), .init(scaleName, scale), .init(zeroName, zeroPoint)]
    if axis { params.append(.init("axis", .int)) }
    params += [.init("quant_min", .int), .init("quant_max", .int), .init("dtype", .dtype)]
    if groupSize { params.append(.init("group_size", .int)) }
    return params
}

private typealias ParamCheck = @Sendable (OpArguments<TensorType>, TensorType) throws -> Void

private func quantize(_ name: String, pte: String, scale: ArgumentKind, zeroPoint: ArgumentKind,
                      axis: Bool = false, groupSize: Bool = false, check: @escaping ParamCheck) -> OpSchema {
    let base = name.split(separator: ".")[0]
    return OpSchema("quantized_decomposed.\(name)", summary: "float to integer: clamp(round(x * (1 / scale)) + zero_point)",
                    parameters: quantParameters(name, scale: scale, zeroPoint: zeroPoint, axis: axis, groupSize: groupSize),
                    pte: PTEOperator("quantized_decomposed::\(base)", pte)) { args in
        let x = args.tensor("input")
        try args.requireFloat(x, argument: "input")
        try checkRange(args)
        try check(args, x)
        return [TensorType(args.dtype("dtype"), x.shape)]
    }
}

/// `outDType` is the trailing result-dtype parameter: upstream calls it `out_dtype` (optional) on the
/// per-tensor and per-channel forms, and `output_dtype` on the per-token (required) and per-group
/// (default float32) forms.
private func dequantize(_ name: String, pte: String, scale: ArgumentKind, zeroPoint: ArgumentKind,
                        axis: Bool = false, groupSize: Bool = false,
                        outDType: Parameter = Parameter("out_dtype", .optional(.dtype)),
                        check: @escaping ParamCheck) -> OpSchema {
    let base = name.split(separator: ".")[0]
    var params = quantParameters(name, scale: scale, zeroPoint: zeroPoint, axis: axis, groupSize: groupSize)
    params.append(outDType)
    return OpSchema("quantized_decomposed.\(name)", summary: "integer to float: (q - zero_point) * scale",
                    parameters: params, pte: PTEOperator("quantized_decomposed::\(base)", pte)) { args in
        let x = args.tensor("input")
        try checkRange(args)
        guard x.dtype == args.dtype("dtype") else {
            throw args.error("input is \(x.dtype), dtype says \(args.dtype("dtype"))", argument: "input")
        }
        try check(args, x)
        let out = args.optionalDType(outDType.name) ?? .float32
        guard out.isFloatingPoint else {
            throw args.error("expected a floating-point \(outDType.name), got \(out)", argument: outDType.name)
        }
        return [TensorType(out, x.shape)]
    }
}

/// quant_min <= quant_max, both inside the integer dtype.
private func checkRange(_ args: OpArguments<TensorType>) throws {
    let dtype = args.dtype("dtype")
    guard dtype.isInteger, let range = dtype.integerRange else {
        throw args.error("expected an integer dtype, got \(dtype)", argument: "dtype")
    }
    let lo = args.int("quant_min"), hi = args.int("quant_max")
    guard lo <= hi else { throw args.error("quant_min \(lo) is greater than quant_max \(hi)", argument: "quant_min") }
    guard range.contains(Int64(lo)), range.contains(Int64(hi)) else {
        throw args.error("range \(lo)...\(hi) does not fit \(dtype) (\(range.lowerBound)...\(range.upperBound))",
                         argument: range.contains(Int64(lo)) ? "quant_max" : "quant_min")
    }
}

/// Scale and zero point given as numbers, or as one-element tensors (float scale, integer zero point).
private func perTensorParams(_ args: OpArguments<TensorType>) throws {
    switch args["scale"] {
    case .float(let s) where !(s > 0 && s.isFinite):
        throw args.error("expected a positive finite scale, got \(s)", argument: "scale")
    case .tensor(let s):
        try requireOneElement(args, s, "scale", float: true)
    default:
        break
    }
    if case .tensor(let z) = args["zero_point"] {
        try requireOneElement(args, z, "zero_point", float: false)
    }
}

private func requireOneElement(_ args: OpArguments<TensorType>, _ t: TensorType, _ name: String, float: Bool) throws {
    guard let shape = t.staticShape, (try? Shape.elementCount(shape)) == 1 else {
        throw args.error("expected a one-element tensor, got \(t)", argument: name)
    }
    guard float ? t.dtype.isFloatingPoint : t.dtype.isInteger else {
        throw args.error("expected \(float ? "a floating-point" : "an integer") tensor, got \(t.dtype)", argument: name)
    }
}

/// Scales (and zero points) of shape [input.shape[axis]].
private func perChannelParams(_ args: OpArguments<TensorType>, _ x: TensorType) throws {
    try args.requireRank(x, 1...Int.max, argument: "input")
    let axis = try args.axis(args.int("axis"), rank: x.rank, argument: "axis")
    try requireParams(args, shape: [x.shape[axis]], "of dim \(axis)")
}

/// Rank-2 input [rows, cols]; scales [rows, cols / group_size].
private func perGroupParams(_ args: OpArguments<TensorType>, _ x: TensorType) throws {
    try args.requireRank(x, 2...2, argument: "input")
    let group = args.int("group_size")
    guard group > 0 else { throw args.error("expected a positive group size, got \(group)", argument: "group_size") }
    guard let groups = x.shape[1].exactlyDivided(by: group) else {
        throw args.error("input dim 1 (\(x.shape[1])) is not a multiple of group_size \(group)", argument: "group_size")
    }
    try requireParams(args, shape: [x.shape[0], groups], "of [rows, cols / group_size]")
}

/// Scales (and zero points) of shape input.shape[:-1] + [1].
private func perTokenParams(_ args: OpArguments<TensorType>, _ x: TensorType) throws {
    try args.requireRank(x, 1...Int.max, argument: "input")
    try requireParams(args, shape: x.shape.dropLast() + [1], "of input.shape[:-1] + [1]")
}

private func requireParams(_ args: OpArguments<TensorType>, shape: [Dim], _ what: String) throws {
    let s = args.tensor("scales")
    guard s.dtype.isFloatingPoint else { throw args.error("expected floating-point scales, got \(s.dtype)", argument: "scales") }
    guard s.shape == shape else { throw args.error("expected shape \(shape) (\(what)), got \(s)", argument: "scales") }
    if let z = args.optionalTensor("zero_points") {
        guard z.dtype.isInteger || z.dtype.isFloatingPoint else {
            throw args.error("expected numeric zero points, got \(z.dtype)", argument: "zero_points")
        }
        guard z.shape == shape else { throw args.error("expected shape \(shape) (\(what)), got \(z)", argument: "zero_points") }
    }
}
