import KilnOps
import KilnTensor
import Testing

/// Unary math, activations, comparisons, where, the cast and creation: dtype rules (float
/// promotion of integers, bool results, promoted comparisons), broadcasting of two and three
/// operands, and the creation ops' shapes and dtype inference.
let mathCases: [OpCase] = [
    // Unary math: abs keeps the dtype; the transcendental ops compute integers in f32.
    .ok("abs", "integer keeps its dtype", ["self": t(.int8, 4)], "i8[4]"),
    .ok("abs", "symbolic", ["self": t(.float16, seq, 3)], "f16[seq, 3]"),
    .fails("abs", "bool", ["self": t(.bool, 2)], argument: "self", "expected a numeric tensor, got bool"),
    .ok("exp", "int64 computes in f32", ["self": t(.int64, 2)], "f32[2]"),
    .ok("log", "bfloat16 stays", ["self": t(.bfloat16, 2)], "bf16[2]"),
    .ok("sqrt", "bool computes in f32", ["self": t(.bool, 3)], "f32[3]"),
    .ok("reciprocal", "float", ["self": t(.float32, 2, 3)], "f32[2, 3]"),
    .ok("erf", "0-d", ["self": t(.float32)], "f32[]"),
    .ok("tanh", "int8 computes in f32", ["self": t(.int8, seq)], "f32[seq]"),
    .ok("logical_not", "float gives bool", ["self": t(.float32, 2, 3)], "bool[2, 3]"),
    .ok("logical_not", "bool gives bool", ["self": t(.bool, seq)], "bool[seq]"),

    // Activations.
    .ok("gelu", "exact form", ["self": t(.float32, 1, seq, 64)], "f32[1, seq, 64]"),
    .ok("gelu", "tanh form", ["self": t(.float16, 4), "approximate": .string("tanh")], "f16[4]"),
    .fails("gelu", "unknown approximation", ["self": t(.float32, 4), "approximate": .string("erf")],
           argument: "approximate", "expected \"none\" or \"tanh\", got \"erf\""),
    .fails("gelu", "integer", ["self": t(.int32, 4)], argument: "self", "expected a floating-point tensor, got i32"),
    .ok("hardswish", "float", ["self": t(.float32, 2, 8)], "f32[2, 8]"),
    .fails("hardswish", "integer", ["self": t(.int64, 2)], argument: "self", "expected a floating-point tensor"),
    .ok("hardsigmoid", "half", ["self": t(.float16, seq)], "f16[seq]"),
    .ok("leaky_relu", "int slope", ["self": t(.float32, 4), "negative_slope": .int(2)], "f32[4]"),
    .fails("leaky_relu", "integer", ["self": t(.int32, 4)], argument: "self", "expected a floating-point tensor"),
    .ok("clamp", "float bounds", ["self": t(.float32, 4), "min": .float(-1), "max": .float(1)], "f32[4]"),
    .ok("clamp", "int tensor, int bound keeps", ["self": t(.int32, 4), "max": .int(3)], "i32[4]"),
    .ok("clamp", "int tensor, float bound -> f32", ["self": t(.int32, 4), "min": .float(0.5)], "f32[4]"),
    .ok("clamp", "half keeps with float bounds", ["self": t(.float16, seq), "min": .float(0.1)], "f16[seq]"),
    .fails("clamp", "no bound", ["self": t(.float32, 4)], argument: nil, "at least one of min and max"),
    .fails("clamp", "bool", ["self": t(.bool, 4), "min": .int(0)], argument: "self", "expected a numeric tensor"),
    .fails("clamp", "an int bound the dtype cannot hold", ["self": t(.int8, 4), "max": .int(300)],
           argument: "max", "300 does not fit i8"),
    .fails("clamp", "a bound float16 cannot hold", ["self": t(.float16, 4), "min": .float(-1e6)],
           argument: "min", "overflows f16"),
    .ok("clamp.Tensor", "three-way broadcast and promotion",
        ["self": t(.int32, 3, 1), "min": t(.int64, 1, 4), "max": t(.float32, 4)], "f32[3, 4]"),
    .ok("clamp.Tensor", "min only", ["self": t(.float16, seq, 4), "min": t(.float16, 4)], "f16[seq, 4]"),
    .fails("clamp.Tensor", "no bound", ["self": t(.float32, 4)], argument: nil, "at least one of min and max"),
    .fails("clamp.Tensor", "shapes", ["self": t(.float32, 4), "max": t(.float32, 3)], argument: nil, "do not broadcast"),
    .fails("clamp.Tensor", "bool", ["self": t(.bool, 4), "max": t(.bool, 4)], argument: "self", "expected a numeric"),
    .ok("hardtanh", "relu6", ["self": t(.float32, 2, 3), "min_val": .float(0), "max_val": .float(6)], "f32[2, 3]"),
    .ok("hardtanh", "integer with int bounds", ["self": t(.int64, 2)], "i64[2]"),
    .fails("hardtanh", "integer with a float bound", ["self": t(.int64, 2), "max_val": .float(6)],
           argument: "max_val", "a float bound needs a floating-point tensor, got i64"),
    .fails("hardtanh", "the default min on uint8", ["self": t(.uint8, 2)], argument: "min_val", "-1 does not fit u8"),
    .ok("hardtanh", "uint8 with non-negative bounds", ["self": t(.uint8, 2), "min_val": .int(0), "max_val": .int(6)],
        "u8[2]"),

    // Comparisons: bool results, broadcast.
    .ok("eq.Tensor", "broadcast", ["self": t(.float32, 8, 1, 6), "other": t(.int64, 7, 1)], "bool[8, 7, 6]"),
    .ok("ne.Tensor", "bools", ["self": t(.bool, 3), "other": t(.bool, 3)], "bool[3]"),
    .ok("lt.Tensor", "symbolic", ["self": t(.float16, seq, 1), "other": t(.float16, 1, 4)], "bool[seq, 4]"),
    .ok("gt.Tensor", "0-d", ["self": t(.int8), "other": t(.uint8, 2)], "bool[2]"),
    .ok("le.Tensor", "same", ["self": t(.int32, 2, 2), "other": t(.int32, 2, 2)], "bool[2, 2]"),
    .ok("ge.Tensor", "mixed", ["self": t(.float32, 2), "other": t(.int64, 1)], "bool[2]"),
    .fails("eq.Tensor", "shapes", ["self": t(.float32, 2, 3), "other": t(.float32, 4)], argument: nil, "do not broadcast"),
    .ok("eq.Scalar", "float scalar", ["self": t(.float32, 4), "other": .float(0.5)], "bool[4]"),
    .ok("ne.Scalar", "int scalar", ["self": t(.int64, seq), "other": .int(0)], "bool[seq]"),
    .ok("lt.Scalar", "bool tensor", ["self": t(.bool, 2), "other": .int(1)], "bool[2]"),
    .ok("gt.Scalar", "half", ["self": t(.float16, 2), "other": .float(0.1)], "bool[2]"),
    .ok("le.Scalar", "int tensor, float scalar", ["self": t(.int32, 2), "other": .float(1.5)], "bool[2]"),
    .ok("ge.Scalar", "0-d", ["self": t(.float32), "other": .int(2)], "bool[]"),

    // where: the three broadcast, values promoted.
    .ok("where.self", "mask broadcast over scores",
        ["condition": t(.bool, 1, 1, seq, seq), "self": t(.float32, batch, 8, seq, seq), "other": t(.float32)],
        "f32[batch, 8, seq, seq]"),
    .ok("where.self", "i64 with f32 -> f32", ["condition": t(.bool, 3), "self": t(.int64, 3), "other": t(.float32, 1)],
        "f32[3]"),
    .ok("where.self", "bool values", ["condition": t(.bool, 2), "self": t(.bool, 2), "other": t(.bool)], "bool[2]"),
    .fails("where.self", "uint8 condition", ["condition": t(.uint8, 3), "self": t(.float32, 3), "other": t(.float32, 3)],
           argument: "condition", "expected a bool condition, got u8"),
    .fails("where.self", "shapes", ["condition": t(.bool, 2), "self": t(.float32, 3), "other": t(.float32, 3)],
           argument: nil, "do not broadcast"),

    // _to_copy.
    .ok("_to_copy", "to half", ["self": t(.float32, seq, 4), "dtype": .dtype(.float16)], "f16[seq, 4]"),
    .ok("_to_copy", "to bool", ["self": t(.int64, 2), "dtype": .dtype(.bool)], "bool[2]"),
    .ok("_to_copy", "no dtype keeps", ["self": t(.bfloat16, 2)], "bf16[2]"),
    .ok("_to_copy", "contiguous format", ["self": t(.float32, 2), "dtype": .dtype(.int32), "memory_format": .int(0)],
        "i32[2]"),
    .fails("_to_copy", "preserve format", ["self": t(.float32, 2), "memory_format": .int(1)],
           argument: "memory_format", "expected none or 0"),
    .fails("_to_copy", "non-blocking", ["self": t(.float32, 2), "non_blocking": .bool(true)],
           argument: "non_blocking", "only blocking copies"),

    // Creation: no tensor inputs.
    .ok("full", "float value -> f32", ["size": .intList([2, 3]), "fill_value": .float(1.5)], "f32[2, 3]"),
    .ok("full", "int value -> i64", ["size": .intList([4]), "fill_value": .int(7)], "i64[4]"),
    .ok("full", "dtype given", ["size": .intList([]), "fill_value": .int(1), "dtype": .dtype(.bool)], "bool[]"),
    .fails("full", "negative size", ["size": .intList([2, -1]), "fill_value": .int(0)],
           argument: "size", "expected non-negative sizes, got [2, -1]"),
    .fails("full", "a value the dtype cannot hold", ["size": .intList([2]), "fill_value": .float(-2.5),
                                                    "dtype": .dtype(.uint8)],
           argument: "fill_value", "-2.5 does not fit u8"),
    .fails("full", "float16 overflow", ["size": .intList([2]), "fill_value": .int(70000), "dtype": .dtype(.float16)],
           argument: "fill_value", "70000.0 overflows f16"),
    .ok("full", "any value is a bool", ["size": .intList([2]), "fill_value": .int(2), "dtype": .dtype(.bool)],
        "bool[2]"),
    .ok("zeros", "defaults to f32", ["size": .intList([2, 3])], "f32[2, 3]"),
    .ok("ones", "dtype given", ["size": .intList([0]), "dtype": .dtype(.int8)], "i8[0]"),
    .fails("ones", "negative size", ["size": .intList([-3])], argument: "size", "non-negative"),
    .ok("arange.start_step", "ints -> i64", ["start": .int(0), "end": .int(10), "step": .int(3)], "i64[4]"),
    .ok("arange.start_step", "int64 counts exactly", ["start": .int(10), "end": .int(-2), "step": .int(-3)], "i64[4]"),
    .ok("arange.start_step", "a float -> f32", ["start": .int(0), "end": .float(1), "step": .float(0.25)], "f32[4]"),
    .ok("arange.start_step", "ceil of the span", ["start": .float(-1), "end": .float(1), "step": .float(0.1)], "f32[20]"),
    .ok("arange.start_step", "float bounds truncated for i64",
        ["start": .float(2.5), "end": .float(9.7), "step": .float(2.1), "dtype": .dtype(.int64)], "i64[4]"),
    .ok("arange.start_step", "empty", ["start": .int(5), "end": .int(5)], "i64[0]"),
    .ok("arange.start_step", "i32 counts in double", ["start": .int(1), "end": .int(10), "step": .int(2),
                                                      "dtype": .dtype(.int32)], "i32[5]"),
    .fails("arange.start_step", "zero step", ["start": .int(0), "end": .int(4), "step": .int(0)],
           argument: "step", "step must be nonzero"),
    .fails("arange.start_step", "wrong direction", ["start": .int(0), "end": .int(4), "step": .int(-1)],
           argument: "end", "is not reached from start"),
    .fails("arange.start_step", "infinite end", ["start": .int(0), "end": .float(.infinity)],
           argument: "end", "expected a finite value"),
    .fails("arange.start_step", "step truncates to zero", ["start": .int(0), "end": .int(4), "step": .float(0.5),
                                                           "dtype": .dtype(.int64)],
           argument: "step", "step must be nonzero"),
    .fails("arange.start_step", "bool", ["start": .int(0), "end": .int(2), "dtype": .dtype(.bool)],
           argument: "dtype", "expected a numeric dtype"),
    .ok("tril", "batched", ["self": t(.float32, 2, seq, seq), "diagonal": .int(-1)], "f32[2, seq, seq]"),
    .fails("tril", "1-D", ["self": t(.float32, 4)], argument: "self", "expected rank 2 or more"),
    .ok("triu", "bool", ["self": t(.bool, 3, 5)], "bool[3, 5]"),
    .fails("triu", "0-D", ["self": t(.float32)], argument: "self", "expected rank 2 or more"),
]

@Suite struct MathTypeTests {
    @Test(arguments: mathCases)
    func inference(_ c: OpCase) {
        c.check()
    }

    /// ATen's out variants of full, arange and _to_copy have no dtype: the out tensor carries it.
    @Test func outVariantsLeaveTheDTypeToTheOutTensor() throws {
        #expect(try schema("full").kernelCallParameters.map(\.name) == ["size", "fill_value"])
        #expect(try schema("arange.start_step").kernelCallParameters.map(\.name) == ["start", "end", "step"])
        #expect(try schema("_to_copy").kernelCallParameters.map(\.name) == ["self", "non_blocking", "memory_format"])
        #expect(try schema("gelu").kernelCallParameters.map(\.name) == ["self", "approximate"])
        #expect(try schema("full").parameters.map(\.form) == [.argument, .argument, .outDType])
    }

    @Test func pteOperators() throws {
        #expect(try schema("_to_copy").pte?.description == "aten::_to_copy.out")
        #expect(try schema("arange.start_step").pte?.description == "aten::arange.start_out")
        #expect(try schema("where.self").pte?.description == "aten::where.self_out")
        #expect(try schema("eq.Scalar").pte?.description == "aten::eq.Scalar_out")
        #expect(try schema("ge.Tensor").pte?.description == "aten::ge.Tensor_out")
        #expect(try schema("clamp.Tensor").pte?.description == "aten::clamp.Tensor_out")
        #expect(try schema("triu").pte == nil)
    }

    /// A string parameter takes only a string.
    @Test func stringArguments() throws {
        let gelu = try schema("gelu")
        #expect(gelu.signature == "gelu(Tensor self, str approximate) -> Tensor")
        let error = try #require(throws: OpError.self) { try gelu.inferTypes([t(.float32, 2), .int(0)]) }
        #expect(error.description == "gelu: argument 'approximate': expected str, got an int")
        #expect(Argument<TensorType>.string("tanh").matches(.string))
        #expect(!Argument<TensorType>.string("tanh").matches(.dtype))
        #expect(Argument<TensorType>.string("").kindDescription == "a string")
    }

    @Test func comparisonDTypes() {
        #expect(comparisonDType(.float16, scalarIsInteger: false) == .float16)
        #expect(comparisonDType(.int32, scalarIsInteger: false) == .float32)
        #expect(comparisonDType(.int8, scalarIsInteger: true) == .int8)
        #expect(comparisonDType(.bool, scalarIsInteger: true) == .int64)
    }
}
