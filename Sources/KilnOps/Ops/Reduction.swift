import KilnTensor

/// Reductions over dims: mean and softmax.
let reductionOps: [OpSchema] = [
    OpSchema("mean.dim", summary: "mean over `dim` (all dims when none or empty)",
             parameters: [.init("self", .tensor), .init("dim", .optional(.intList)),
                          .init("keepdim", .bool, default: .bool(false)), .init("dtype", .optional(.dtype))],
             pte: PTEOperator("aten::mean")) { args in
        let x = args.tensor("self")
        let dtype = args.optionalDType("dtype") ?? x.dtype
        guard dtype.isFloatingPoint else {
            throw args.error("mean needs a floating-point result dtype, got \(dtype)", argument: x.dtype.isFloatingPoint ? "dtype" : "self")
        }
        let requested = args.optionalIntList("dim") ?? []
        let reduced = Set(requested.isEmpty ? Array(0..<x.rank) : try args.axes(requested, rank: x.rank, argument: "dim"))
        var shape: [Dim] = []
        for (i, d) in x.shape.enumerated() {
            if !reduced.contains(i) { shape.append(d) } else if args.bool("keepdim") { shape.append(1) }
        }
        return [TensorType(dtype, shape)]
    },
]
    + softmaxFamily("softmax", core: "softmax along `dim` (ATen core form)",
                    decomposed: "softmax along `dim`, optionally computed in `dtype`")

/// `_<base>(self, dim, half_to_float)`, the ATen core form, and `<base>.int(self, dim, dtype?)`,
/// decomposed into it (with a cast first when `dtype` differs): softmax and log_softmax.
func softmaxFamily(_ base: String, core: String, decomposed: String) -> [OpSchema] {
    [
        OpSchema("_\(base)", summary: core,
                 parameters: [.init("self", .tensor), .init("dim", .int), .init("half_to_float", .bool)],
                 pte: PTEOperator("aten::_\(base)")) { args in
            let x = args.tensor("self")
            try args.requireFloat(x, argument: "self")
            _ = try args.axis(args.int("dim"), rank: x.rank, argument: "dim")
            guard !args.bool("half_to_float") else {
                throw args.error("half_to_float=true is not supported", argument: "half_to_float")
            }
            return [x]
        },
        OpSchema("\(base).int", summary: decomposed,
                 parameters: [.init("self", .tensor), .init("dim", .int), .init("dtype", .optional(.dtype))],
                 pte: nil) { args in
            let x = args.tensor("self")
            let dtype = args.optionalDType("dtype") ?? x.dtype
            guard dtype.isFloatingPoint else {
                throw args.error("\(base) needs a floating-point dtype, got \(dtype)",
                                 argument: x.dtype.isFloatingPoint ? "dtype" : "self")
            }
            _ = try args.axis(args.int("dim"), rank: x.rank, argument: "dim")
            return [TensorType(dtype, x.shape)]
        },
    ]
}
