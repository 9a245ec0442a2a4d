import KilnOps
import KilnTensor
import Testing

/// Reductions, shape copies, indexing, layer norm and attention: result types (static and
/// symbolic) and one case per error their rules throw.
let shapingCases: [OpCase] = reduceCases + shapeCopyCases + indexCases + layerNormCases + attentionCases

private let reduceCases: [OpCase] = [
    // sum: dims, keepdim, all dims, integer promotion to int64, dtype
    .ok("sum.dim_IntList", "one dim", ["self": t(.float32, 2, 3, 4), "dim": .intList([1])], "f32[2, 4]"),
    .ok("sum.dim_IntList", "negative dims, keepdim",
        ["self": t(.float32, 2, 3, 4), "dim": .intList([-1, 0]), "keepdim": .bool(true)], "f32[1, 3, 1]"),
    .ok("sum.dim_IntList", "none is all dims", ["self": t(.float32, 2, 3)], "f32[]"),
    .ok("sum.dim_IntList", "empty list is all dims, keepdim",
        ["self": t(.float32, 2, 3), "dim": .intList([]), "keepdim": .bool(true)], "f32[1, 1]"),
    .ok("sum.dim_IntList", "0-d with dim 0", ["self": t(.float32), "dim": .intList([0])], "f32[]"),
    .ok("sum.dim_IntList", "int32 sums to int64", ["self": t(.int32, 4, 5), "dim": .intList([0])], "i64[5]"),
    .ok("sum.dim_IntList", "bool sums to int64", ["self": t(.bool, 4, 5), "dim": .intList([1])], "i64[4]"),
    .ok("sum.dim_IntList", "dtype", ["self": t(.int64, 4, 5), "dim": .intList([1]), "dtype": .dtype(.float16)], "f16[4]"),
    .ok("sum.dim_IntList", "symbolic kept dim", ["self": t(.float32, batch, seq, 8), "dim": .intList([-1])],
        "f32[batch, seq]"),
    .fails("sum.dim_IntList", "dim out of range", ["self": t(.float32, 2, 3), "dim": .intList([2])],
           argument: "dim", "dim 2 is out of range for a tensor of rank 2"),
    .fails("sum.dim_IntList", "repeated dim", ["self": t(.float32, 2, 3), "dim": .intList([1, -1])],
           argument: "dim", "dim -1 appears more than once in [1, -1]"),

    // amax / amin: the input's dtype, no reduction over an empty dim
    .ok("amax", "one dim", ["self": t(.float32, 2, 3), "dim": .intList([1])], "f32[2]"),
    .ok("amax", "all dims by default, bool", ["self": t(.bool, 2, 3)], "bool[]"),
    .ok("amax", "keepdim, symbolic", ["self": t(.float16, seq, 4), "dim": .intList([1]), "keepdim": .bool(true)],
        "f16[seq, 1]"),
    .ok("amax", "over a kept empty dim", ["self": t(.float32, 0, 3), "dim": .intList([1])], "f32[0]"),
    .ok("amin", "int64, negative dim", ["self": t(.int64, 2, 3, 4), "dim": .intList([-2])], "i64[2, 4]"),
    .fails("amax", "over an empty dim", ["self": t(.float32, 0, 3), "dim": .intList([0])],
           argument: "dim", "cannot reduce over dim 0, which has size 0"),
    .fails("amin", "every dim of an empty tensor", ["self": t(.float32, 2, 0)],
           argument: "self", "cannot reduce over dim 1, which has size 0"),

    // argmax: int64 result; no dim flattens
    .ok("argmax", "one dim", ["self": t(.float32, 2, 3), "dim": .int(1)], "i64[2]"),
    .ok("argmax", "negative dim, keepdim", ["self": t(.int32, 2, 3), "dim": .int(-2), "keepdim": .bool(true)],
        "i64[1, 3]"),
    .ok("argmax", "flattened", ["self": t(.float32, 2, 3)], "i64[]"),
    .ok("argmax", "flattened, keepdim keeps every dim as 1", ["self": t(.float32, 2, 3), "keepdim": .bool(true)],
        "i64[1, 1]"),
    .ok("argmax", "0-d", ["self": t(.float32), "dim": .int(0)], "i64[]"),
    .fails("argmax", "bool", ["self": t(.bool, 3), "dim": .int(0)], argument: "self", "argmax does not take bool tensors"),
    .fails("argmax", "over an empty dim", ["self": t(.float32, 0, 3), "dim": .int(0)],
           argument: "dim", "cannot reduce over dim 0, which has size 0"),
    .fails("argmax", "dim out of range", ["self": t(.float32, 2, 3), "dim": .int(-3)],
           argument: "dim", "dim -3 is out of range"),

    // log_softmax
    .ok("_log_softmax", "last dim", ["self": t(.float32, 2, 5), "dim": .int(-1), "half_to_float": .bool(false)],
        "f32[2, 5]"),
    .fails("_log_softmax", "integer input", ["self": t(.int64, 2), "dim": .int(0), "half_to_float": .bool(false)],
           argument: "self", "expected a floating-point tensor, got i64"),
    .fails("_log_softmax", "half_to_float", ["self": t(.float16, 2), "dim": .int(0), "half_to_float": .bool(true)],
           argument: "half_to_float", "half_to_float=true is not supported"),
    .ok("log_softmax.int", "dtype", ["self": t(.float16, 2, seq), "dim": .int(1), "dtype": .dtype(.float32)],
        "f32[2, seq]"),
    .fails("log_softmax.int", "integer dtype", ["self": t(.float32, 2), "dim": .int(0), "dtype": .dtype(.int32)],
           argument: "dtype", "log_softmax needs a floating-point dtype, got i32"),
]

private let shapeCopyCases: [OpCase] = [
    // unsqueeze: -rank-1...rank
    .ok("unsqueeze_copy", "front", ["self": t(.float32, 2, 3), "dim": .int(0)], "f32[1, 2, 3]"),
    .ok("unsqueeze_copy", "-1 is the new last dim", ["self": t(.float32, 2, seq), "dim": .int(-1)], "f32[2, seq, 1]"),
    .ok("unsqueeze_copy", "0-d", ["self": t(.int8), "dim": .int(-1)], "i8[1]"),
    .ok("unsqueeze", "middle", ["self": t(.float32, 2, 3), "dim": .int(-2)], "f32[2, 1, 3]"),
    .fails("unsqueeze_copy", "dim out of range", ["self": t(.float32, 2, 3), "dim": .int(3)],
           argument: "dim", "dim 3 is out of range for inserting into a tensor of rank 2 (expected -3...2)"),

    // squeeze: listed dims of size 1 go, others stay; a symbolic dim that may be 1 cannot be told
    .ok("squeeze_copy.dims", "two dims", ["self": t(.float32, 1, 3, 1), "dim": .intList([0, -1])], "f32[3]"),
    .ok("squeeze_copy.dims", "a dim not of size 1 stays", ["self": t(.float32, 2, 1), "dim": .intList([0])], "f32[2, 1]"),
    .ok("squeeze_copy.dims", "symbolic dims that cannot be 1 stay",
        ["self": t(.float32, 1, Dim(Symbol("n", range: 2...9))), "dim": .intList([0, 1])], "f32[n]"),
    .ok("squeeze_copy.dims", "0-d", ["self": t(.float32), "dim": .intList([0])], "f32[]"),
    .ok("squeeze.dims", "one dim", ["self": t(.float32, 4, 1), "dim": .intList([1])], "f32[4]"),
    .ok("squeeze.dim", "one dim", ["self": t(.float32, 1, seq), "dim": .int(0)], "f32[seq]"),
    .fails("squeeze_copy.dims", "a symbolic dim that may be 1", ["self": t(.float32, seq, 4), "dim": .intList([0])],
           argument: "dim", "dim 0 is seq, which may be 1"),
    .fails("squeeze_copy.dims", "repeated dim", ["self": t(.float32, 1, 4), "dim": .intList([0, -2])],
           argument: "dim", "appears more than once"),

    // expand: -1 keeps, 1 broadcasts, new dims go in front
    .ok("expand_copy", "broadcast a 1", ["self": t(.float32, 3, 1), "size": .intList([3, 4])], "f32[3, 4]"),
    .ok("expand_copy", "new leading dims and -1", ["self": t(.float32, 3, 1), "size": .intList([2, -1, 5])], "f32[2, 3, 5]"),
    .ok("expand_copy", "a symbolic batch kept with -1", ["self": t(.float32, batch, 1, 8), "size": .intList([-1, 4, 8])],
        "f32[batch, 4, 8]"),
    .ok("expand_copy", "to size 0", ["self": t(.float32, 3, 1), "size": .intList([3, 0])], "f32[3, 0]"),
    .ok("expand", "0-d", ["self": t(.float32), "size": .intList([2, 3])], "f32[2, 3]"),
    .fails("expand_copy", "fewer sizes than dims", ["self": t(.float32, 3, 1), "size": .intList([4])],
           argument: "size", "expected at least 2 sizes for f32[3, 1], got [4]"),
    .fails("expand_copy", "-1 for a new dim", ["self": t(.float32, 3), "size": .intList([-1, 3])],
           argument: "size", "size -1 is not allowed for the new leading dim 0"),
    .fails("expand_copy", "a dim not of size 1", ["self": t(.float32, 3, 2), "size": .intList([3, 4])],
           argument: "size", "cannot expand dim 1 of f32[3, 2] (size 2) to 4"),
    .fails("expand_copy", "a symbolic dim to a constant", ["self": t(.float32, seq), "size": .intList([4])],
           argument: "size", "cannot expand dim 0 of f32[seq] (size seq) to 4"),
    .fails("expand_copy", "invalid size", ["self": t(.float32, 3), "size": .intList([-2])],
           argument: "size", "invalid size -2"),

    // split: pieces along a static dim
    .ok("split_with_sizes_copy", "two pieces", ["self": t(.float32, 5, 4), "split_sizes": .intList([2, 3])],
        "f32[2, 4]", "f32[3, 4]"),
    .ok("split_with_sizes_copy", "negative dim, an empty piece, symbolic other dims",
        ["self": t(.float32, seq, 4), "split_sizes": .intList([4, 0]), "dim": .int(-1)], "f32[seq, 4]", "f32[seq, 0]"),
    .ok("split_with_sizes", "one piece", ["self": t(.int64, 3), "split_sizes": .intList([3])], "i64[3]"),
    .ok("split.Tensor", "uneven", ["self": t(.float32, 7, 2), "split_size": .int(3)], "f32[3, 2]", "f32[3, 2]", "f32[1, 2]"),
    .ok("split.Tensor", "larger than the dim", ["self": t(.float32, 2, 3), "split_size": .int(5), "dim": .int(1)],
        "f32[2, 3]"),
    .ok("split.Tensor", "an empty dim with split_size 0", ["self": t(.float32, 2, 0), "split_size": .int(0), "dim": .int(1)],
        "f32[2, 0]"),
    .fails("split_with_sizes_copy", "sizes do not add up", ["self": t(.float32, 5), "split_sizes": .intList([2, 2])],
           argument: "split_sizes", "the sizes [2, 2] add up to 4, but dim 0 of f32[5] has 5"),
    .fails("split_with_sizes_copy", "negative size", ["self": t(.float32, 5), "split_sizes": .intList([6, -1])],
           argument: "split_sizes", "expected non-negative sizes, got [6, -1]"),
    .fails("split_with_sizes_copy", "no sizes", ["self": t(.float32, 0), "split_sizes": .intList([])],
           argument: "split_sizes", "expected at least one size"),
    .fails("split_with_sizes_copy", "symbolic dim", ["self": t(.float32, seq), "split_sizes": .intList([1])],
           argument: "dim", "its size seq is symbolic"),
    .fails("split_with_sizes_copy", "0-d", ["self": t(.float32), "split_sizes": .intList([1])],
           argument: "self", "expected rank 1 or more"),
    .fails("split.Tensor", "split_size 0 of a non-empty dim", ["self": t(.float32, 3), "split_size": .int(0)],
           argument: "split_size", "split_size can be 0 only when the dim is empty (its size is 3)"),

    // select: a static index is checked; a symbolic size against its bound
    .ok("select_copy.int", "negative index", ["self": t(.float32, 3, 4), "dim": .int(0), "index": .int(-3)], "f32[4]"),
    .ok("select_copy.int", "to 0-d", ["self": t(.int32, 5), "dim": .int(-1), "index": .int(4)], "i32[]"),
    .ok("select_copy.int", "symbolic dim", ["self": t(.float32, 2, seq, 8), "dim": .int(1), "index": .int(-1)],
        "f32[2, 8]"),
    .ok("select.int", "middle", ["self": t(.float32, 2, 3, 4), "dim": .int(1), "index": .int(2)], "f32[2, 4]"),
    .fails("select_copy.int", "index out of range", ["self": t(.float32, 3, 4), "dim": .int(1), "index": .int(4)],
           argument: "index", "index 4 is out of range for dim 1 of f32[3, 4] (expected -4...3)"),
    .fails("select_copy.int", "beyond a symbolic dim's bound", ["self": t(.float32, seq), "dim": .int(0), "index": .int(128)],
           argument: "index", "index 128 is out of range"),
    .fails("select_copy.int", "0-d", ["self": t(.float32), "dim": .int(0), "index": .int(0)],
           argument: "self", "cannot select from a 0-d tensor"),
]

private let indexCases: [OpCase] = [
    .ok("index_select", "dim 1", ["self": t(.float32, 3, 4), "dim": .int(1), "index": t(.int64, 6)], "f32[3, 6]"),
    .ok("index_select", "0-d index, int32", ["self": t(.float32, 3, 4), "dim": .int(0), "index": t(.int32)], "f32[1, 4]"),
    .ok("index_select", "symbolic index count", ["self": t(.float16, 10, 4), "dim": .int(-2), "index": t(.int64, seq)],
        "f16[seq, 4]"),
    .ok("index_select", "0-d self", ["self": t(.float32), "dim": .int(0), "index": t(.int64, 1)], "f32[]"),
    .fails("index_select", "float index", ["self": t(.float32, 3), "dim": .int(0), "index": t(.float32, 2)],
           argument: "index", "expected an int64 or int32 index tensor, got f32"),
    .fails("index_select", "2-d index", ["self": t(.float32, 3), "dim": .int(0), "index": t(.int64, 2, 2)],
           argument: "index", "expected a 0-d or 1-d index"),
    .fails("index_select", "0-d self with two indices", ["self": t(.float32), "dim": .int(0), "index": t(.int64, 2)],
           argument: "index", "a 0-d self takes exactly one index"),

    .ok("gather", "dim 0", ["self": t(.float32, 4, 3), "dim": .int(0), "index": t(.int64, 2, 3)], "f32[2, 3]"),
    .ok("gather", "larger along dim, int32", ["self": t(.float32, 4, 3), "dim": .int(-1), "index": t(.int32, 4, 7)],
        "f32[4, 7]"),
    .fails("gather", "rank", ["self": t(.float32, 4, 3), "dim": .int(0), "index": t(.int64, 4)],
           argument: "index", "index has rank 1, self has rank 2"),
    .fails("gather", "larger off dim", ["self": t(.float32, 4, 3), "dim": .int(0), "index": t(.int64, 2, 5)],
           argument: "index", "index size 5 in dim 1 may exceed self's 3"),

    .ok("embedding", "2-d indices", ["weight": t(.float32, 100, 16), "indices": t(.int64, 2, seq)], "f32[2, seq, 16]"),
    .ok("embedding", "0-d index, int32", ["weight": t(.float16, 10, 4), "indices": t(.int32)], "f16[4]"),
    .fails("embedding", "3-d weight", ["weight": t(.float32, 10, 4, 2), "indices": t(.int64, 3)],
           argument: "weight", "expected rank 2"),
    .fails("embedding", "float indices", ["weight": t(.float32, 10, 4), "indices": t(.float32, 3)],
           argument: "indices", "expected an int64 or int32 index tensor"),
]

private let layerNormCases: [OpCase] = [
    .ok("native_layer_norm", "last dim, mean and rstd keep the leading dims",
        ["input": t(.float32, 2, seq, 8), "normalized_shape": .intList([8]), "weight": t(.float32, 8),
         "bias": t(.float32, 8), "eps": .float(1e-5)],
        "f32[2, seq, 8]", "f32[2, seq, 1]", "f32[2, seq, 1]"),
    .ok("native_layer_norm", "two dims, float16, no affine",
        ["input": t(.float16, 2, 3, 4), "normalized_shape": .intList([3, 4]), "eps": .float(1e-5)],
        "f16[2, 3, 4]", "f16[2, 1, 1]", "f16[2, 1, 1]"),
    .ok("layer_norm", "defaults", ["input": t(.float32, 4, 16), "normalized_shape": .intList([16])], "f32[4, 16]"),
    .fails("layer_norm", "shape does not end the input", ["input": t(.float32, 4, 16), "normalized_shape": .intList([4])],
           argument: "normalized_shape", "f32[4, 16] does not end in the normalized shape [4]"),
    .fails("layer_norm", "empty normalized shape", ["input": t(.float32, 4), "normalized_shape": .intList([])],
           argument: "normalized_shape", "expected at least one normalized dim"),
    .fails("layer_norm", "integer input", ["input": t(.int32, 4), "normalized_shape": .intList([4])],
           argument: "input", "expected a floating-point tensor"),
    .fails("native_layer_norm", "weight shape",
           ["input": t(.float32, 4, 16), "normalized_shape": .intList([16]), "weight": t(.float32, 8), "eps": .float(0)],
           argument: "weight", "expected shape [16] (normalized_shape), got f32[8]"),
    .fails("native_layer_norm", "bias dtype",
           ["input": t(.float32, 4, 16), "normalized_shape": .intList([16]), "bias": t(.float16, 16), "eps": .float(0)],
           argument: "bias", "dtype f16 does not match f32"),
]

private let attentionCases: [OpCase] = {
    let sdpa = "scaled_dot_product_attention"
    let q = t(.float32, 2, 8, seq, 64), k = t(.float32, 2, 8, seq, 64), v = t(.float32, 2, 8, seq, 32)
    return [
        .ok(sdpa, "4-d, symbolic length", ["query": q, "key": k, "value": v], "f32[2, 8, seq, 32]"),
        .ok(sdpa, "bool mask, broadcast", ["query": q, "key": k, "value": v, "attn_mask": t(.bool, seq, seq)],
            "f32[2, 8, seq, 32]"),
        .ok(sdpa, "grouped-query attention", ["query": t(.float32, 1, 8, 4, 16), "key": t(.float32, 1, 2, 6, 16),
                                              "value": t(.float32, 1, 2, 6, 16), "enable_gqa": .bool(true)],
            "f32[1, 8, 4, 16]"),
        .ok(sdpa, "broadcast batch, 3-d", ["query": t(.float16, 4, 5, 8), "key": t(.float16, 1, 6, 8),
                                           "value": t(.float16, 1, 6, 3)], "f16[4, 5, 3]"),
        .fails(sdpa, "key width", ["query": q, "key": t(.float32, 2, 8, seq, 32), "value": v],
               argument: "key", "the last dim of key is 32, expected 64"),
        .fails(sdpa, "value length", ["query": q, "key": k, "value": t(.float32, 2, 8, 4, 32)],
               argument: "value", "dim -2 of value is 4, expected seq"),
        .fails(sdpa, "dropout", ["query": q, "key": k, "value": v, "dropout_p": .float(0.1)],
               argument: "dropout_p", "dropout is not supported"),
        .fails(sdpa, "mask with is_causal", ["query": q, "key": k, "value": v, "attn_mask": t(.bool, seq, seq),
                                             "is_causal": .bool(true)],
               argument: "attn_mask", "attn_mask must be none when is_causal is true"),
        .fails(sdpa, "mask dtype", ["query": q, "key": k, "value": v, "attn_mask": t(.float16, seq, seq)],
               argument: "attn_mask", "expected a bool mask or one of query's dtype f32, got f16"),
        .fails(sdpa, "mask shape", ["query": q, "key": k, "value": v, "attn_mask": t(.bool, 3, seq)],
               argument: "attn_mask", "does not broadcast to the scores' shape"),
        .fails(sdpa, "heads do not divide", ["query": t(.float32, 1, 6, 4, 16), "key": t(.float32, 1, 4, 6, 16),
                                             "value": t(.float32, 1, 4, 6, 16), "enable_gqa": .bool(true)],
               argument: "enable_gqa", "must be a static multiple of key and value heads"),
        .fails(sdpa, "batch does not broadcast", ["query": t(.float32, 2, 4, 16), "key": t(.float32, 3, 6, 16),
                                                  "value": t(.float32, 3, 6, 16)],
               argument: nil, "do not broadcast"),
        .fails(sdpa, "integer query", ["query": t(.int32, 4, 16), "key": t(.int32, 6, 16), "value": t(.int32, 6, 16)],
               argument: "query", "expected a floating-point tensor"),
    ]
}()

@Suite struct ShapingTypeTests {
    @Test(arguments: shapingCases)
    func inferredTypes(_ c: OpCase) {
        c.check()
    }

    /// `split_with_sizes_copy` returns `Tensor[]`: its count comes from the arguments.
    @Test func tensorListResults() throws {
        let op = try schema("split_with_sizes_copy")
        #expect(op.returnsTensorList)
        #expect(op.resultCount == nil)
        #expect(op.signature == "split_with_sizes_copy(Tensor self, int[] split_sizes, int dim) -> Tensor[]")
        #expect(try schema("native_layer_norm").resultCount == 3)
        #expect(try schema("native_layer_norm").returnsTensorList == false)
    }

    @Test func pteOperators() throws {
        let expected = [
            "sum.dim_IntList": "aten::sum.IntList_out", "amax": "aten::amax.out", "amin": "aten::amin.out",
            "argmax": "aten::argmax.out", "_log_softmax": "aten::_log_softmax.out",
            "native_layer_norm": "aten::native_layer_norm.out", "unsqueeze_copy": "aten::unsqueeze_copy.out",
            "squeeze_copy.dims": "aten::squeeze_copy.dims_out", "expand_copy": "aten::expand_copy.out",
            "split_with_sizes_copy": "aten::split_with_sizes_copy.out", "select_copy.int": "aten::select_copy.int_out",
            "index_select": "aten::index_select.out", "gather": "aten::gather.out", "embedding": "aten::embedding.out",
        ]
        for (op, pte) in expected {
            #expect(try schema(op).pte?.description == pte, "\(op)")
        }
    }
}
