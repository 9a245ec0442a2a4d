import KilnTensor

/// Pooling, upsampling, padding and the convolutions users write (`conv2d`, `conv_transpose2d`),
/// with ATen's names, parameter order and defaults.
///
/// Output sizes follow ATen exactly: pooling's `floor((in + 2·pad - dilation·(k - 1) - 1) / stride) + 1`
/// (ceil in ceil mode, where the last window must start inside the input or its left padding),
/// upsampling's `output_size` or `floor(in · scale_factor)`, padding's `in + before + after`.
/// Symbolic spatial sizes give symbolic results where `Dim` can say them exactly (a `floordiv`
/// term), and an error naming the op and the argument where it cannot.
let samplingOps: [OpSchema] = [
    OpSchema("max_pool2d", summary: "maximum over each (dilated) window of the last two dims",
             parameters: maxPoolParameters, pte: nil) { args in
        [try poolType(args, dilated: true)]
    },
    OpSchema("max_pool2d_with_indices",
             summary: "maximum over each (dilated) window of the last two dims, and its flat index in the H·W plane",
             parameters: maxPoolParameters, results: 2,
             pte: PTEOperator("aten::max_pool2d_with_indices")) { args in
        let values = try poolType(args, dilated: true)
        return [values, TensorType(.int64, values.shape)]
    },
    OpSchema("avg_pool2d", summary: "mean over each window of the last two dims",
             parameters: [.init("self", .tensor), .init("kernel_size", .intList),
                          .init("stride", .intList, default: .intList([])),
                          .init("padding", .intList, default: .intList([0, 0])),
                          .init("ceil_mode", .bool, default: .bool(false)),
                          .init("count_include_pad", .bool, default: .bool(true)),
                          .init("divisor_override", .optional(.int))],
             pte: PTEOperator("aten::avg_pool2d")) { args in
        let result = try poolType(args, dilated: false)
        if let divisor = args.optionalInt("divisor_override"), divisor == 0 {
            throw args.error("expected a non-zero divisor, got 0", argument: "divisor_override")
        }
        return [result]
    },
    OpSchema("upsample_nearest2d.vec",
             summary: "resize the last two dims by nearest neighbour (source index floor(dst · in / out))",
             parameters: [.init("input", .tensor), .init("output_size", .optional(.intList)),
                          .init("scale_factors", .optional(.floatList))],
             pte: PTEOperator("aten::upsample_nearest2d", "vec_out")) { args in
        [try upsampleType(args, input: "input", floatingOnly: false)]
    },
    OpSchema("upsample_bilinear2d.vec", summary: "resize the last two dims by bilinear interpolation",
             parameters: [.init("input", .tensor), .init("output_size", .optional(.intList)),
                          .init("align_corners", .bool), .init("scale_factors", .optional(.floatList))],
             pte: PTEOperator("aten::upsample_bilinear2d", "vec_out")) { args in
        [try upsampleType(args, input: "input", floatingOnly: true)]
    },
    OpSchema("upsample_nearest2d",
             summary: "resize the last two dims to output_size by nearest neighbour (scales, when given, set the source index)",
             parameters: [.init("self", .tensor), .init("output_size", .intList),
                          .init("scales_h", .optional(.float)), .init("scales_w", .optional(.float))],
             pte: nil) { args in
        [try upsampleType(args, input: "self", floatingOnly: false)]
    },
    OpSchema("upsample_bilinear2d",
             summary: "resize the last two dims to output_size by bilinear interpolation (scales, when given, set the source index)",
             parameters: [.init("self", .tensor), .init("output_size", .intList), .init("align_corners", .bool),
                          .init("scales_h", .optional(.float)), .init("scales_w", .optional(.float))],
             pte: nil) { args in
        [try upsampleType(args, input: "self", floatingOnly: true)]
    },
    OpSchema("constant_pad_nd",
             summary: "pad (or, with negative pads, crop) the trailing dims with a constant; pad pairs run from the last dim back",
             parameters: [.init("self", .tensor), .init("pad", .intList), .init("value", .scalar, default: .int(0))],
             pte: PTEOperator("aten::constant_pad_nd"), rule: constantPadRule),
    OpSchema("conv2d", summary: "2-D convolution of (N)CHW input with OIHW weight",
             parameters: [.init("input", .tensor), .init("weight", .tensor), .init("bias", .optional(.tensor)),
                          .init("stride", .intList, default: .intList([1, 1])),
                          .init("padding", .intList, default: .intList([0, 0])),
                          .init("dilation", .intList, default: .intList([1, 1])),
                          .init("groups", .int, default: .int(1))],
             pte: nil) { args in
        [try convolutionType(args, transposed: false)]
    },
    OpSchema("conv_transpose2d.input",
             summary: "2-D transposed convolution of (N)CHW input with [in, out / groups, kh, kw] weight",
             parameters: [.init("input", .tensor), .init("weight", .tensor), .init("bias", .optional(.tensor)),
                          .init("stride", .intList, default: .intList([1, 1])),
                          .init("padding", .intList, default: .intList([0, 0])),
                          .init("output_padding", .intList, default: .intList([0, 0])),
                          .init("groups", .int, default: .int(1)),
                          .init("dilation", .intList, default: .intList([1, 1]))],
             pte: nil) { args in
        [try convolutionType(args, transposed: true)]
    },
]

/// `max_pool2d` and `max_pool2d_with_indices` share ATen's parameters.
private let maxPoolParameters: [Parameter] = [
    .init("self", .tensor), .init("kernel_size", .intList),
    .init("stride", .intList, default: .intList([])),
    .init("padding", .intList, default: .intList([0, 0])),
    .init("dilation", .intList, default: .intList([1, 1])),
    .init("ceil_mode", .bool, default: .bool(false)),
]

// MARK: - Pooling

/// The pooled type of `self` (`[C, H, W]` or `[N, C, H, W]`): checks the window arguments as
/// ATen's `pool2d_shape_check` does and sizes each spatial dim with ``pooledSize``.
private func poolType(_ args: OpArguments<TensorType>, dilated: Bool) throws -> TensorType {
    let x = args.tensor("self")
    try args.requireRank(x, 3...4, argument: "self")
    if dilated {
        guard x.dtype != .bool else { throw args.error("expected a numeric tensor, got bool", argument: "self") }
    } else {
        guard x.dtype.isFloatingPoint || x.dtype == .int64 else {
            throw args.error("expected a floating-point or i64 tensor, got \(x.dtype)", argument: "self")
        }
    }
    // The batch may be empty; channels and the plane may not.
    for d in (x.rank - 3)..<x.rank where x.shape[d].lowerBound < 1 {
        throw args.error("expected non-empty channel and spatial dims (only the batch may be empty), got \(x)",
                         argument: "self")
    }
    let kernel = try args.positiveList("kernel_size", count: 2)
    let stride = args.intList("stride").isEmpty ? kernel : try args.positiveList("stride", count: 2)
    let padding = try args.positiveList("padding", count: 2, allowZero: true)
    let dilation = dilated ? try args.positiveList("dilation", count: 2) : [1, 1]
    let ceilMode = args.bool("ceil_mode")
    for i in 0..<2 where padding[i] > kernel[i] / 2 {
        throw args.error("padding \(padding) must be at most half of kernel_size \(kernel)", argument: "padding")
    }
    var shape = Array(x.shape.dropLast(2))
    for i in 0..<2 {
        shape.append(try pooledSize(args, x.shape[x.rank - 2 + i], axis: i, kernel: kernel[i], stride: stride[i],
                                    padding: padding[i], dilation: dilation[i], ceilMode: ceilMode))
    }
    return TensorType(x.dtype, shape)
}

/// ATen's `pooling_output_shape`: `floor((in + 2·pad - dilation·(k - 1) - 1 [+ stride - 1 in ceil
/// mode]) / stride) + 1`, one less in ceil mode when the last window would start at or past
/// `in + pad` (past the input and its left padding).
///
/// With a symbolic `in` the ceil-mode correction depends on `in` modulo the stride unless
/// `stride + pad < dilation·(k - 1) + 2`, where the last window always starts in time; other
/// cases are an error at `ceil_mode`.
private func pooledSize(_ args: OpArguments<TensorType>, _ size: Dim, axis: Int, kernel: Int, stride: Int,
                        padding: Int, dilation: Int, ceilMode: Bool) throws -> Dim {
    let out: Dim = try args.dims {
        let span = try Dim(dilation) * Dim(kernel - 1)
        var numerator = try size + Dim(2) * Dim(padding) - span - 1
        if ceilMode { numerator = try numerator + Dim(stride - 1) }
        var out = try numerator.floorDivided(by: stride) + 1
        guard ceilMode else { return out }
        if let n = size.staticValue, let o = out.staticValue {
            // The last window must start inside the input or its left padding.
            let (start, limit) = (try Dim(o - 1) * Dim(stride), try Dim(n) + Dim(padding))
            if let start = start.staticValue, let limit = limit.staticValue, start >= limit { out = Dim(o - 1) }
            return out
        }
        // Both sides are constants; their difference is one too.
        guard try (Dim(stride) + Dim(padding) - span - 2).constant < 0 else {
            throw args.error("with ceil_mode, whether the last window along spatial dim \(axis) is dropped depends on "
                             + "the symbolic size \(size) modulo stride \(stride); Kiln cannot express that size "
                             + "(use ceil_mode=false or a static size)", argument: "ceil_mode")
        }
        return out
    }
    guard out.lowerBound >= 1 else {
        throw args.error("output size \(out) along spatial dim \(axis) is not positive: the window (kernel \(kernel), "
                         + "dilation \(dilation)) is larger than the input \(size) with padding \(padding)",
                         argument: "kernel_size")
    }
    return out
}

// MARK: - Upsampling

/// The upsampled type: `[N, C] + output size`, from `output_size` or (`.vec` forms) from
/// `scale_factors` as ATen computes it: `floor(Double(in) · scale)`.
private func upsampleType(_ args: OpArguments<TensorType>, input: String, floatingOnly: Bool) throws -> TensorType {
    let x = args.tensor(input)
    try args.requireRank(x, 4...4, argument: input)
    if floatingOnly {
        try args.requireFloat(x, argument: input)
    } else {
        guard x.dtype != .bool else { throw args.error("expected a numeric tensor, got bool", argument: input) }
    }
    for d in 1..<4 where x.shape[d].lowerBound < 1 {
        throw args.error("expected non-empty channel and spatial dims (only the batch may be empty), got \(x)",
                         argument: input)
    }
    let hasScaleFactors = args.schema.parameterIndex("scale_factors") != nil
    let sizes = args.optionalIntList("output_size")
    let scales = hasScaleFactors ? args.optionalFloatList("scale_factors") : nil
    var spatial: [Dim] = []
    switch (sizes, scales) {
    case (let sizes?, nil):
        guard sizes.count == 2 else { throw args.error("expected 2 sizes, got \(sizes)", argument: "output_size") }
        spatial = sizes.map { Dim($0) }
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw args.error("expected positive sizes, got \(sizes)", argument: "output_size")
        }
    case (nil, let scales?):
        guard scales.count == 2 else {
            throw args.error("expected 2 scale factors, got \(scales)", argument: "scale_factors")
        }
        for i in 0..<2 {
            let out = try scaledSize(args, x.shape[2 + i], scale: scales[i], axis: i)
            guard out.lowerBound >= 1 else {
                throw args.error("output size \(out) along spatial dim \(i) (input \(x.shape[2 + i]) times "
                                 + "\(scales[i])) is not positive", argument: "scale_factors")
            }
            spatial.append(out)
        }
    default:
        throw args.error("expected exactly one of output_size and scale_factors", argument: "output_size")
    }
    return TensorType(x.dtype, Array(x.shape.prefix(2)) + spatial)
}

/// `floor(Double(size) · scale)`, ATen's output size for a scale factor.
///
/// A symbolic size takes an exact form when `scale` is `m / 2^e` (every finite Double is) with
/// `size · m` below 2^53, where the Double product is exact: `floordiv(m·size, 2^e)`. Others
/// (0.3, say, whose product rounds) are an error at `scale_factors`.
private func scaledSize(_ args: OpArguments<TensorType>, _ size: Dim, scale: Double, axis: Int) throws -> Dim {
    guard scale.isFinite, scale > 0 else {
        throw args.error("expected positive finite scale factors, got \(scale)", argument: "scale_factors")
    }
    if let n = size.staticValue {
        let product = (Double(n) * scale).rounded(.towardZero)
        guard let out = Int(exactly: product) else {
            throw args.error("output size \(product) along spatial dim \(axis) does not fit 64 bits", argument: "scale_factors")
        }
        return Dim(out)
    }
    // scale = m / 2^e with m an integer below 2^53.
    let exact = (0...62).lazy.compactMap { e -> (m: Int, e: Int)? in
        let m = scale * Double(1 << e)
        guard m == m.rounded(), abs(m) < 0x1p53 else { return nil }
        return (Int(m), e)
    }.first
    let largest = exact.map { size.upperBound.multipliedReportingOverflow(by: $0.m) }
    guard let (m, e) = exact, let largest, !largest.overflow, largest.partialValue < 1 << 53 else {
        throw args.error("floor(\(size) · \(scale)) has no exact form for the symbolic size \(size) "
                         + "(give output_size instead)", argument: "scale_factors")
    }
    return try args.dims { try (size * Dim(m)).floorDivided(by: 1 << e) }
}

// MARK: - Padding

/// `constant_pad_nd`: pair `i` of `pad` (before, after) applies to dim `rank - 1 - i`; negative
/// pads crop. The fill value must convert to the tensor's dtype as ATen converts it.
@Sendable private func constantPadRule(_ args: OpArguments<TensorType>) throws -> [TensorType] {
    let x = args.tensor("self")
    let pad = args.intList("pad")
    guard pad.count % 2 == 0 else { throw args.error("expected an even number of pads, got \(pad)", argument: "pad") }
    guard pad.count / 2 <= x.rank else {
        throw args.error("\(pad.count / 2) pad pairs for a tensor of rank \(x.rank) (\(x))", argument: "pad")
    }
    var shape = x.shape
    for pair in 0..<(pad.count / 2) {
        let d = x.rank - 1 - pair
        let size = try args.dims { try shape[d] + Dim(pad[2 * pair]) + Dim(pad[2 * pair + 1]) }
        guard size.lowerBound >= 0 else {
            throw args.error("dim \(d) of size \(x.shape[d]) padded by \(pad[2 * pair]) and \(pad[2 * pair + 1]) "
                             + "has negative size \(size)", argument: "pad")
        }
        shape[d] = size
    }
    try checkFillValue(args, dtype: x.dtype)
    return [TensorType(x.dtype, shape)]
}

/// ATen's checked conversion of a Scalar to `dtype`: an integer fits the type's range (unsigned
/// types also take negative values down to `-max`, which wrap); a float for an integer type is
/// finite and fits once truncated; a finite float fits a floating-point type's range.
private func checkFillValue(_ args: OpArguments<TensorType>, dtype: DType) throws {
    let (value, isInteger) = args.scalar("value")
    func reject() -> OpError { args.error("\(value) cannot be converted to \(dtype) without overflow", argument: "value") }
    switch dtype {
    case .bool:
        return
    case .float32, .float16, .bfloat16:
        let largest: Double = dtype == .float32 ? Double(Float.greatestFiniteMagnitude)
            : dtype == .float16 ? 65504 : 0x1.FEp127
        if value.isFinite && abs(value) > largest { throw reject() }
    default:
        guard let range = dtype.integerRange else { return }
        if isInteger, case .int(let v) = args["value"] {
            let low = dtype == .uint8 ? -range.upperBound : range.lowerBound
            guard Int64(v) >= low, Int64(v) <= range.upperBound else { throw reject() }
        } else {
            // Compared before truncation, as ATen does (127.5 overflows i8).
            guard value.isFinite, value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
                throw reject()
            }
        }
    }
}

// MARK: - Convolution front ends

/// `conv2d` and `conv_transpose2d.input` are `convolution` with `transposed` fixed (and, for
/// conv2d, no output padding); a 3-D input is one unbatched image. The result type is
/// convolution's own rule, so the two can never disagree; its errors are reported as this op's.
private func convolutionType(_ args: OpArguments<TensorType>, transposed: Bool) throws -> TensorType {
    let x = args.tensor("input")
    try args.requireRank(x, 3...4, argument: "input")
    guard let convolution = OpTable.schema(named: "convolution") else {
        throw args.error("the convolution op is missing from the op table")
    }
    let batched = x.rank == 4 ? x : TensorType(x.dtype, [1] + x.shape)
    let outputPadding = transposed ? args["output_padding"] : .intList([0, 0])
    let values: [Argument<TensorType>] = [
        .tensor(batched), args["weight"], args["bias"], args["stride"], args["padding"], args["dilation"],
        .bool(transposed), outputPadding, args["groups"],
    ]
    let result: TensorType
    do {
        result = try convolution.inferTypes(values)[0]
    } catch {
        throw OpError(op: args.schema.name, argument: error.argument, error.message)
    }
    return x.rank == 4 ? result : TensorType(result.dtype, Array(result.shape.dropFirst()))
}
