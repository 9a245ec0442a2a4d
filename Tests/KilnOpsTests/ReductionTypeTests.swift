import KilnOps
import KilnTensor
import Testing

/// mean and softmax: reduced dims, keepdim, negative and repeated axes, result dtypes.
let reductionCases: [OpCase] = [
    .ok("mean.dim", "one dim", ["self": t(.float32, 2, 3, 4), "dim": .intList([1])], "f32[2, 4]"),
    .ok("mean.dim", "keepdim", ["self": t(.float32, 2, 3, 4), "dim": .intList([1]), "keepdim": .bool(true)],
        "f32[2, 1, 4]"),
    .ok("mean.dim", "negative dim", ["self": t(.float32, 2, 3, 4), "dim": .intList([-1])], "f32[2, 3]"),
    .ok("mean.dim", "two dims, one negative", ["self": t(.float32, 2, 3, 4), "dim": .intList([-1, 0])], "f32[3]"),
    .ok("mean.dim", "no dim reduces all", ["self": t(.float32, 2, 3, 4)], "f32[]"),
    .ok("mean.dim", "empty dim reduces all", ["self": t(.float32, 2, 3, 4), "dim": .intList([])], "f32[]"),
    .ok("mean.dim", "all dims kept", ["self": t(.float32, 2, 3, 4), "keepdim": .bool(true)], "f32[1, 1, 1]"),
    .ok("mean.dim", "rank 0, dim 0", ["self": t(.float32), "dim": .intList([0])], "f32[]"),
    .ok("mean.dim", "symbolic, keepdim",
        ["self": t(.float32, 1, seq, 256), "dim": .intList([-1]), "keepdim": .bool(true)], "f32[1, seq, 1]"),
    .ok("mean.dim", "over the symbolic dim", ["self": t(.float32, 1, seq, 256), "dim": .intList([1])], "f32[1, 256]"),
    .ok("mean.dim", "integer input with a float dtype",
        ["self": t(.int32, 2, 3), "dim": .intList([1]), "dtype": .dtype(.float32)], "f32[2]"),
    .ok("mean.dim", "float input with another float dtype",
        ["self": t(.float32, 2, 3), "dim": .intList([0]), "dtype": .dtype(.float16)], "f16[3]"),
    .fails("mean.dim", "integer input", ["self": t(.int32, 2, 3), "dim": .intList([1])],
           argument: "self", "mean needs a floating-point result dtype, got i32"),
    .fails("mean.dim", "integer dtype", ["self": t(.float32, 2, 3), "dim": .intList([1]), "dtype": .dtype(.int32)],
           argument: "dtype", "mean needs a floating-point result dtype, got i32"),
    .fails("mean.dim", "dim out of range", ["self": t(.float32, 2, 3, 4), "dim": .intList([3])],
           argument: "dim", "dim 3 is out of range for a tensor of rank 3 (expected -3...2)"),
    .fails("mean.dim", "negative dim out of range", ["self": t(.float32, 2, 3, 4), "dim": .intList([-4])],
           argument: "dim", "dim -4 is out of range"),
    .fails("mean.dim", "repeated dim", ["self": t(.float32, 2, 3, 4), "dim": .intList([1, -2])],
           argument: "dim", "dim -2 appears more than once in [1, -2]"),

    .ok("_softmax", "last dim", ["self": t(.float32, 2, 5), "dim": .int(-1), "half_to_float": .bool(false)],
        "f32[2, 5]"),
    .ok("_softmax", "symbolic", ["self": t(.float16, batch, 8, seq, seq), "dim": .int(3), "half_to_float": .bool(false)],
        "f16[batch, 8, seq, seq]"),
    .fails("_softmax", "integer input", ["self": t(.int32, 2, 5), "dim": .int(1), "half_to_float": .bool(false)],
           argument: "self", "expected a floating-point tensor, got i32"),
    .fails("_softmax", "dim out of range", ["self": t(.float32, 2, 5), "dim": .int(2), "half_to_float": .bool(false)],
           argument: "dim", "dim 2 is out of range for a tensor of rank 2 (expected -2...1)"),
    .fails("_softmax", "half_to_float", ["self": t(.float16, 2, 5), "dim": .int(1), "half_to_float": .bool(true)],
           argument: "half_to_float", "half_to_float=true is not supported"),

    .ok("softmax.int", "keeps the dtype", ["self": t(.bfloat16, 2, 5), "dim": .int(1)], "bf16[2, 5]"),
    .ok("softmax.int", "integer input computed in f32", ["self": t(.int64, 2, 5), "dim": .int(-1), "dtype": .dtype(.float32)],
        "f32[2, 5]"),
    .ok("softmax.int", "half input computed in f32", ["self": t(.float16, seq), "dim": .int(0), "dtype": .dtype(.float32)],
        "f32[seq]"),
    .fails("softmax.int", "integer input", ["self": t(.int64, 2, 5), "dim": .int(1)],
           argument: "self", "softmax needs a floating-point dtype, got i64"),
    .fails("softmax.int", "integer dtype", ["self": t(.float32, 2, 5), "dim": .int(1), "dtype": .dtype(.int64)],
           argument: "dtype", "softmax needs a floating-point dtype, got i64"),
    .fails("softmax.int", "dim out of range", ["self": t(.float32, 2, 5), "dim": .int(-3)],
           argument: "dim", "dim -3 is out of range"),
]

@Suite struct ReductionTypeTests {
    @Test(arguments: reductionCases)
    func inference(_ c: OpCase) {
        c.check()
    }
}
