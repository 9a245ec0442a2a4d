import KilnOps
import KilnTensor
import Testing

/// Views, permutations, slices and concatenation, with static and symbolic dims.
let layoutCases: [OpCase] = [
    // dim_order_ops._clone_dim_order: a copy; only the row-major dim order.
    .ok("dim_order_ops._clone_dim_order", "no dim order", ["self": t(.float32, 2, 3)], "f32[2, 3]"),
    .ok("dim_order_ops._clone_dim_order", "row-major", ["self": t(.int64, 2, 3), "dim_order": .intList([0, 1])], "i64[2, 3]"),
    .fails("dim_order_ops._clone_dim_order", "channels last", ["self": t(.float32, 1, 2, 3, 4),
           "dim_order": .intList([0, 2, 3, 1])], argument: "dim_order", "dim order [0, 2, 3, 1] is not row-major"),
    // view_copy / reshape: at most one -1, element counts agree (symbolically).
    .ok("view_copy", "static", ["self": t(.float32, 2, 3, 4), "size": .intList([6, 4])], "f32[6, 4]"),
    .ok("view_copy", "inferred size", ["self": t(.float32, 2, 3, 4), "size": .intList([-1, 4])], "f32[6, 4]"),
    .ok("view_copy", "scalar to [1]", ["self": t(.int8), "size": .intList([1])], "i8[1]"),
    .ok("view_copy", "[1] to scalar", ["self": t(.int8, 1), "size": .intList([])], "i8[]"),
    .ok("view_copy", "zero elements", ["self": t(.float32, 0, 3), "size": .intList([3, 0])], "f32[3, 0]"),
    .ok("view_copy", "-1 over a symbolic dim", ["self": t(.float32, 1, seq, 256), "size": .intList([-1, 256])],
        "f32[seq, 256]"),
    .ok("view_copy", "-1 splits a symbolic product", ["self": t(.float32, 1, seq, 256), "size": .intList([-1, 64])],
        "f32[4*seq, 64]"),
    .ok("view_copy", "-1 merges symbolic dims", ["self": t(.float32, 2, seq, len), "size": .intList([-1])],
        "f32[2*len*seq]"),
    .fails("view_copy", "two -1", ["self": t(.float32, 2, 3), "size": .intList([-1, -1])],
           argument: "size", "only one size may be -1, got [-1, -1]"),
    .fails("view_copy", "negative size", ["self": t(.float32, 2, 3), "size": .intList([-2, 3])],
           argument: "size", "invalid size -2 in [-2, 3]"),
    .fails("view_copy", "size product overflows", ["self": t(.float32, 2, 3), "size": .intList([Int.max, 2])],
           argument: "size", "the element count of [\(Int.max), 2] overflows"),
    .fails("view_copy", "input element count overflows", ["self": t(.float32, Dim(Int.max), 2), "size": .intList([-1])],
           argument: nil, "dimension arithmetic overflows"),
    .fails("view_copy", "-1 does not divide", ["self": t(.float32, 2, 3), "size": .intList([-1, 4])],
           argument: "size", "cannot view f32[2, 3] (6 elements) as [-1, 4]"),
    .fails("view_copy", "-1 next to a zero", ["self": t(.float32, 0, 3), "size": .intList([0, -1])],
           argument: "size", "cannot view f32[0, 3] (0 elements) as [0, -1]"),
    .fails("view_copy", "-1 does not divide a symbolic count", ["self": t(.float32, seq), "size": .intList([-1, 2])],
           argument: "size", "cannot view f32[seq] (seq elements) as [-1, 2]"),
    .fails("view_copy", "element counts differ", ["self": t(.float32, 2, 3), "size": .intList([7])],
           argument: "size", "cannot view f32[2, 3] (6 elements) as [7] (7 elements)"),
    .fails("view_copy", "symbolic count against a constant", ["self": t(.float32, 1, seq, 256), "size": .intList([256])],
           argument: "size", "(256*seq elements) as [256] (256 elements)"),
    .ok("reshape", "inferred size", ["self": t(.float32, batch, 16), "shape": .intList([-1, 4, 4])],
        "f32[batch, 4, 4]"),
    .fails("reshape", "element counts differ", ["self": t(.float32, 2, 3), "shape": .intList([5])],
           argument: "shape", "cannot view f32[2, 3] (6 elements) as [5] (5 elements)"),

    // flatten.using_ints: merge start_dim...end_dim.
    .ok("flatten.using_ints", "all dims", ["self": t(.float32, 2, 3, 4)], "f32[24]"),
    .ok("flatten.using_ints", "from dim 1", ["self": t(.float32, 2, 3, 4), "start_dim": .int(1)], "f32[2, 12]"),
    .ok("flatten.using_ints", "negative end", ["self": t(.float32, 2, 3, 4), "end_dim": .int(-2)], "f32[6, 4]"),
    .ok("flatten.using_ints", "one dim", ["self": t(.float32, 2, 3, 4), "start_dim": .int(1), "end_dim": .int(1)],
        "f32[2, 3, 4]"),
    .ok("flatten.using_ints", "scalar", ["self": t(.float32)], "f32[1]"),
    .ok("flatten.using_ints", "symbolic", ["self": t(.float32, 2, seq, 4), "start_dim": .int(1)], "f32[2, 4*seq]"),
    .fails("flatten.using_ints", "start out of range", ["self": t(.float32, 2, 3), "start_dim": .int(2)],
           argument: "start_dim", "dim 2 is out of range for a tensor of rank 2"),
    .fails("flatten.using_ints", "end out of range", ["self": t(.float32, 2, 3), "end_dim": .int(-3)],
           argument: "end_dim", "dim -3 is out of range"),
    .fails("flatten.using_ints", "start after end",
           ["self": t(.float32, 2, 3, 4), "start_dim": .int(2), "end_dim": .int(1)],
           argument: "start_dim", "start_dim 2 comes after end_dim 1"),
    .fails("flatten.using_ints", "scalar, start out of range", ["self": t(.float32), "start_dim": .int(1)],
           argument: "start_dim", "dim 1 is out of range for a tensor of rank 0 (expected -1...0)"),
    .fails("flatten.using_ints", "scalar, end out of range", ["self": t(.float32), "end_dim": .int(-2)],
           argument: "end_dim", "dim -2 is out of range for a tensor of rank 0"),
    .fails("flatten.using_ints", "merged size overflows", ["self": t(.float32, Dim(Int.max), 2)],
           argument: nil, "dimension arithmetic overflows"),

    // permute_copy: result dim i is input dim dims[i].
    .ok("permute_copy", "rotate", ["self": t(.float32, 2, 3, 4), "dims": .intList([2, 0, 1])], "f32[4, 2, 3]"),
    .ok("permute_copy", "negative dims", ["self": t(.float32, 2, 3, 4), "dims": .intList([-1, 0, -2])],
        "f32[4, 2, 3]"),
    .ok("permute_copy", "symbolic", ["self": t(.float32, batch, seq, 8, 64), "dims": .intList([0, 2, 1, 3])],
        "f32[batch, 8, seq, 64]"),
    .ok("permute_copy", "scalar", ["self": t(.float32), "dims": .intList([])], "f32[]"),
    .fails("permute_copy", "too few dims", ["self": t(.float32, 2, 3, 4), "dims": .intList([0, 1])],
           argument: "dims", "expected 3 dims for f32[2, 3, 4], got [0, 1]"),
    .fails("permute_copy", "dim out of range", ["self": t(.float32, 2, 3, 4), "dims": .intList([0, 1, 3])],
           argument: "dims", "dim 3 is out of range"),
    .fails("permute_copy", "repeated dim", ["self": t(.float32, 2, 3, 4), "dims": .intList([0, 1, -3])],
           argument: "dims", "dim -3 appears more than once in [0, 1, -3]"),

    // transpose.int: swap two dims.
    .ok("transpose.int", "first and last", ["self": t(.float32, 2, 3, 4), "dim0": .int(0), "dim1": .int(2)],
        "f32[4, 3, 2]"),
    .ok("transpose.int", "negative dims", ["self": t(.float32, 2, seq, 4), "dim0": .int(-1), "dim1": .int(-2)],
        "f32[2, 4, seq]"),
    .ok("transpose.int", "same dim", ["self": t(.float32, 2, 3), "dim0": .int(1), "dim1": .int(-1)], "f32[2, 3]"),
    .ok("transpose.int", "scalar", ["self": t(.float32), "dim0": .int(0), "dim1": .int(-1)], "f32[]"),
    .fails("transpose.int", "dim0 out of range", ["self": t(.float32, 2, 3), "dim0": .int(2), "dim1": .int(0)],
           argument: "dim0", "dim 2 is out of range"),
    .fails("transpose.int", "dim1 out of range", ["self": t(.float32, 2, 3), "dim0": .int(0), "dim1": .int(-3)],
           argument: "dim1", "dim -3 is out of range"),
    .fails("transpose.int", "scalar, dim0 out of range", ["self": t(.float32), "dim0": .int(1), "dim1": .int(0)],
           argument: "dim0", "dim 1 is out of range for a tensor of rank 0 (expected -1...0)"),
    .fails("transpose.int", "scalar, dim1 out of range", ["self": t(.float32), "dim0": .int(0), "dim1": .int(5)],
           argument: "dim1", "dim 5 is out of range for a tensor of rank 0"),

    // slice_copy.Tensor: Python slice rules on static dims; symbolic dims must resolve the same way
    // for every size in range.
    .ok("slice_copy.Tensor", "start and end", ["self": t(.float32, 10, 4), "start": .int(2), "end": .int(8)],
        "f32[6, 4]"),
    .ok("slice_copy.Tensor", "step 3", ["self": t(.float32, 10, 4), "step": .int(3)], "f32[4, 4]"),
    .ok("slice_copy.Tensor", "negative start", ["self": t(.float32, 10, 4), "start": .int(-3)], "f32[3, 4]"),
    .ok("slice_copy.Tensor", "end past the size clamps", ["self": t(.float32, 10, 4), "start": .int(2), "end": .int(100)],
        "f32[8, 4]"),
    .ok("slice_copy.Tensor", "start after end is empty", ["self": t(.float32, 10, 4), "start": .int(8), "end": .int(2)],
        "f32[0, 4]"),
    .ok("slice_copy.Tensor", "negative dim", ["self": t(.float32, 10, 4), "dim": .int(-1), "start": .int(1)],
        "f32[10, 3]"),
    .ok("slice_copy.Tensor", "extreme bounds and step",
        ["self": t(.float32, 10, 4), "start": .int(Int.min), "end": .int(Int.max), "step": .int(Int.max)], "f32[1, 4]"),
    .ok("slice_copy.Tensor", "whole symbolic dim", ["self": t(.float32, seq, 4)], "f32[seq, 4]"),
    .ok("slice_copy.Tensor", "symbolic, drop the first", ["self": t(.float32, seq, 4), "start": .int(1)],
        "f32[seq - 1, 4]"),
    .ok("slice_copy.Tensor", "symbolic, the last", ["self": t(.float32, seq, 4), "start": .int(-1)], "f32[1, 4]"),
    .ok("slice_copy.Tensor", "symbolic, step 2", ["self": t(.float32, seq, 4), "step": .int(2)],
        "f32[floordiv(seq + 1, 2), 4]"),
    .ok("slice_copy.Tensor", "symbolic, end at the upper bound", ["self": t(.float32, seq, 4), "end": .int(128)],
        "f32[seq, 4]"),
    .ok("slice_copy.Tensor", "static dim of a symbolic tensor",
        ["self": t(.float32, seq, 4), "dim": .int(1), "start": .int(1), "end": .int(3)], "f32[seq, 2]"),
    .fails("slice_copy.Tensor", "scalar", ["self": t(.float32)], argument: "self", "expected rank 1 or more, got f32[]"),
    .fails("slice_copy.Tensor", "dim out of range", ["self": t(.float32, 10, 4), "dim": .int(2)],
           argument: "dim", "dim 2 is out of range"),
    .fails("slice_copy.Tensor", "zero step", ["self": t(.float32, 10, 4), "step": .int(0)],
           argument: "step", "expected a positive step, got 0"),
    .fails("slice_copy.Tensor", "symbolic end inside the range", ["self": t(.float32, seq, 4), "end": .int(64)],
           argument: nil, "cannot slice 0..<64 from a dim of size seq (range 1...128)"),
    .fails("slice_copy.Tensor", "symbolic negative start past the lower bound", ["self": t(.float32, seq, 4), "start": .int(-2)],
           argument: nil, "cannot slice -2..<"),
    .fails("slice_copy.Tensor", "symbolic, most negative start", ["self": t(.float32, seq, 4), "start": .int(Int.min)],
           argument: nil, "cannot slice \(Int.min)..<"),

    // cat: equal dtype and rank, equal sizes except along dim, which add up.
    .ok("cat", "dim 0", ["tensors": list(t(.float32, 2, 3), t(.float32, 4, 3))], "f32[6, 3]"),
    .ok("cat", "negative dim", ["tensors": list(t(.float32, 2, 3), t(.float32, 2, 5)), "dim": .int(-1)], "f32[2, 8]"),
    .ok("cat", "one tensor", ["tensors": list(t(.int8, 2))], "i8[2]"),
    .ok("cat", "symbolic sizes add up", ["tensors": list(t(.float32, seq, 4), t(.float32, len, 4), t(.float32, 1, 4))],
        "f32[len + seq + 1, 4]"),
    .ok("cat", "the same symbol twice", ["tensors": list(t(.float32, seq, 4), t(.float32, seq, 4))], "f32[2*seq, 4]"),
    .ok("cat", "symbolic dims elsewhere must match",
        ["tensors": list(t(.float32, batch, seq, 4), t(.float32, batch, seq, 2)), "dim": .int(2)],
        "f32[batch, seq, 6]"),
    .fails("cat", "no tensors", ["tensors": .tensorList([])], argument: "tensors", "expected at least one tensor"),
    .fails("cat", "scalars", ["tensors": list(t(.float32), t(.float32))],
           argument: "tensors", "expected rank 1 or more"),
    .fails("cat", "dim out of range", ["tensors": list(t(.float32, 2, 3)), "dim": .int(2)],
           argument: "dim", "dim 2 is out of range"),
    .fails("cat", "dtype", ["tensors": list(t(.float32, 2, 3), t(.int32, 2, 3))],
           argument: "tensors", "tensor 1 is i32, tensor 0 is f32"),
    .fails("cat", "rank", ["tensors": list(t(.float32, 2, 3), t(.float32, 2, 3, 1))],
           argument: "tensors", "tensor 1 has rank 3, tensor 0 has rank 2"),
    .fails("cat", "size off the cat dim", ["tensors": list(t(.float32, 2, 3), t(.float32, 2, 3), t(.float32, 2, 5))],
           argument: "tensors", "tensor 2 has size 5 in dim 1, tensor 0 has 3"),
    .fails("cat", "symbolic size off the cat dim", ["tensors": list(t(.float32, 2, seq), t(.float32, 2, len))],
           argument: "tensors", "tensor 1 has size len in dim 1, tensor 0 has seq"),
    .fails("cat", "total overflows", ["tensors": list(t(.float32, Dim(Int.max), 1), t(.float32, 1, 1))],
           argument: nil, "dimension arithmetic overflows"),
]

@Suite struct LayoutTypeTests {
    @Test(arguments: layoutCases)
    func inference(_ c: OpCase) {
        c.check()
    }

    /// A view's inferred symbolic dim is the same `Dim` as the input's, not just the same text.
    @Test func inferredViewDimIsTheInputSymbol() throws {
        let result = try infer("view_copy", ["self": t(.float32, 1, seq, 256), "size": .intList([-1, 256])])
        #expect(result == [TensorType(.float32, [seq, 256])])
    }

    /// A symbolic slice's length is right at every size in the symbol's range.
    @Test(arguments: [(1, nil as Int?, 1), (0, nil, 2), (-1, nil, 1), (0, 128, 3)])
    func symbolicSliceMatchesPythonAtEverySize(start: Int, end: Int?, step: Int) throws {
        var named: [String: Argument<TensorType>] = ["self": t(.float32, seq), "start": .int(start), "step": .int(step)]
        if let end { named["end"] = .int(end) }
        let length = try #require(try infer("slice_copy.Tensor", named).first?.shape.first)
        for n in 1...128 {
            let first = start < 0 ? start + n : start
            let python = Array(stride(from: first, to: Swift.min(end ?? n, n), by: step)).count
            #expect(length.evaluate(["seq": n]) == python, "size \(n)")
        }
    }
}
