import KilnTensor

/// Shape ops, reductions, normalization, indexing and attention.
///
/// Core ops name the out-variants ExecuTorch's portable library registers; the view-style ATen ops
/// (`unsqueeze`, `squeeze.dims`, `expand`, `split.Tensor`, `select.int`, ...), `log_softmax.int`,
/// `layer_norm` and `scaled_dot_product_attention` are non-core and decomposed into them.
let shapingOps: [OpSchema] = reduceOps + shapeOps + indexOps + normalizeOps + [attentionOp]

// MARK: - Reductions

/// sum, amax, amin, argmax and log-softmax.
private let reduceOps: [OpSchema] = [
    OpSchema("sum.dim_IntList", summary: "sum over `dim` (all dims when none or empty), in `dtype` when given",
             parameters: [.init("self", .tensor), .init("dim", .optional(.intList)),
                          .init("keepdim", .bool, default: .bool(false)), .init("dtype", .optional(.dtype))],
             pte: PTEOperator("aten::sum", "IntList_out")) { args in
        let x = args.tensor("self")
        // Integers and bool sum in int64 unless a dtype says otherwise, as in ATen.
        let dtype = args.optionalDType("dtype") ?? (x.dtype.isFloatingPoint ? x.dtype : .int64)
        let reduced = try reducedAxes(args, args.optionalIntList("dim") ?? [], rank: x.rank)
        return [TensorType(dtype, reducedShape(x.shape, reduced, keepdim: args.bool("keepdim")))]
    },
    extremum("amax", "the largest element over `dim` (all dims when empty); NaN if any is NaN"),
    extremum("amin", "the smallest element over `dim` (all dims when empty); NaN if any is NaN"),
    OpSchema("argmax", summary: "the index of the first largest element along `dim` (of the flattened input when none)",
             parameters: [.init("self", .tensor), .init("dim", .optional(.int)),
                          .init("keepdim", .bool, default: .bool(false))],
             pte: PTEOperator("aten::argmax")) { args in
        let x = args.tensor("self")
        guard x.dtype != .bool else { throw args.error("argmax does not take bool tensors", argument: "self") }
        let keepdim = args.bool("keepdim")
        guard let d = args.optionalInt("dim") else {
            // Over every element: a 0-d index, or all dims kept as 1.
            try requireNonEmpty(args, x.shape, Array(0..<x.rank), argument: "self")
            return [TensorType(.int64, keepdim ? Array(repeating: 1, count: x.rank) : [])]
        }
        let axis = try args.axis(d, rank: x.rank, argument: "dim")
        let reduced: Set<Int> = x.rank == 0 ? [] : [axis]
        try requireNonEmpty(args, x.shape, Array(reduced), argument: "dim")
        return [TensorType(.int64, reducedShape(x.shape, reduced, keepdim: keepdim))]
    },
]
    + softmaxFamily("log_softmax", core: "log(softmax) along `dim`, computed stably (ATen core form)",
                    decomposed: "log(softmax) along `dim`, optionally computed in `dtype`")

/// amax / amin: `dim` defaults to [] (every dim), the result keeps the input's dtype (bool too).
private func extremum(_ name: String, _ summary: String) -> OpSchema {
    OpSchema(name, summary: summary,
             parameters: [.init("self", .tensor), .init("dim", .intList, default: .intList([])),
                          .init("keepdim", .bool, default: .bool(false))],
             pte: PTEOperator("aten::\(name)")) { args in
        let x = args.tensor("self")
        let reduced = try reducedAxes(args, args.intList("dim"), rank: x.rank)
        try requireNonEmpty(args, x.shape, Array(reduced), argument: args.intList("dim").isEmpty ? "self" : "dim")
        return [TensorType(x.dtype, reducedShape(x.shape, reduced, keepdim: args.bool("keepdim")))]
    }
}

/// The dims a reduction over `dims` covers: every dim when `dims` is empty; none of a 0-d tensor
/// (which takes dims 0 and -1).
private func reducedAxes(_ args: OpArguments<TensorType>, _ dims: [Int], rank: Int) throws -> Set<Int> {
    if dims.isEmpty { return Set(0..<rank) }
    let axes = try args.axes(dims, rank: rank, argument: "dim")
    return rank == 0 ? [] : Set(axes)
}

/// `shape` without the `reduced` dims, or with them as 1 when `keepdim`.
private func reducedShape(_ shape: [Dim], _ reduced: Set<Int>, keepdim: Bool) -> [Dim] {
    var out: [Dim] = []
    for (i, d) in shape.enumerated() {
        if !reduced.contains(i) { out.append(d) } else if keepdim { out.append(1) }
    }
    return out
}

/// A max, min or argmax has no answer over an empty dim (ATen: "Expected reduction dim to have
/// non-zero size"); a symbolic dim that may be 0 is checked by the kernel.
private func requireNonEmpty(_ args: OpArguments<TensorType>, _ shape: [Dim], _ axes: [Int], argument: String) throws {
    for a in axes.sorted() where shape[a].upperBound == 0 {
        throw args.error("cannot reduce over dim \(a), which has size 0", argument: argument)
    }
}

// MARK: - Shape ops

/// unsqueeze, squeeze, expand, split and select, each as the ATen view op (non-core) and its
/// `_copy` out-variant (core).
private let shapeOps: [OpSchema] = [
    OpSchema("unsqueeze_copy", summary: "insert a dim of size 1 at `dim` (-rank-1...rank)",
             parameters: [.init("self", .tensor), .init("dim", .int)],
             pte: PTEOperator("aten::unsqueeze_copy"), rule: unsqueezeRule),
    OpSchema("unsqueeze", summary: "insert a dim of size 1 at `dim` (-rank-1...rank)",
             parameters: [.init("self", .tensor), .init("dim", .int)], pte: nil, rule: unsqueezeRule),
    OpSchema("squeeze_copy.dims", summary: "remove the dims of `dim` that have size 1 (others stay)",
             parameters: [.init("self", .tensor), .init("dim", .intList)],
             pte: PTEOperator("aten::squeeze_copy", "dims_out")) { args in
        [try squeezeRule(args, args.intList("dim"))]
    },
    OpSchema("squeeze.dims", summary: "remove the dims of `dim` that have size 1 (others stay)",
             parameters: [.init("self", .tensor), .init("dim", .intList)], pte: nil) { args in
        [try squeezeRule(args, args.intList("dim"))]
    },
    OpSchema("squeeze.dim", summary: "remove dim `dim` when it has size 1",
             parameters: [.init("self", .tensor), .init("dim", .int)], pte: nil) { args in
        [try squeezeRule(args, [args.int("dim")])]
    },
    OpSchema("expand_copy", summary: "broadcast to `size` (-1 keeps a dim; new dims go in front)",
             parameters: [.init("self", .tensor), .init("size", .intList), .init("implicit", .bool, default: .bool(false))],
             pte: PTEOperator("aten::expand_copy"), rule: expandRule),
    OpSchema("expand", summary: "broadcast to `size` (-1 keeps a dim; new dims go in front)",
             parameters: [.init("self", .tensor), .init("size", .intList), .init("implicit", .bool, default: .bool(false))],
             pte: nil, rule: expandRule),
    OpSchema("split_with_sizes_copy", summary: "consecutive pieces of `split_sizes` elements along `dim`",
             parameters: [.init("self", .tensor), .init("split_sizes", .intList), .init("dim", .int, default: .int(0))],
             results: .tensorList, pte: PTEOperator("aten::split_with_sizes_copy")) { args in
        try splitRule(args, sizes: { _ in args.intList("split_sizes") })
    },
    OpSchema("split_with_sizes", summary: "consecutive pieces of `split_sizes` elements along `dim`",
             parameters: [.init("self", .tensor), .init("split_sizes", .intList), .init("dim", .int, default: .int(0))],
             results: .tensorList, pte: nil) { args in
        try splitRule(args, sizes: { _ in args.intList("split_sizes") })
    },
    OpSchema("split.Tensor", summary: "pieces of `split_size` elements along `dim` (the last may be shorter)",
             parameters: [.init("self", .tensor), .init("split_size", .int), .init("dim", .int, default: .int(0))],
             results: .tensorList, pte: nil) { args in
        try splitRule(args) { size in try splitSizes(args, size: size, splitSize: args.int("split_size")) }
    },
    OpSchema("select_copy.int", summary: "the slice at `index` along `dim`, without that dim",
             parameters: [.init("self", .tensor), .init("dim", .int), .init("index", .int)],
             pte: PTEOperator("aten::select_copy", "int_out"), rule: selectRule),
    OpSchema("select.int", summary: "the slice at `index` along `dim`, without that dim",
             parameters: [.init("self", .tensor), .init("dim", .int), .init("index", .int)],
             pte: nil, rule: selectRule),
]

@Sendable private func unsqueezeRule(_ args: OpArguments<TensorType>) throws -> [TensorType] {
    let x = args.tensor("self")
    let d = args.int("dim")
    // One more dim than the input: -rank-1...rank.
    guard d >= -(x.rank + 1), d <= x.rank else {
        throw args.error("dim \(d) is out of range for inserting into a tensor of rank \(x.rank) "
                         + "(expected \(-(x.rank + 1))...\(x.rank))", argument: "dim")
    }
    var shape = x.shape
    shape.insert(1, at: d < 0 ? d + x.rank + 1 : d)
    return [TensorType(x.dtype, shape)]
}

/// The listed dims of size 1 go; other listed dims stay. A symbolic dim that may be 1 is an error:
/// whether it goes would depend on its size at run time.
private func squeezeRule(_ args: OpArguments<TensorType>, _ dims: [Int]) throws -> TensorType {
    let x = args.tensor("self")
    let axes = try args.axes(dims, rank: x.rank, argument: "dim")
    guard x.rank > 0 else { return x }
    var removed = Set<Int>()
    for a in axes {
        let d = x.shape[a]
        if d.isOne {
            removed.insert(a)
        } else if d.isSymbolic && d.range.contains(1) {
            throw args.error("dim \(a) is \(d), which may be 1 (range \(d.lowerBound)...\(d.upperBound)): "
                             + "whether it is removed would depend on its size at run time", argument: "dim")
        }
    }
    return TensorType(x.dtype, x.shape.enumerated().filter { !removed.contains($0.offset) }.map(\.element))
}

/// ATen's expand: `size` has at least the input's rank; the input aligns with its trailing
/// entries; -1 keeps a dim; a dim of size 1 becomes any size; new leading dims take their size
/// (not -1). Symbolic dims are kept with -1 or their own value.
@Sendable private func expandRule(_ args: OpArguments<TensorType>) throws -> [TensorType] {
    let x = args.tensor("self")
    let size = args.intList("size")
    guard size.count >= x.rank else {
        throw args.error("expected at least \(x.rank) sizes for \(x), got \(size)", argument: "size")
    }
    let offset = size.count - x.rank
    var shape: [Dim] = []
    for (i, s) in size.enumerated() {
        guard s >= -1 else { throw args.error("invalid size \(s) in \(size)", argument: "size") }
        if i < offset {
            guard s >= 0 else {
                throw args.error("size -1 is not allowed for the new leading dim \(i) in \(size)", argument: "size")
            }
            shape.append(Dim(s))
            continue
        }
        let d = x.shape[i - offset]
        if s == -1 || d == Dim(s) {
            shape.append(d)
        } else if d.isOne {
            shape.append(Dim(s))
        } else {
            throw args.error("cannot expand dim \(i - offset) of \(x) (size \(d)) to \(s); only dims of size 1 expand",
                             argument: "size")
        }
    }
    return [TensorType(x.dtype, shape)]
}

/// Pieces of `sizes(dimSize)` along `dim`: non-negative sizes that add up to the dim's size.
private func splitRule(_ args: OpArguments<TensorType>, sizes: (Int) throws -> [Int]) throws -> [TensorType] {
    let x = args.tensor("self")
    try args.requireRank(x, 1...Int.max, argument: "self")
    let dim = try args.axis(args.int("dim"), rank: x.rank, argument: "dim")
    guard let total = x.shape[dim].staticValue else {
        throw args.error("cannot split dim \(dim) of \(x): its size \(x.shape[dim]) is symbolic, so the pieces "
                         + "would depend on it", argument: "dim")
    }
    let pieces = try sizes(total)
    let name = args.schema.parameterIndex("split_sizes") != nil ? "split_sizes" : "split_size"
    guard !pieces.isEmpty else { throw args.error("expected at least one size", argument: name) }
    guard pieces.allSatisfy({ $0 >= 0 }) else {
        throw args.error("expected non-negative sizes, got \(pieces)", argument: name)
    }
    var sum = 0
    for p in pieces {
        let (s, o) = sum.addingReportingOverflow(p)
        guard !o else { throw args.error("the sizes \(pieces) overflow", argument: name) }
        sum = s
    }
    guard sum == total else {
        throw args.error("the sizes \(pieces) add up to \(sum), but dim \(dim) of \(x) has \(total)", argument: name)
    }
    return pieces.map { p in
        var shape = x.shape
        shape[dim] = Dim(p)
        return TensorType(x.dtype, shape)
    }
}

/// split.Tensor's pieces: `splitSize` each, the last one shorter; one empty piece of an empty dim.
private func splitSizes(_ args: OpArguments<TensorType>, size: Int, splitSize: Int) throws -> [Int] {
    guard splitSize > 0 || (splitSize == 0 && size == 0) else {
        throw args.error(splitSize == 0 ? "split_size can be 0 only when the dim is empty (its size is \(size))"
                         : "expected a non-negative split_size, got \(splitSize)", argument: "split_size")
    }
    if size == 0 { return [0] }
    let count = (size + splitSize - 1) / splitSize
    return (0..<count).map { i in Swift.min(splitSize, size - i * splitSize) }
}

@Sendable private func selectRule(_ args: OpArguments<TensorType>) throws -> [TensorType] {
    let x = args.tensor("self")
    guard x.rank > 0 else { throw args.error("cannot select from a 0-d tensor", argument: "self") }
    let dim = try args.axis(args.int("dim"), rank: x.rank, argument: "dim")
    let index = args.int("index")
    // A symbolic size is checked here for its largest value and by the kernel for the actual one.
    let size = x.shape[dim].upperBound
    guard index >= -size, index < size else {
        throw args.error("index \(index) is out of range for dim \(dim) of \(x) (expected \(-size)...\(size - 1))",
                         argument: "index")
    }
    var shape = x.shape
    shape.remove(at: dim)
    return [TensorType(x.dtype, shape)]
}

// MARK: - Indexing

/// index_select, gather and embedding: integer index tensors (int64 or int32) pick elements;
/// the kernels check each index's range.
private let indexOps: [OpSchema] = [
    OpSchema("index_select", summary: "the slices at `index` (a vector) along `dim`",
             parameters: [.init("self", .tensor), .init("dim", .int), .init("index", .tensor)],
             pte: PTEOperator("aten::index_select")) { args in
        let x = args.tensor("self"), index = args.tensor("index")
        let dim = try args.axis(args.int("dim"), rank: x.rank, argument: "dim")
        try requireIndexDType(args, index, argument: "index")
        guard index.rank <= 1 else { throw args.error("expected a 0-d or 1-d index, got \(index)", argument: "index") }
        let count = index.rank == 0 ? Dim(1) : index.shape[0]
        guard x.rank > 0 else {
            guard count.isOne else {
                throw args.error("a 0-d self takes exactly one index, got \(index)", argument: "index")
            }
            return [x]
        }
        var shape = x.shape
        shape[dim] = count
        return [TensorType(x.dtype, shape)]
    },
    OpSchema("gather", summary: "out[i][j][k] = self[index[i][j][k]][j][k] (for dim 0; likewise for others)",
             parameters: [.init("self", .tensor), .init("dim", .int), .init("index", .tensor),
                          .init("sparse_grad", .bool, default: .bool(false))],
             pte: PTEOperator("aten::gather")) { args in
        let x = args.tensor("self"), index = args.tensor("index")
        let dim = try args.axis(args.int("dim"), rank: x.rank, argument: "dim")
        try requireIndexDType(args, index, argument: "index")
        guard index.rank == x.rank else {
            throw args.error("index has rank \(index.rank), self has rank \(x.rank); they must be equal", argument: "index")
        }
        // Off `dim`, the index may be smaller than self but not larger.
        for d in 0..<x.rank where d != dim {
            let (i, s) = (index.shape[d], x.shape[d])
            guard i == s || i.upperBound <= s.lowerBound else {
                throw args.error("index size \(i) in dim \(d) may exceed self's \(s)", argument: "index")
            }
        }
        return [TensorType(x.dtype, index.shape)]
    },
    OpSchema("embedding", summary: "rows of `weight` picked by `indices`: result shape indices.shape + [dim]",
             parameters: [.init("weight", .tensor), .init("indices", .tensor), .init("padding_idx", .int, default: .int(-1)),
                          .init("scale_grad_by_freq", .bool, default: .bool(false)),
                          .init("sparse", .bool, default: .bool(false))],
             pte: PTEOperator("aten::embedding")) { args in
        let weight = args.tensor("weight"), indices = args.tensor("indices")
        try args.requireRank(weight, 2...2, argument: "weight")
        try requireIndexDType(args, indices, argument: "indices")
        return [TensorType(weight.dtype, indices.shape + [weight.shape[1]])]
    },
]

private func requireIndexDType(_ args: OpArguments<TensorType>, _ t: TensorType, argument: String) throws {
    guard t.dtype == .int64 || t.dtype == .int32 else {
        throw args.error("expected an int64 or int32 index tensor, got \(t.dtype)", argument: argument)
    }
}

// MARK: - Layer norm

private let normalizeOps: [OpSchema] = [
    OpSchema("native_layer_norm",
             summary: "normalize over the trailing `normalized_shape` dims; results: output, mean, 1/std",
             parameters: [.init("input", .tensor), .init("normalized_shape", .intList), .init("weight", .optional(.tensor)),
                          .init("bias", .optional(.tensor)), .init("eps", .float)],
             results: 3, pte: PTEOperator("aten::native_layer_norm")) { args in
        let x = try layerNormInput(args)
        // mean and rstd keep the leading dims and have size 1 in the normalized ones.
        let count = args.intList("normalized_shape").count
        let stats = TensorType(x.dtype, Array(x.shape.dropLast(count)) + Array(repeating: 1, count: count))
        return [x, stats, stats]
    },
    OpSchema("layer_norm", summary: "(x - mean) / sqrt(var + eps) * weight + bias over the trailing `normalized_shape` dims",
             parameters: [.init("input", .tensor), .init("normalized_shape", .intList), .init("weight", .optional(.tensor)),
                          .init("bias", .optional(.tensor)), .init("eps", .float, default: .float(1e-5)),
                          .init("cudnn_enable", .bool, default: .bool(true))],
             pte: nil) { args in
        [try layerNormInput(args)]
    },
]

/// The input of a layer norm, checked: floating point, trailing dims equal to `normalized_shape`
/// (non-empty), weight and bias of that shape and the input's dtype.
private func layerNormInput(_ args: OpArguments<TensorType>) throws -> TensorType {
    let x = args.tensor("input")
    try args.requireFloat(x, argument: "input")
    let normalized = args.intList("normalized_shape").map { Dim($0) }
    guard !normalized.isEmpty else {
        throw args.error("expected at least one normalized dim", argument: "normalized_shape")
    }
    guard normalized.count <= x.rank, Array(x.shape.suffix(normalized.count)) == normalized else {
        throw args.error("\(x) does not end in the normalized shape \(normalized)", argument: "normalized_shape")
    }
    for name in ["weight", "bias"] {
        guard let t = args.optionalTensor(name) else { continue }
        try args.requireSameDType(x, t, argument: name)
        guard t.shape == normalized else {
            throw args.error("expected shape \(normalized) (normalized_shape), got \(t)", argument: name)
        }
    }
    return x
}

// MARK: - Attention

/// `softmax(query · keyᵀ · scale + mask) · value` over the last two dims, batch dims broadcast.
private let attentionOp = OpSchema(
    "scaled_dot_product_attention", summary: "softmax(query · keyᵀ · scale + mask) · value",
    parameters: [.init("query", .tensor), .init("key", .tensor), .init("value", .tensor),
                 .init("attn_mask", .optional(.tensor)), .init("dropout_p", .float, default: .float(0)),
                 .init("is_causal", .bool, default: .bool(false)), .init("scale", .optional(.float)),
                 .init("enable_gqa", .bool, default: .bool(false))],
    pte: nil) { args in
    let q = args.tensor("query"), k = args.tensor("key"), v = args.tensor("value")
    try args.requireFloat(q, argument: "query")
    try args.requireSameDType(q, k, argument: "key")
    try args.requireSameDType(q, v, argument: "value")
    try args.requireRank(q, 2...Int.max, argument: "query")
    for (name, t) in [("key", k), ("value", v)] where t.rank != q.rank {
        throw args.error("\(name) has rank \(t.rank), query has rank \(q.rank); they must be equal", argument: name)
    }
    let rank = q.rank
    let (l, e) = (q.shape[rank - 2], q.shape[rank - 1])
    let (s, ev) = (k.shape[rank - 2], v.shape[rank - 1])
    try args.requireDim(k.shape[rank - 1], equals: e, what: "the last dim of key", argument: "key")
    try args.requireDim(v.shape[rank - 2], equals: s, what: "dim -2 of value", argument: "value")
    guard args.float("dropout_p") == 0 else {
        throw args.error("dropout is not supported (inference only); expected 0, got \(args.float("dropout_p"))",
                         argument: "dropout_p")
    }
    // Grouped-query attention: key and value heads (dim -3) repeat to match query's.
    var (kBatch, vBatch) = (Array(k.shape.dropLast(2)), Array(v.shape.dropLast(2)))
    if args.bool("enable_gqa") {
        guard rank >= 3 else { throw args.error("grouped-query attention needs a head dim (rank 3 or more)", argument: "enable_gqa") }
        guard let hq = q.shape[rank - 3].staticValue, let hk = k.shape[rank - 3].staticValue,
              k.shape[rank - 3] == v.shape[rank - 3], hk > 0, hq % hk == 0 else {
            throw args.error("query heads \(q.shape[rank - 3]) must be a static multiple of key and value heads "
                             + "\(k.shape[rank - 3]), \(v.shape[rank - 3])", argument: "enable_gqa")
        }
        kBatch[rank - 3] = Dim(hq)
        vBatch[rank - 3] = Dim(hq)
    }
    let batch = try args.broadcast(try args.broadcast(Array(q.shape.dropLast(2)), kBatch), vBatch)
    if let mask = args.optionalTensor("attn_mask") {
        guard !args.bool("is_causal") else {
            throw args.error("attn_mask must be none when is_causal is true", argument: "attn_mask")
        }
        guard mask.dtype == .bool || mask.dtype == q.dtype else {
            throw args.error("expected a bool mask or one of query's dtype \(q.dtype), got \(mask.dtype)", argument: "attn_mask")
        }
        let scores = batch + [l, s]
        guard mask.rank <= scores.count, (try? Shape.broadcast(mask.shape, scores)) == scores else {
            throw args.error("\(mask) does not broadcast to the scores' shape \(scores)", argument: "attn_mask")
        }
    }
    return [TensorType(q.dtype, batch + [l, ev])]
}
