import KilnOps
import KilnTensor
import Testing

/// Activations and arithmetic: dtype rules (numeric, float-only, computed in float), broadcasting,
/// type promotion between tensors and with scalars, and the alpha check.
let elementwiseCases: [OpCase] = [
    // Unary ops: numeric keep the dtype, float-only reject integers, to-float compute ints in f32.
    .ok("relu", "float", ["self": t(.float32, 2, 3)], "f32[2, 3]"),
    .ok("relu", "integer keeps its dtype", ["self": t(.int32, seq)], "i32[seq]"),
    .fails("relu", "bool", ["self": t(.bool, 2)], argument: "self", "expected a numeric tensor, got bool"),
    .ok("silu", "half", ["self": t(.float16, 1, seq, 256)], "f16[1, seq, 256]"),
    .fails("silu", "integer", ["self": t(.int32, 4)], argument: "self", "expected a floating-point tensor, got i32"),
    .ok("sigmoid", "integer computes in f32", ["self": t(.int32, 4)], "f32[4]"),
    .ok("sigmoid", "bfloat16 stays", ["self": t(.bfloat16, 4)], "bf16[4]"),
    .ok("neg", "int8", ["self": t(.int8, 4)], "i8[4]"),
    .fails("neg", "bool", ["self": t(.bool, 4)], argument: "self", "expected a numeric tensor, got bool"),
    .ok("rsqrt", "int64 computes in f32", ["self": t(.int64, 4)], "f32[4]"),
    .ok("rsqrt", "bool computes in f32", ["self": t(.bool)], "f32[]"),

    // Tensor-tensor: broadcast, then promote.
    .ok("add.Tensor", "broadcast", ["self": t(.float32, 8, 1, 6), "other": t(.float32, 7, 1)], "f32[8, 7, 6]"),
    .ok("add.Tensor", "scalar tensor broadcasts", ["self": t(.float32), "other": t(.float32, 3)], "f32[3]"),
    .ok("add.Tensor", "i32 + f32 -> f32", ["self": t(.int32, 2), "other": t(.float32, 2)], "f32[2]"),
    .ok("add.Tensor", "u8 + i8 -> i16", ["self": t(.uint8, 2), "other": t(.int8, 2)], "i16[2]"),
    .ok("add.Tensor", "f16 + bf16 -> f32", ["self": t(.float16, 2), "other": t(.bfloat16, 2)], "f32[2]"),
    .ok("add.Tensor", "bool + i32 -> i32", ["self": t(.bool, 2), "other": t(.int32, 2)], "i32[2]"),
    .ok("add.Tensor", "symbolic broadcast", ["self": t(.float32, seq, 1), "other": t(.float32, 1, 4)], "f32[seq, 4]"),
    .ok("add.Tensor", "same symbolic dim", ["self": t(.float32, seq, 4), "other": t(.float32, seq, 1)], "f32[seq, 4]"),
    .ok("add.Tensor", "float alpha in a float computation",
        ["self": t(.int32, 2), "other": t(.float32, 2), "alpha": .float(0.5)], "f32[2]"),
    .ok("add.Tensor", "int alpha in an int computation",
        ["self": t(.int32, 2), "other": t(.int32, 2), "alpha": .int(3)], "i32[2]"),
    .fails("add.Tensor", "shapes that do not broadcast", ["self": t(.float32, 8, 1, 6), "other": t(.float32, 7, 2)],
           argument: nil, "shapes [8, 1, 6] and [7, 2] do not broadcast", "dim -1 is 6 vs 2"),
    .fails("add.Tensor", "symbolic dim against a constant", ["self": t(.float32, seq), "other": t(.float32, 4)],
           argument: nil, "[seq] and [4] do not broadcast"),
    .fails("add.Tensor", "different symbols", ["self": t(.float32, seq), "other": t(.float32, len)],
           argument: nil, "dim -1 is seq vs len"),
    .fails("add.Tensor", "float alpha in an int computation",
           ["self": t(.int32, 2), "other": t(.int32, 2), "alpha": .float(0.5)],
           argument: "alpha", "a float alpha needs a floating-point computation, this one is i32"),
    .fails("add.Tensor", "bool + bool", ["self": t(.bool, 2), "other": t(.bool, 2)],
           argument: "self", "expected a numeric tensor, got bool"),

    // Tensor-scalar: an int tensor with a float scalar computes in f32; bool with an int in i64.
    .ok("add.Scalar", "int tensor, float scalar -> f32", ["self": t(.int32, 2), "other": .float(0.5)], "f32[2]"),
    .ok("add.Scalar", "int tensor, int scalar keeps", ["self": t(.int32, 2), "other": .int(2)], "i32[2]"),
    .ok("add.Scalar", "bool tensor, int scalar -> i64", ["self": t(.bool, 2), "other": .int(2)], "i64[2]"),
    .ok("add.Scalar", "bool tensor, float scalar -> f32", ["self": t(.bool, 2), "other": .float(2)], "f32[2]"),
    .ok("add.Scalar", "half tensor, float scalar keeps", ["self": t(.float16, seq), "other": .float(0.5)], "f16[seq]"),
    .fails("add.Scalar", "float alpha in an int computation",
           ["self": t(.int64, 2), "other": .int(1), "alpha": .float(2)],
           argument: "alpha", "a float alpha needs a floating-point computation, this one is i64"),

    .ok("sub.Tensor", "i64 - i32 -> i64", ["self": t(.int64, 2, 1), "other": t(.int32, 3)], "i64[2, 3]"),
    .fails("sub.Tensor", "float alpha in an int computation",
           ["self": t(.int8, 2), "other": t(.uint8, 2), "alpha": .float(1.5)],
           argument: "alpha", "this one is i16"),
    .fails("sub.Tensor", "bool - bool", ["self": t(.bool, 2), "other": t(.bool, 2)],
           argument: "self", "expected a numeric tensor, got bool"),
    .ok("sub.Scalar", "u8 - int keeps", ["self": t(.uint8, 2), "other": .int(1)], "u8[2]"),
    .ok("sub.Scalar", "float alpha with a float scalar", ["self": t(.int32, 2), "other": .float(1), "alpha": .float(2)],
        "f32[2]"),
    .fails("sub.Scalar", "float alpha in an int computation",
           ["self": t(.int32, 2), "other": .int(1), "alpha": .float(2)], argument: "alpha", "this one is i32"),

    .ok("mul.Tensor", "u8 * i16 -> i16", ["self": t(.uint8, 4), "other": t(.int16, 4)], "i16[4]"),
    .ok("mul.Tensor", "u8 * i32 -> i32", ["self": t(.uint8, 4), "other": t(.int32, 4)], "i32[4]"),
    .fails("mul.Tensor", "bool * bool", ["self": t(.bool, 4), "other": t(.bool, 4)],
           argument: "self", "expected a numeric tensor, got bool"),
    .fails("mul.Tensor", "shapes", ["self": t(.float32, 2, 3), "other": t(.float32, 4)],
           argument: nil, "[2, 3] and [4] do not broadcast"),
    .ok("mul.Scalar", "bool * int -> i64", ["self": t(.bool, 4), "other": .int(3)], "i64[4]"),
    .ok("mul.Scalar", "i8 * float -> f32", ["self": t(.int8, 4), "other": .float(0.25)], "f32[4]"),

    // True division computes integers in f32.
    .ok("div.Tensor", "int / int -> f32", ["self": t(.int32, 4), "other": t(.int32, 4)], "f32[4]"),
    .ok("div.Tensor", "bool / bool -> f32", ["self": t(.bool, 4), "other": t(.bool, 1)], "f32[4]"),
    .ok("div.Tensor", "f16 / f32 -> f32", ["self": t(.float16, 4), "other": t(.float32, 4)], "f32[4]"),
    .ok("div.Tensor", "bf16 / bf16 stays", ["self": t(.bfloat16, seq, 4), "other": t(.bfloat16, 4)], "bf16[seq, 4]"),
    .fails("div.Tensor", "shapes", ["self": t(.float32, 3), "other": t(.float32, 2)],
           argument: nil, "[3] and [2] do not broadcast"),
    .ok("div.Scalar", "int / int -> f32", ["self": t(.int64, 4), "other": .int(2)], "f32[4]"),
    .ok("div.Scalar", "half / float stays", ["self": t(.float16, 4), "other": .float(2)], "f16[4]"),

    .ok("pow.Tensor_Tensor", "f32 ** i32 -> f32", ["self": t(.float32, 4), "exponent": t(.int32, 4)], "f32[4]"),
    .ok("pow.Tensor_Tensor", "i32 ** i32 stays", ["self": t(.int32, 4), "exponent": t(.int32, 1)], "i32[4]"),
    .fails("pow.Tensor_Tensor", "bool ** bool", ["self": t(.bool, 4), "exponent": t(.bool, 4)],
           argument: "self", "expected a numeric tensor, got bool"),
    .fails("pow.Tensor_Tensor", "shapes", ["self": t(.float32, 4), "exponent": t(.float32, 5)],
           argument: nil, "do not broadcast"),
    .ok("pow.Tensor_Scalar", "int ** float -> f32", ["self": t(.int32, 4), "exponent": .float(0.5)], "f32[4]"),
    .ok("pow.Tensor_Scalar", "int ** int stays", ["self": t(.int32, 4), "exponent": .int(2)], "i32[4]"),
    .ok("pow.Tensor_Scalar", "bool ** int -> i64", ["self": t(.bool, 4), "exponent": .int(2)], "i64[4]"),
]

@Suite struct ElementwiseTypeTests {
    @Test(arguments: elementwiseCases)
    func inference(_ c: OpCase) {
        c.check()
    }

    /// Every binary op takes `self` and a second operand; the ones with alpha default it to 1.
    @Test func alphaDefaultsToOne() throws {
        for name in ["add.Tensor", "add.Scalar", "sub.Tensor", "sub.Scalar"] {
            let op = try schema(name)
            let alpha = try #require(op.parameterIndex("alpha"))
            #expect(op.parameters[alpha].defaultValue == .int(1), "\(name)")
        }
        for name in ["mul.Tensor", "mul.Scalar", "div.Tensor", "div.Scalar", "pow.Tensor_Tensor", "pow.Tensor_Scalar"] {
            #expect(try schema(name).parameterIndex("alpha") == nil, "\(name)")
        }
    }
}
