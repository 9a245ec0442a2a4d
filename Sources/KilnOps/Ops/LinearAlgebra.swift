import KilnTensor

/// Matrix products: linear, addmm, mm, bmm, matmul.
let linearAlgebraOps: [OpSchema] = [
    OpSchema("linear", summary: "y = input @ weight^T + bias over the last dim",
             parameters: [.init("input", .tensor), .init("weight", .tensor), .init("bias", .optional(.tensor))],
             pte: nil) { args in
        let x = args.tensor("input"), w = args.tensor("weight")
        try args.requireFloat(x, argument: "input")
        try args.requireRank(x, 1...Int.max, argument: "input")
        try args.requireRank(w, 2...2, argument: "weight")
        try args.requireSameDType(x, w, argument: "weight")
        try args.requireDim(w.shape[1], equals: x.shape[x.rank - 1], what: "in_features (weight dim 1)", argument: "weight")
        if let b = args.optionalTensor("bias") {
            try args.requireSameDType(x, b, argument: "bias")
            guard b.shape == [w.shape[0]] else {
                throw args.error("expected shape [\(w.shape[0])], got \(b)", argument: "bias")
            }
        }
        return [TensorType(x.dtype, x.shape.dropLast() + [w.shape[0]])]
    },
    OpSchema("addmm", summary: "beta * self + alpha * (mat1 @ mat2)",
             parameters: [.init("self", .tensor), .init("mat1", .tensor), .init("mat2", .tensor),
                          .init("beta", .scalar, default: .int(1)), .init("alpha", .scalar, default: .int(1))],
             pte: PTEOperator("aten::addmm")) { args in
        let product = try matrixProduct(args, "mat1", "mat2")
        let s = args.tensor("self")
        try args.requireSameDType(product, s, argument: "self")
        guard try args.broadcast(s.shape, product.shape) == product.shape else {
            throw args.error("\(s) does not broadcast to the product's shape \(product.shape)", argument: "self")
        }
        return [product]
    },
    OpSchema("mm", summary: "self @ mat2 for 2-D tensors",
             parameters: [.init("self", .tensor), .init("mat2", .tensor)],
             pte: PTEOperator("aten::mm")) { args in
        [try matrixProduct(args, "self", "mat2")]
    },
    OpSchema("bmm", summary: "batched self @ mat2 for 3-D tensors with equal batch",
             parameters: [.init("self", .tensor), .init("mat2", .tensor)],
             pte: PTEOperator("aten::bmm")) { args in
        let a = args.tensor("self"), b = args.tensor("mat2")
        try args.requireRank(a, 3...3, argument: "self")
        try args.requireRank(b, 3...3, argument: "mat2")
        try args.requireSameDType(a, b, argument: "mat2")
        try args.requireDim(b.shape[0], equals: a.shape[0], what: "batch (dim 0)", argument: "mat2")
        try args.requireDim(b.shape[1], equals: a.shape[2], what: "rows (dim 1)", argument: "mat2")
        return [TensorType(a.dtype, [a.shape[0], a.shape[1], b.shape[2]])]
    },
    OpSchema("matmul", summary: "NumPy-style matrix product with broadcast batch dims",
             parameters: [.init("self", .tensor), .init("other", .tensor)],
             pte: nil) { args in
        let a = args.tensor("self"), b = args.tensor("other")
        try args.requireRank(a, 1...Int.max, argument: "self")
        try args.requireRank(b, 1...Int.max, argument: "other")
        try args.requireSameDType(a, b, argument: "other")
        // 1-D operands are promoted to matrices, and the added dim removed afterwards.
        let lhs = a.rank == 1 ? [Dim(1)] + a.shape : a.shape
        let rhs = b.rank == 1 ? b.shape + [Dim(1)] : b.shape
        try args.requireDim(rhs[rhs.count - 2], equals: lhs[lhs.count - 1],
                            what: "contracted dim \(rhs.count - 2)", argument: "other")
        let batch = try args.broadcast(Array(lhs.dropLast(2)), Array(rhs.dropLast(2)))
        var shape = batch
        if a.rank > 1 { shape.append(lhs[lhs.count - 2]) }
        if b.rank > 1 { shape.append(rhs[rhs.count - 1]) }
        return [TensorType(a.dtype, shape)]
    },
]

/// `[n, k] @ [k, m] -> [n, m]` with the checks mm and addmm share.
private func matrixProduct(_ args: OpArguments<TensorType>, _ lhs: String, _ rhs: String) throws -> TensorType {
    let a = args.tensor(lhs), b = args.tensor(rhs)
    try args.requireRank(a, 2...2, argument: lhs)
    try args.requireRank(b, 2...2, argument: rhs)
    try args.requireSameDType(a, b, argument: rhs)
    try args.requireDim(b.shape[0], equals: a.shape[1], what: "rows (dim 0)", argument: rhs)
    return TensorType(a.dtype, [a.shape[0], b.shape[1]])
}
