import KilnOps
import KilnTensor
import Testing

/// linear, addmm, mm, bmm, matmul: the shapes they infer and one case per error their rules throw.
let linearAlgebraCases: [OpCase] = [
    // linear: [..., in] x [out, in]^T (+ [out]) -> [..., out]
    .ok("linear", "2-D input", ["input": t(.float32, 2, 3), "weight": t(.float32, 4, 3)], "f32[2, 4]"),
    .ok("linear", "1-D input", ["input": t(.float32, 3), "weight": t(.float32, 4, 3)], "f32[4]"),
    .ok("linear", "bias", ["input": t(.bfloat16, 2, 3), "weight": t(.bfloat16, 4, 3), "bias": t(.bfloat16, 4)],
        "bf16[2, 4]"),
    .ok("linear", "symbolic sequence", ["input": t(.float32, 1, seq, 256), "weight": t(.float32, 64, 256),
                                        "bias": t(.float32, 64)], "f32[1, seq, 64]"),
    .fails("linear", "integer input", ["input": t(.int32, 2, 3), "weight": t(.int32, 4, 3)],
           argument: "input", "expected a floating-point tensor, got i32"),
    .fails("linear", "rank-0 input", ["input": t(.float32), "weight": t(.float32, 4, 3)],
           argument: "input", "expected rank 1 or more, got f32[]"),
    .fails("linear", "rank-3 weight", ["input": t(.float32, 2, 3), "weight": t(.float32, 1, 4, 3)],
           argument: "weight", "expected rank 2, got f32[1, 4, 3]"),
    .fails("linear", "weight dtype", ["input": t(.float32, 2, 3), "weight": t(.float16, 4, 3)],
           argument: "weight", "dtype f16 does not match f32"),
    .fails("linear", "in_features", ["input": t(.float32, 2, 3), "weight": t(.float32, 4, 5)],
           argument: "weight", "in_features (weight dim 1) is 5, expected 3"),
    .fails("linear", "symbolic in_features", ["input": t(.float32, 2, seq), "weight": t(.float32, 4, 128)],
           argument: "weight", "is 128, expected seq"),
    .fails("linear", "bias dtype", ["input": t(.float32, 2, 3), "weight": t(.float32, 4, 3), "bias": t(.float16, 4)],
           argument: "bias", "dtype f16 does not match f32"),
    .fails("linear", "bias shape", ["input": t(.float32, 2, 3), "weight": t(.float32, 4, 3), "bias": t(.float32, 3)],
           argument: "bias", "expected shape [4], got f32[3]"),

    // addmm: beta * self + alpha * (mat1 @ mat2), self broadcast to the product
    .ok("addmm", "bias row", ["self": t(.float32, 4), "mat1": t(.float32, 2, 3), "mat2": t(.float32, 3, 4)],
        "f32[2, 4]"),
    .ok("addmm", "full self, float beta and alpha",
        ["self": t(.float32, 2, 4), "mat1": t(.float32, 2, 3), "mat2": t(.float32, 3, 4),
         "beta": .float(0.5), "alpha": .float(2)], "f32[2, 4]"),
    .ok("addmm", "symbolic rows", ["self": t(.float32, 1, 4), "mat1": t(.float32, seq, 3), "mat2": t(.float32, 3, 4)],
        "f32[seq, 4]"),
    .fails("addmm", "rank-3 mat1", ["self": t(.float32, 4), "mat1": t(.float32, 1, 2, 3), "mat2": t(.float32, 3, 4)],
           argument: "mat1", "expected rank 2"),
    .fails("addmm", "rank-1 mat2", ["self": t(.float32, 4), "mat1": t(.float32, 2, 3), "mat2": t(.float32, 3)],
           argument: "mat2", "expected rank 2, got f32[3]"),
    .fails("addmm", "mat2 dtype", ["self": t(.float32, 4), "mat1": t(.float32, 2, 3), "mat2": t(.float16, 3, 4)],
           argument: "mat2", "dtype f16 does not match f32"),
    .fails("addmm", "inner dims", ["self": t(.float32, 4), "mat1": t(.float32, 2, 3), "mat2": t(.float32, 5, 4)],
           argument: "mat2", "rows (dim 0) is 5, expected 3"),
    .fails("addmm", "self dtype", ["self": t(.float16, 4), "mat1": t(.float32, 2, 3), "mat2": t(.float32, 3, 4)],
           argument: "self", "dtype f16 does not match f32"),
    .fails("addmm", "self does not broadcast",
           ["self": t(.float32, 3), "mat1": t(.float32, 2, 3), "mat2": t(.float32, 3, 4)],
           argument: nil, "[3]", "[2, 4]", "do not broadcast"),
    .fails("addmm", "self broadcasts past the product",
           ["self": t(.float32, 5, 2, 4), "mat1": t(.float32, 2, 3), "mat2": t(.float32, 3, 4)],
           argument: "self", "does not broadcast to the product's shape [2, 4]"),

    // mm: [n, k] @ [k, m]
    .ok("mm", "static", ["self": t(.float32, 2, 3), "mat2": t(.float32, 3, 4)], "f32[2, 4]"),
    .ok("mm", "symbolic", ["self": t(.float16, seq, 3), "mat2": t(.float16, 3, len)], "f16[seq, len]"),
    .fails("mm", "rank-1 self", ["self": t(.float32, 3), "mat2": t(.float32, 3, 4)],
           argument: "self", "expected rank 2, got f32[3]"),
    .fails("mm", "rank-3 mat2", ["self": t(.float32, 2, 3), "mat2": t(.float32, 1, 3, 4)],
           argument: "mat2", "expected rank 2"),
    .fails("mm", "dtype", ["self": t(.float32, 2, 3), "mat2": t(.int32, 3, 4)],
           argument: "mat2", "dtype i32 does not match f32"),
    .fails("mm", "inner dims", ["self": t(.float32, 2, 3), "mat2": t(.float32, 4, 4)],
           argument: "mat2", "rows (dim 0) is 4, expected 3"),

    // bmm: [b, n, k] @ [b, k, m]
    .ok("bmm", "static", ["self": t(.float32, 5, 2, 3), "mat2": t(.float32, 5, 3, 4)], "f32[5, 2, 4]"),
    .ok("bmm", "symbolic batch", ["self": t(.float32, batch, seq, 64), "mat2": t(.float32, batch, 64, seq)],
        "f32[batch, seq, seq]"),
    .fails("bmm", "rank-2 self", ["self": t(.float32, 2, 3), "mat2": t(.float32, 5, 3, 4)],
           argument: "self", "expected rank 3"),
    .fails("bmm", "rank-2 mat2", ["self": t(.float32, 5, 2, 3), "mat2": t(.float32, 3, 4)],
           argument: "mat2", "expected rank 3"),
    .fails("bmm", "dtype", ["self": t(.float32, 5, 2, 3), "mat2": t(.bfloat16, 5, 3, 4)],
           argument: "mat2", "dtype bf16 does not match f32"),
    .fails("bmm", "batch", ["self": t(.float32, 5, 2, 3), "mat2": t(.float32, 6, 3, 4)],
           argument: "mat2", "batch (dim 0) is 6, expected 5"),
    .fails("bmm", "inner dims", ["self": t(.float32, 5, 2, 3), "mat2": t(.float32, 5, 2, 4)],
           argument: "mat2", "rows (dim 1) is 2, expected 3"),

    // matmul: NumPy rules, 1-D operands promoted and the added dim removed
    .ok("matmul", "vector . vector", ["self": t(.float32, 3), "other": t(.float32, 3)], "f32[]"),
    .ok("matmul", "matrix @ vector", ["self": t(.float32, 2, 3), "other": t(.float32, 3)], "f32[2]"),
    .ok("matmul", "vector @ matrix", ["self": t(.float32, 3), "other": t(.float32, 3, 4)], "f32[4]"),
    .ok("matmul", "vector @ batched matrix", ["self": t(.float32, 3), "other": t(.float32, 5, 3, 4)], "f32[5, 4]"),
    .ok("matmul", "broadcast batch", ["self": t(.float32, 8, 1, 2, 3), "other": t(.float32, 7, 3, 4)],
        "f32[8, 7, 2, 4]"),
    .ok("matmul", "symbolic attention scores",
        ["self": t(.float32, batch, 8, seq, 64), "other": t(.float32, batch, 8, 64, seq)], "f32[batch, 8, seq, seq]"),
    .fails("matmul", "rank-0 self", ["self": t(.float32), "other": t(.float32, 3)],
           argument: "self", "expected rank 1 or more"),
    .fails("matmul", "rank-0 other", ["self": t(.float32, 3), "other": t(.float32)],
           argument: "other", "expected rank 1 or more"),
    .fails("matmul", "dtype", ["self": t(.float32, 3), "other": t(.float16, 3)],
           argument: "other", "dtype f16 does not match f32"),
    .fails("matmul", "contracted dim", ["self": t(.float32, 2, 3), "other": t(.float32, 4, 5)],
           argument: "other", "contracted dim 0 is 4, expected 3"),
    .fails("matmul", "batch does not broadcast", ["self": t(.float32, 2, 2, 3), "other": t(.float32, 3, 3, 4)],
           argument: nil, "[2]", "[3]", "do not broadcast"),
]

@Suite struct LinearAlgebraTypeTests {
    @Test(arguments: linearAlgebraCases)
    func inference(_ c: OpCase) {
        c.check()
    }

    @Test func linearKeepsTheSymbolicDimStructurally() throws {
        let result = try infer("linear", ["input": t(.float32, 1, seq, 256), "weight": t(.float32, 64, 256)])
        #expect(result == [TensorType(.float32, [1, seq, 64])])
        #expect(result[0].upperBoundShape == [1, 128, 64])
    }
}
