import KilnTensor

/// Ops over the spatial dims of NCHW tensors: convolution and pooling.
let convolutionOps: [OpSchema] = [
    OpSchema("convolution",
             summary: "2-D convolution (or transposed convolution) of NCHW input with OIHW weight",
             parameters: [.init("input", .tensor), .init("weight", .tensor), .init("bias", .optional(.tensor)),
                          .init("stride", .intList, default: .intList([1, 1])),
                          .init("padding", .intList, default: .intList([0, 0])),
                          .init("dilation", .intList, default: .intList([1, 1])),
                          .init("transposed", .bool, default: .bool(false)),
                          .init("output_padding", .intList, default: .intList([0, 0])),
                          .init("groups", .int, default: .int(1))],
             pte: PTEOperator("aten::convolution"), rule: convolutionRule),
    OpSchema("_adaptive_avg_pool2d", summary: "average over adaptive windows to a fixed output size",
             parameters: [.init("self", .tensor), .init("output_size", .intList)],
             pte: PTEOperator("aten::_adaptive_avg_pool2d"), rule: adaptivePoolRule),
    OpSchema("adaptive_avg_pool2d", summary: "average over adaptive windows to a fixed output size",
             parameters: [.init("self", .tensor), .init("output_size", .intList)],
             pte: nil, rule: adaptivePoolRule),
]

@Sendable private func convolutionRule(_ args: OpArguments<TensorType>) throws -> [TensorType] {
    let x = args.tensor("input"), w = args.tensor("weight")
    try args.requireFloat(x, argument: "input")
    try args.requireSameDType(x, w, argument: "weight")
    try args.requireRank(x, 4...4, argument: "input")
    try args.requireRank(w, 4...4, argument: "weight")
    let stride = try args.positiveList("stride", count: 2)
    let padding = try args.positiveList("padding", count: 2, allowZero: true)
    let dilation = try args.positiveList("dilation", count: 2)
    let outputPadding = try args.positiveList("output_padding", count: 2, allowZero: true)
    let groups = args.int("groups")
    let transposed = args.bool("transposed")
    guard groups > 0 else { throw args.error("expected a positive group count, got \(groups)", argument: "groups") }
    guard let kh = w.shape[2].staticValue, let kw = w.shape[3].staticValue,
          let wIn = w.shape[1].staticValue, let wOut = w.shape[0].staticValue else {
        throw args.error("weight dims must be static, got \(w)", argument: "weight")
    }
    guard kh > 0, kw > 0 else { throw args.error("expected a non-empty kernel, got \(w)", argument: "weight") }
    let kernel = [kh, kw]
    // Input channels and output channels, per the two weight layouts.
    let (grouped, overflow) = wIn.multipliedReportingOverflow(by: groups)
    guard !overflow else { throw args.error("weight dim 1 (\(wIn)) times groups (\(groups)) overflows", argument: "groups") }
    let inChannels = transposed ? wOut : grouped
    let outChannels = transposed ? grouped : wOut
    guard let c = x.shape[1].staticValue, c == inChannels else {
        throw args.error("input has \(x.shape[1]) channels, weight \(w) with groups=\(groups) expects \(inChannels)",
                         argument: "input")
    }
    guard wOut % groups == 0 else {
        throw args.error("\(transposed ? "input" : "output") channels \(wOut) are not divisible by groups=\(groups)",
                         argument: "groups")
    }
    if !transposed {
        guard outputPadding == [0, 0] else {
            throw args.error("output_padding applies to transposed convolution only, got \(outputPadding)",
                             argument: "output_padding")
        }
    } else {
        for i in 0..<2 where outputPadding[i] >= Swift.max(stride[i], dilation[i]) {
            throw args.error("output_padding \(outputPadding) must be smaller than stride or dilation",
                             argument: "output_padding")
        }
    }
    if let b = args.optionalTensor("bias") {
        try args.requireSameDType(x, b, argument: "bias")
        guard b.shape == [Dim(outChannels)] else {
            throw args.error("expected shape [\(outChannels)], got \(b)", argument: "bias")
        }
    }
    var shape = [x.shape[0], Dim(outChannels)]
    for i in 0..<2 {
        let size = x.shape[2 + i]
        let out: Dim = try args.dims {
            // All arithmetic on Dim: attribute values come from files and may be huge.
            let span = try Dim(dilation[i]) * Dim(kernel[i] - 1)
            let pad = try Dim(2) * Dim(padding[i])
            if transposed {
                // (in - 1) * stride - 2 * pad + dilation * (k - 1) + output_padding + 1
                return try (size - 1) * Dim(stride[i]) - pad + span + Dim(outputPadding[i]) + 1
            }
            // floor((in + 2 * pad - dilation * (k - 1) - 1) / stride) + 1
            return try (size + pad - span - 1).floorDivided(by: stride[i]) + 1
        }
        guard out.lowerBound > 0 else {
            throw args.error("output size \(out) along spatial dim \(i) is not positive "
                             + "(input \(size), kernel \(kernel[i]), stride \(stride[i]), padding \(padding[i]), "
                             + "dilation \(dilation[i]))")
        }
        shape.append(out)
    }
    return [TensorType(x.dtype, shape)]
}

@Sendable private func adaptivePoolRule(_ args: OpArguments<TensorType>) throws -> [TensorType] {
    let x = args.tensor("self")
    try args.requireFloat(x, argument: "self")
    try args.requireRank(x, 3...4, argument: "self")
    let size = args.intList("output_size")
    guard size.count == 2, size.allSatisfy({ $0 > 0 }) else {
        throw args.error("expected two positive sizes, got \(size)", argument: "output_size")
    }
    return [TensorType(x.dtype, Array(x.shape.dropLast(2)) + size.map { Dim($0) })]
}
