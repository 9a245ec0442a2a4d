import KilnTensor

/// Ops that move or regroup elements without arithmetic: views, permutations, slices, concatenation.
let layoutOps: [OpSchema] = [
    OpSchema("view_copy", summary: "the same elements with another shape (one size may be -1)",
             parameters: [.init("self", .tensor), .init("size", .intList)],
             pte: PTEOperator("aten::view_copy")) { args in
        [try reshapeRule(args, "size")]
    },
    // ExecuTorch's exporter writes `clone` as this dim-order-aware copy (edge dialect).
    OpSchema("dim_order_ops._clone_dim_order", summary: "a copy, in `dim_order` (Kiln's kernels: row-major only)",
             parameters: [.init("self", .tensor), .init("non_blocking", .bool, default: .bool(false)),
                          .init("dim_order", .optional(.intList), default: Argument<Never>.none)],
             pte: PTEOperator("dim_order_ops::_clone_dim_order")) { args in
        let x = args.tensor("self")
        if let order = args.optionalIntList("dim_order"), order != Array(0..<x.rank) {
            throw args.error("dim order \(order) is not row-major \(Array(0..<x.rank)); Kiln's kernels take "
                             + "row-major tensors", argument: "dim_order")
        }
        return [x]
    },
    OpSchema("reshape", summary: "the same elements with another shape (one size may be -1)",
             parameters: [.init("self", .tensor), .init("shape", .intList)],
             pte: nil) { args in
        [try reshapeRule(args, "shape")]
    },
    OpSchema("flatten.using_ints", summary: "merge dims start_dim...end_dim into one",
             parameters: [.init("self", .tensor), .init("start_dim", .int, default: .int(0)),
                          .init("end_dim", .int, default: .int(-1))],
             pte: nil) { args in
        let x = args.tensor("self")
        if x.rank == 0 {
            _ = try args.axis(args.int("start_dim"), rank: 0, argument: "start_dim")
            _ = try args.axis(args.int("end_dim"), rank: 0, argument: "end_dim")
            return [TensorType(x.dtype, [1])]
        }
        let start = try args.axis(args.int("start_dim"), rank: x.rank, argument: "start_dim")
        let end = try args.axis(args.int("end_dim"), rank: x.rank, argument: "end_dim")
        guard start <= end else {
            throw args.error("start_dim \(start) comes after end_dim \(end)", argument: "start_dim")
        }
        let merged = try args.dims { try x.shape[start...end].reduce(Dim(1)) { try $0 * $1 } }
        return [TensorType(x.dtype, Array(x.shape[..<start]) + [merged] + Array(x.shape[(end + 1)...]))]
    },
    OpSchema("permute_copy", summary: "reorder dims: result dim i is input dim dims[i]",
             parameters: [.init("self", .tensor), .init("dims", .intList)],
             pte: PTEOperator("aten::permute_copy")) { args in
        let x = args.tensor("self")
        let dims = args.intList("dims")
        guard dims.count == x.rank else {
            throw args.error("expected \(x.rank) dims for \(x), got \(dims)", argument: "dims")
        }
        let order = try args.axes(dims, rank: x.rank, argument: "dims")
        return [TensorType(x.dtype, order.map { x.shape[$0] })]
    },
    OpSchema("transpose.int", summary: "swap dims dim0 and dim1",
             parameters: [.init("self", .tensor), .init("dim0", .int), .init("dim1", .int)],
             pte: nil) { args in
        let x = args.tensor("self")
        if x.rank == 0 {
            _ = try args.axis(args.int("dim0"), rank: 0, argument: "dim0")
            _ = try args.axis(args.int("dim1"), rank: 0, argument: "dim1")
            return [x]
        }
        let a = try args.axis(args.int("dim0"), rank: x.rank, argument: "dim0")
        let b = try args.axis(args.int("dim1"), rank: x.rank, argument: "dim1")
        var shape = x.shape
        shape.swapAt(a, b)
        return [TensorType(x.dtype, shape)]
    },
    OpSchema("slice_copy.Tensor", summary: "elements start..<end by step along dim (Python slice rules)",
             parameters: [.init("self", .tensor), .init("dim", .int, default: .int(0)),
                          .init("start", .optional(.int)), .init("end", .optional(.int)),
                          .init("step", .int, default: .int(1))],
             pte: PTEOperator("aten::slice_copy", "Tensor_out")) { args in
        let x = args.tensor("self")
        try args.requireRank(x, 1...Int.max, argument: "self")
        let dim = try args.axis(args.int("dim"), rank: x.rank, argument: "dim")
        let step = args.int("step")
        guard step > 0 else { throw args.error("expected a positive step, got \(step)", argument: "step") }
        var shape = x.shape
        shape[dim] = try sliceLength(args, size: x.shape[dim], start: args.optionalInt("start") ?? 0,
                                     end: args.optionalInt("end") ?? Int.max, step: step)
        return [TensorType(x.dtype, shape)]
    },
    OpSchema("cat", summary: "concatenate tensors along dim",
             parameters: [.init("tensors", .tensorList), .init("dim", .int, default: .int(0))],
             pte: PTEOperator("aten::cat")) { args in
        let inputs = args.tensorList("tensors")
        guard let first = inputs.first else { throw args.error("expected at least one tensor", argument: "tensors") }
        try args.requireRank(first, 1...Int.max, argument: "tensors")
        let dim = try args.axis(args.int("dim"), rank: first.rank, argument: "dim")
        var total = Dim(0)
        for (i, t) in inputs.enumerated() {
            guard t.dtype == first.dtype else {
                throw args.error("tensor \(i) is \(t.dtype), tensor 0 is \(first.dtype)", argument: "tensors")
            }
            guard t.rank == first.rank else {
                throw args.error("tensor \(i) has rank \(t.rank), tensor 0 has rank \(first.rank)", argument: "tensors")
            }
            for a in 0..<t.rank where a != dim && t.shape[a] != first.shape[a] {
                throw args.error("tensor \(i) has size \(t.shape[a]) in dim \(a), tensor 0 has \(first.shape[a])",
                                 argument: "tensors")
            }
            total = try args.dims { try total + t.shape[dim] }
        }
        var shape = first.shape
        shape[dim] = total
        return [TensorType(first.dtype, shape)]
    },
]

/// view_copy / reshape: at most one -1, element counts must agree.
private func reshapeRule(_ args: OpArguments<TensorType>, _ name: String) throws -> TensorType {
    let x = args.tensor("self")
    let sizes = args.intList(name)
    let total = try args.dims { try x.shape.reduce(Dim(1)) { try $0 * $1 } }
    var known = 1
    var inferred: Int?
    for (i, s) in sizes.enumerated() {
        if s == -1 {
            guard inferred == nil else { throw args.error("only one size may be -1, got \(sizes)", argument: name) }
            inferred = i
        } else {
            guard s >= 0 else { throw args.error("invalid size \(s) in \(sizes)", argument: name) }
            let (p, o) = known.multipliedReportingOverflow(by: s)
            guard !o else { throw args.error("the element count of \(sizes) overflows", argument: name) }
            known = p
        }
    }
    var shape = sizes.map { Dim($0) }
    if let i = inferred {
        guard known > 0, let rest = total.exactlyDivided(by: known) else {
            throw args.error("cannot view \(x) (\(total) elements) as \(sizes)", argument: name)
        }
        shape[i] = rest
    } else if total != Dim(known) {
        throw args.error("cannot view \(x) (\(total) elements) as \(sizes) (\(known) elements)", argument: name)
    }
    return TensorType(x.dtype, shape)
}

/// The length of `start..<end` by `step` along a dim of `size`, with Python's clamping.
private func sliceLength(_ args: OpArguments<TensorType>, size: Dim, start: Int, end: Int, step: Int) throws -> Dim {
    if let n = size.staticValue {
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + n : v, 0), n) }
        let (s, e) = (clamp(start), clamp(end))
        return Dim(e > s ? (e - s - 1) / step + 1 : 0)
    }
    // Symbolic size: each bound must resolve the same way for every size in range.
    func resolve(_ v: Int) -> Dim? {
        if v < 0 { return v >= -size.lowerBound ? try? size + Dim(v) : nil }
        if v >= size.upperBound { return size }
        return v <= size.lowerBound ? Dim(v) : nil
    }
    guard let s = resolve(start), let e = resolve(end), let span = try? e - s, span.lowerBound >= 0 else {
        throw args.error("cannot slice \(start)..<\(end) from a dim of size \(size) (range \(size.range)) "
                         + "the same way for every size in its range")
    }
    return try args.dims { try (span + Dim(step - 1)).floorDivided(by: step) }
}
