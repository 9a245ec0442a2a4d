import KilnIR
import KilnOps
import KilnTensor
import Testing

extension OpCase {
    /// Reductions, shape copies, indexing, layer norm and attention; `split_with_sizes_copy` and
    /// `split.Tensor` have a result per piece, `native_layer_norm` three.
    static let shaping: [OpCase] = [
        OpCase("sum.dim_IntList with keepdim and dtype") { b in
            try b.call("sum.dim_IntList", [try b.input("x", t(.int32, 2, 3))],
                       ["dim": .intList([-1]), "keepdim": .bool(true), "dtype": .dtype(.float32)])
        },
        OpCase("amax and amin over all dims, argmax flattened") { b in
            let x = try b.input("x", t(.float16, 2, 3))
            let hi = try b.call("amax", [x])[0]
            let lo = try b.call("amin", [x], ["dim": .intList([0, 1]), "keepdim": .bool(true)])[0]
            let at = try b.call("argmax", [x], ["keepdim": .bool(true)])[0]
            let along = try b.call("argmax", [x], ["dim": .int(-1)])[0]
            return [hi, lo, at, along]
        },
        OpCase("_log_softmax and log_softmax.int with dtype") { b in
            let x = try b.input("x", t(.float16, 2, 3))
            return [try b.call("_log_softmax", [x], ["dim": .int(1), "half_to_float": .bool(false)])[0],
                    try b.call("log_softmax.int", [x], ["dim": .int(0), "dtype": .dtype(.float32)])[0]]
        },
        OpCase("unsqueeze and squeeze in both forms") { b in
            let x = try b.input("x", t(.float32, 1, 3))
            let u = try b.call("unsqueeze_copy", [x], ["dim": .int(-1)])[0]
            let v = try b.call("unsqueeze", [x], ["dim": .int(0)])[0]
            let s = try b.call("squeeze_copy.dims", [u], ["dim": .intList([0, 2])])[0]
            let d = try b.call("squeeze.dims", [v], ["dim": .intList([0])])[0]
            let one = try b.call("squeeze.dim", [x], ["dim": .int(0)])[0]
            return [s, d, one]
        },
        OpCase("expand in both forms, symbolic batch") { b in
            b.symbol("seq", range: seqSymbol.range)
            let x = try b.input("x", TensorType(.float32, [Dim(seqSymbol), 1]))
            return [try b.call("expand_copy", [x], ["size": .intList([2, -1, 4])])[0],
                    try b.call("expand", [x], ["size": .intList([-1, 3]), "implicit": .bool(true)])[0]]
        },
        OpCase("split_with_sizes_copy, split_with_sizes and split.Tensor: a result per piece") { b in
            let x = try b.input("x", t(.int64, 5, 4))
            let pieces = try b.call("split_with_sizes_copy", [x], ["split_sizes": .intList([2, 3])], names: ["a", "c"])
            let more = try b.call("split_with_sizes", [x], ["split_sizes": .intList([1, 3]), "dim": .int(1)])
            let chunks = try b.call("split.Tensor", [x], ["split_size": .int(2)])
            return pieces + more + chunks
        },
        OpCase("select in both forms") { b in
            let x = try b.input("x", t(.float32, 3, 4))
            return [try b.call("select_copy.int", [x], ["dim": .int(1), "index": .int(-1)])[0],
                    try b.call("select.int", [x], ["dim": .int(0), "index": .int(2)])[0]]
        },
        OpCase("index_select, gather and embedding") { b in
            let x = try b.input("x", t(.float32, 4, 3))
            let i = try b.input("i", t(.int32, 2))
            let g = try b.input("g", t(.int64, 2, 3))
            let w = try b.constant("table", try counting(.float32, [10, 3]))
            return [try b.call("index_select", [x], ["dim": .int(0), "index": .tensor(i)])[0],
                    try b.call("gather", [x], ["dim": .int(0), "index": .tensor(g), "sparse_grad": .bool(true)])[0],
                    try b.call("embedding", [w, g], ["padding_idx": .int(0)])[0]]
        },
        OpCase("native_layer_norm, three results, and layer_norm") { b in
            let x = try b.input("x", t(.float32, 2, 4))
            let w = try b.input("w", t(.float32, 4))
            let stats = try b.call("native_layer_norm", [x, w, nil], ["normalized_shape": .intList([4]), "eps": .float(1e-5)],
                                   names: ["y", "mean", "rstd"])
            let plain = try b.call("layer_norm", [x, nil, w], ["normalized_shape": .intList([4]), "eps": .float(0.001)])
            return stats + plain
        },
        OpCase("scaled_dot_product_attention with a mask, and causal with a scale") { b in
            let q = try b.input("q", t(.float32, 1, 2, 3, 8))
            let k = try b.input("k", t(.float32, 1, 2, 5, 8))
            let m = try b.input("m", t(.bool, 3, 5))
            return [try b.call("scaled_dot_product_attention", [q, k, k, m])[0],
                    try b.call("scaled_dot_product_attention", [q, k, k],
                               ["is_causal": .bool(true), "scale": .float(0.25), "enable_gqa": .bool(true)])[0]]
        },
    ]
}

@Suite struct ShapingRoundTripTests {
    @Test func tensorListResultsPrintOneNamePerPiece() throws {
        let text = KIRPrinter.print(try OpCase.graph("split_with_sizes_copy, split_with_sizes and split.Tensor: a result per piece"))
        #expect(text.contains("%a, %c = split_with_sizes_copy(%x, split_sizes=[2, 3]) : i64[2, 4], i64[3, 4] #0"))
        #expect(text.contains(" = split.Tensor(%x, split_size=2) : i64[2, 4], i64[2, 4], i64[1, 4] #2"))
    }

    @Test func aTensorListResultCountMustMatchTheArguments() {
        expectParseError("graph @f(%x: f32[5]) {\n  %a, %b, %c = split_with_sizes_copy(%x, split_sizes=[2, 3])\n  return %a\n}\n",
                         .resultCount, line: 2, column: 16, "split_with_sizes_copy has 2 results, 3 names given")
    }
}
