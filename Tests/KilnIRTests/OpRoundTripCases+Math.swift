import KilnIR
import KilnOps
import KilnTensor
import Testing

extension OpCase {
    /// The math ops: unusual argument kinds (a string, optional scalars, a dtype the out tensor
    /// carries), bool results, three-way broadcasts, and ops with no tensor input.
    static let math: [OpCase] = [
        OpCase("unary math ops of several dtypes") { b in
            let x = try b.input("x", t(.float32, 2, 3))
            let i = try b.input("i", t(.int32, 4))
            var results: [ValueID] = []
            for op in ["abs", "exp", "log", "sqrt", "reciprocal", "erf", "tanh", "hardswish", "hardsigmoid"] {
                results += try b.call(op, [x])
            }
            results += try b.call("abs", [i])
            results += try b.call("exp", [i])
            results += try b.call("logical_not", [i])
            return results
        },
        OpCase("gelu in both forms") { b in
            let x = try b.input("x", t(.float16, 4))
            return try b.call("gelu", [x]) + b.call("gelu", [x], ["approximate": .string("tanh")], location: "mlp.act")
        },
        OpCase("leaky_relu, clamp with one bound, hardtanh as relu6") { b in
            let x = try b.input("x", t(.float32, 4))
            return try b.call("leaky_relu", [x], ["negative_slope": .float(0.2)])
                + b.call("clamp", [x], ["max": .int(6)])
                + b.call("clamp", [try b.input("i", t(.int64, 2))], ["min": .float(-0.5), "max": .float(0.5)])
                + b.call("hardtanh", [x], ["min_val": .float(0), "max_val": .float(6)])
        },
        OpCase("clamp.Tensor with an absent min") { b in
            let x = try b.input("x", t(.float32, 2, 3))
            return try b.call("clamp.Tensor", [x, nil, try b.input("hi", t(.float32, 3))])
        },
        OpCase("comparisons, Tensor and Scalar") { b in
            let x = try b.input("x", t(.float32, 2, 3))
            let y = try b.input("y", t(.int64, 3))
            var results: [ValueID] = []
            for op in ["eq", "ne", "lt", "gt", "le", "ge"] {
                results += try b.call("\(op).Tensor", [x, y])
                results += try b.call("\(op).Scalar", [x], ["other": op == "eq" ? .float(0.5) : .int(-2)])
            }
            return results
        },
        OpCase("where.self with a broadcast mask") { b in
            let mask = try b.input("mask", t(.bool, 1, 4))
            let scores = try b.input("scores", t(.float32, 3, 4))
            let fill = try b.constant("fill", try Tensor([Float(-1e9)], shape: []))
            return try b.call("where.self", [mask, scores, fill])
        },
        OpCase("_to_copy with and without dtype") { b in
            let x = try b.input("x", t(.float32, 2))
            return try b.call("_to_copy", [x], ["dtype": .dtype(.bfloat16)])
                + b.call("_to_copy", [x], ["dtype": .dtype(.bool), "memory_format": .int(0)])
                + b.call("_to_copy", [x])
        },
        OpCase("creation ops with no tensor input") { b in
            try b.call("full", [], ["size": .intList([2, 3]), "fill_value": .float(-0.5)])
                + b.call("full", [], ["size": .intList([]), "fill_value": .int(1), "dtype": .dtype(.uint8)])
                + b.call("zeros", [], ["size": .intList([4])])
                + b.call("ones", [], ["size": .intList([2, 2]), "dtype": .dtype(.int32)])
                + b.call("arange.start_step", [], ["start": .int(0), "end": .float(2), "step": .float(0.5)])
                + b.call("arange.start_step", [], ["start": .int(10), "end": .int(0), "step": .int(-3),
                                                   "dtype": .dtype(.int16)])
        },
        OpCase("tril and triu") { b in
            let x = try b.input("x", t(.float32, 2, 4, 4))
            return try b.call("tril", [x]) + b.call("triu", [x], ["diagonal": .int(-1)])
        },
    ]
}

/// The text the math ops print: strings quoted, defaults left out, no positional arguments for
/// creation ops.
@Suite struct MathRoundTripTests {
    @Test func stringsAndCreationOpsPrintAsExpected() throws {
        let gelu = KIRPrinter.print(try OpCase.graph("gelu in both forms"))
        #expect(gelu.contains("= gelu(%x) : f16[4] #0\n"))
        #expect(gelu.contains("= gelu(%x, approximate=\"tanh\") : f16[4] #1 loc(\"mlp.act\")"))
        let creation = try expectRoundTrip(try OpCase.graph("creation ops with no tensor input"))
        #expect(creation.contains("= full(size=[2, 3], fill_value=-0.5) : f32[2, 3] #0"))
        #expect(creation.contains("= full(size=[], fill_value=1, dtype=u8) : u8[] #1"))
        #expect(creation.contains("= arange.start_step(start=0, end=2.0, step=0.5) : f32[4] #4"))
        #expect(creation.contains("= arange.start_step(start=10, end=0, step=-3, dtype=i16) : i16[4] #5"))
    }

    @Test func aStringArgumentParsesOnlyAsAString() throws {
        let text = "graph @f(%x: f32[2]) {\n  %y = gelu(%x, approximate=tanh)\n  return %y\n}\n"
        expectParseError(text, .argumentKind, line: 2, column: 17,
                         "argument 'approximate' of gelu expects str, got 'tanh'")
        let quoted = try parse(text.replacingOccurrences(of: "=tanh", with: "=\"tanh\""))
        #expect(quoted.nodes[0].arguments[1] == .string("tanh"))
        let wrong = "graph @f(%x: f32[2]) {\n  %y = gelu(%x, approximate=\"erf\")\n  return %y\n}\n"
        expectParseError(wrong, .opRule, line: 2, column: 8, "expected \"none\" or \"tanh\", got \"erf\"")
    }
}
