import KilnTensor

/// Normalizations: batch norm (inference) and RMS norm.
let normalizationOps: [OpSchema] = [
    OpSchema("batch_norm", summary: "inference batch norm over dim 1 with running statistics",
             parameters: [.init("input", .tensor), .init("weight", .optional(.tensor)), .init("bias", .optional(.tensor)),
                          .init("running_mean", .optional(.tensor)), .init("running_var", .optional(.tensor)),
                          .init("training", .bool, default: .bool(false)),
                          .init("momentum", .float, default: .float(0.1)),
                          .init("eps", .float, default: .float(1e-5)),
                          .init("cudnn_enabled", .bool, default: .bool(true))],
             pte: nil) { args in
        guard !args.bool("training") else {
            throw args.error("only inference (training=false) is supported", argument: "training")
        }
        guard args.optionalTensor("running_mean") != nil, args.optionalTensor("running_var") != nil else {
            throw args.error("inference batch norm needs running_mean and running_var")
        }
        return [try batchNormOutput(args)]
    },
    OpSchema("_native_batch_norm_legit_no_training",
             summary: "inference batch norm (ATen core form); results: output, empty mean, empty invstd",
             parameters: [.init("input", .tensor), .init("weight", .optional(.tensor)), .init("bias", .optional(.tensor)),
                          .init("running_mean", .tensor), .init("running_var", .tensor),
                          .init("momentum", .float), .init("eps", .float)],
             results: 3, pte: PTEOperator("aten::_native_batch_norm_legit_no_training")) { args in
        let out = try batchNormOutput(args)
        let empty = TensorType(out.dtype, static: [0])
        return [out, empty, empty]
    },
    OpSchema("rms_norm", summary: "x / sqrt(mean(x^2 over normalized_shape) + eps) * weight",
             parameters: [.init("input", .tensor), .init("normalized_shape", .intList),
                          .init("weight", .optional(.tensor)), .init("eps", .optional(.float))],
             pte: nil) { args in
        let x = args.tensor("input")
        try args.requireFloat(x, argument: "input")
        let normalized = args.intList("normalized_shape").map { Dim($0) }
        guard !normalized.isEmpty, normalized.count <= x.rank,
              Array(x.shape.suffix(normalized.count)) == normalized else {
            throw args.error("\(normalized) is not a non-empty suffix of the input shape \(x.shape)",
                             argument: "normalized_shape")
        }
        if let w = args.optionalTensor("weight") {
            try args.requireSameDType(x, w, argument: "weight")
            guard w.shape == normalized else {
                throw args.error("expected shape \(normalized), got \(w)", argument: "weight")
            }
        }
        if let eps = args.optionalFloat("eps"), !(eps >= 0) {
            throw args.error("expected a non-negative epsilon, got \(eps)", argument: "eps")
        }
        return [x]
    },
]

/// Checks shared by both batch norm forms; returns the output type (the input's).
private func batchNormOutput(_ args: OpArguments<TensorType>) throws -> TensorType {
    let x = args.tensor("input")
    try args.requireFloat(x, argument: "input")
    try args.requireRank(x, 2...Int.max, argument: "input")
    let channels = x.shape[1]
    for name in ["weight", "bias", "running_mean", "running_var"] {
        guard let p = args.optionalTensor(name) else { continue }
        try args.requireSameDType(x, p, argument: name)
        guard p.shape == [channels] else {
            throw args.error("expected shape [\(channels)] (the input's channels), got \(p)", argument: name)
        }
    }
    let eps = args.float("eps")
    guard eps >= 0 else { throw args.error("expected a non-negative epsilon, got \(eps)", argument: "eps") }
    return x
}
