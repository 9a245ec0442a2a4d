import KilnOps
import KilnTensor
import Testing

/// A convolution call: NCHW input, OIHW weight, and any of the optional arguments by name.
private func conv(_ input: Argument<TensorType>, _ weight: Argument<TensorType>,
                  _ options: [String: Argument<TensorType>] = [:]) -> [String: Argument<TensorType>] {
    options.merging(["input": input, "weight": weight]) { _, new in new }
}

/// convolution and adaptive average pooling: output sizes for stride, padding, dilation, groups,
/// transposition and symbolic spatial dims, and one case per error the rules throw.
let spatialCases: [OpCase] = [
    // floor((in + 2 * pad - dilation * (k - 1) - 1) / stride) + 1
    .ok("convolution", "3x3, defaults", conv(t(.float32, 1, 3, 32, 32), t(.float32, 16, 3, 3, 3)),
        "f32[1, 16, 30, 30]"),
    .ok("convolution", "stride 2, padding 1, bias",
        conv(t(.float32, 1, 3, 32, 32), t(.float32, 16, 3, 3, 3),
             ["bias": t(.float32, 16), "stride": .intList([2, 2]), "padding": .intList([1, 1])]),
        "f32[1, 16, 16, 16]"),
    .ok("convolution", "per-axis stride and padding",
        conv(t(.float32, 1, 3, 8, 9), t(.float32, 4, 3, 3, 3), ["stride": .intList([1, 2]), "padding": .intList([0, 1])]),
        "f32[1, 4, 6, 5]"),
    .ok("convolution", "dilation 2", conv(t(.float32, 1, 3, 32, 32), t(.float32, 8, 3, 3, 3), ["dilation": .intList([2])]),
        "f32[1, 8, 28, 28]"),
    .ok("convolution", "depthwise",
        conv(t(.float16, 1, 32, 16, 16), t(.float16, 32, 1, 3, 3), ["padding": .intList([1]), "groups": .int(32)]),
        "f16[1, 32, 16, 16]"),
    .ok("convolution", "grouped", conv(t(.float32, 2, 8, 10, 10), t(.float32, 16, 2, 3, 3), ["groups": .int(4)]),
        "f32[2, 16, 8, 8]"),
    .ok("convolution", "symbolic height, stride 2",
        conv(t(.float32, batch, 3, height, 64), t(.float32, 8, 3, 3, 3), ["stride": .intList([2]), "padding": .intList([1])]),
        "f32[batch, 8, floordiv(h - 1, 2) + 1, 32]"),
    .ok("convolution", "symbolic 1x1 keeps the size", conv(t(.float32, 1, 3, height, height), t(.float32, 4, 3, 1, 1)),
        "f32[1, 4, h, h]"),
    // (in - 1) * stride - 2 * pad + dilation * (k - 1) + output_padding + 1; weight [in, out / groups, kh, kw]
    .ok("convolution", "transposed, stride 2",
        conv(t(.float32, 1, 16, 8, 8), t(.float32, 16, 8, 4, 4),
             ["stride": .intList([2]), "padding": .intList([1]), "transposed": .bool(true)]),
        "f32[1, 8, 16, 16]"),
    .ok("convolution", "transposed, output_padding",
        conv(t(.float32, 1, 16, 8, 8), t(.float32, 16, 8, 3, 3),
             ["stride": .intList([2]), "padding": .intList([1]), "transposed": .bool(true),
              "output_padding": .intList([1, 0]), "bias": t(.float32, 8)]),
        "f32[1, 8, 16, 15]"),
    .ok("convolution", "transposed, grouped",
        conv(t(.float32, 1, 16, 5, 5), t(.float32, 16, 4, 3, 3), ["transposed": .bool(true), "groups": .int(2)]),
        "f32[1, 8, 7, 7]"),
    .ok("convolution", "transposed, symbolic height",
        conv(t(.float32, 1, 16, height, 8), t(.float32, 16, 8, 4, 4),
             ["stride": .intList([2]), "padding": .intList([1]), "transposed": .bool(true)]),
        "f32[1, 8, 2*h, 16]"),

    .fails("convolution", "integer input", conv(t(.int32, 1, 3, 8, 8), t(.int32, 4, 3, 3, 3)),
           argument: "input", "expected a floating-point tensor, got i32"),
    .fails("convolution", "weight dtype", conv(t(.float32, 1, 3, 8, 8), t(.float16, 4, 3, 3, 3)),
           argument: "weight", "dtype f16 does not match f32"),
    .fails("convolution", "rank-3 input", conv(t(.float32, 3, 8, 8), t(.float32, 4, 3, 3, 3)),
           argument: "input", "expected rank 4, got f32[3, 8, 8]"),
    .fails("convolution", "rank-3 weight", conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3)),
           argument: "weight", "expected rank 4"),
    .fails("convolution", "three strides",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["stride": .intList([1, 2, 3])]),
           argument: "stride", "expected 2 values, got [1, 2, 3]"),
    .fails("convolution", "no strides", conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["stride": .intList([])]),
           argument: "stride", "expected 2 values, got []"),
    .fails("convolution", "zero stride",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["stride": .intList([0, 1])]),
           argument: "stride", "expected positive values, got [0, 1]"),
    .fails("convolution", "negative padding",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["padding": .intList([-1])]),
           argument: "padding", "expected non-negative values, got [-1, -1]"),
    .fails("convolution", "zero dilation",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["dilation": .intList([1, 0])]),
           argument: "dilation", "expected positive values"),
    .fails("convolution", "three output paddings",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["output_padding": .intList([0, 0, 0])]),
           argument: "output_padding", "expected 2 values"),
    .fails("convolution", "zero groups", conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["groups": .int(0)]),
           argument: "groups", "expected a positive group count, got 0"),
    .fails("convolution", "groups overflow the channel count",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 2, 3, 3), ["groups": .int(Int.max)]),
           argument: "groups", "overflows"),
    .fails("convolution", "symbolic weight", conv(t(.float32, 1, 3, 8, 8), t(.float32, seq, 3, 3, 3)),
           argument: "weight", "weight dims must be static, got f32[seq, 3, 3, 3]"),
    .fails("convolution", "empty kernel", conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 0, 3)),
           argument: "weight", "expected a non-empty kernel, got f32[4, 3, 0, 3]"),
    .fails("convolution", "channels", conv(t(.float32, 1, 4, 8, 8), t(.float32, 16, 3, 3, 3)),
           argument: "input", "input has 4 channels, weight f32[16, 3, 3, 3] with groups=1 expects 3"),
    .fails("convolution", "grouped channels",
           conv(t(.float32, 1, 4, 8, 8), t(.float32, 16, 4, 3, 3), ["groups": .int(2)]),
           argument: "input", "input has 4 channels", "with groups=2 expects 8"),
    .fails("convolution", "symbolic channels", conv(t(.float32, 1, seq, 8, 8), t(.float32, 16, 3, 3, 3)),
           argument: "input", "input has seq channels"),
    .fails("convolution", "output channels not divisible by groups",
           conv(t(.float32, 1, 4, 8, 8), t(.float32, 5, 2, 3, 3), ["groups": .int(2)]),
           argument: "groups", "output channels 5 are not divisible by groups=2"),
    .fails("convolution", "transposed input channels not divisible by groups",
           conv(t(.float32, 1, 5, 8, 8), t(.float32, 5, 2, 3, 3), ["groups": .int(2), "transposed": .bool(true)]),
           argument: "groups", "input channels 5 are not divisible by groups=2"),
    .fails("convolution", "output_padding without transposition",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["output_padding": .intList([1, 1])]),
           argument: "output_padding", "applies to transposed convolution only, got [1, 1]"),
    .fails("convolution", "output_padding not below stride or dilation",
           conv(t(.float32, 1, 16, 8, 8), t(.float32, 16, 8, 3, 3),
                ["transposed": .bool(true), "stride": .intList([2]), "output_padding": .intList([0, 2])]),
           argument: "output_padding", "output_padding [0, 2] must be smaller than stride or dilation"),
    .fails("convolution", "bias dtype",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["bias": t(.bfloat16, 4)]),
           argument: "bias", "dtype bf16 does not match f32"),
    .fails("convolution", "bias shape",
           conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["bias": t(.float32, 3)]),
           argument: "bias", "expected shape [4], got f32[3]"),
    .fails("convolution", "transposed bias is per output channel",
           conv(t(.float32, 1, 16, 8, 8), t(.float32, 16, 8, 3, 3), ["transposed": .bool(true), "bias": t(.float32, 16)]),
           argument: "bias", "expected shape [8], got f32[16]"),
    .fails("convolution", "kernel larger than the input", conv(t(.float32, 1, 3, 2, 8), t(.float32, 4, 3, 3, 3)),
           argument: nil, "output size 0 along spatial dim 0 is not positive", "input 2, kernel 3"),
    .fails("convolution", "symbolic input may be smaller than the kernel",
           conv(t(.float32, 1, 3, 8, height), t(.float32, 4, 3, 3, 3)),
           argument: nil, "output size h - 2 along spatial dim 1 is not positive"),
    .fails("convolution", "huge padding", conv(t(.float32, 1, 3, 8, 8), t(.float32, 4, 3, 3, 3), ["padding": .intList([Int.max])]),
           argument: nil, "dimension arithmetic overflows"),
    .fails("convolution", "huge transposed stride",
           conv(t(.float32, 1, 16, 8, 8), t(.float32, 16, 8, 3, 3), ["transposed": .bool(true), "stride": .intList([Int.max])]),
           argument: nil, "dimension arithmetic overflows"),

    // Adaptive pooling: the last two dims become output_size.
    .ok("_adaptive_avg_pool2d", "global pool", ["self": t(.float32, 1, 64, 7, 7), "output_size": .intList([1, 1])],
        "f32[1, 64, 1, 1]"),
    .ok("_adaptive_avg_pool2d", "rank 3, symbolic", ["self": t(.float16, 64, height, seq), "output_size": .intList([2, 3])],
        "f16[64, 2, 3]"),
    .fails("_adaptive_avg_pool2d", "integer input", ["self": t(.int8, 1, 64, 7, 7), "output_size": .intList([1, 1])],
           argument: "self", "expected a floating-point tensor, got i8"),
    .fails("_adaptive_avg_pool2d", "rank 2", ["self": t(.float32, 7, 7), "output_size": .intList([1, 1])],
           argument: "self", "expected rank 3 to 4, got f32[7, 7]"),
    .fails("_adaptive_avg_pool2d", "one size", ["self": t(.float32, 1, 64, 7, 7), "output_size": .intList([1])],
           argument: "output_size", "expected two positive sizes, got [1]"),
    .fails("_adaptive_avg_pool2d", "zero size", ["self": t(.float32, 1, 64, 7, 7), "output_size": .intList([0, 1])],
           argument: "output_size", "expected two positive sizes, got [0, 1]"),
    .ok("adaptive_avg_pool2d", "global pool", ["self": t(.float32, batch, 64, 7, 7), "output_size": .intList([1, 1])],
        "f32[batch, 64, 1, 1]"),
    .fails("adaptive_avg_pool2d", "rank 5", ["self": t(.float32, 1, 1, 64, 7, 7), "output_size": .intList([1, 1])],
           argument: "self", "expected rank 3 to 4"),
]

@Suite struct SpatialTypeTests {
    @Test(arguments: spatialCases)
    func inference(_ c: OpCase) {
        c.check()
    }

    /// The floordiv dim is bounded by interval arithmetic and evaluates per size.
    @Test func symbolicConvolutionOutputIsBounded() throws {
        let result = try infer("convolution", conv(t(.float32, 1, 3, height, 64), t(.float32, 8, 3, 3, 3),
                                                   ["stride": .intList([2]), "padding": .intList([1])]))
        let h = try #require(result.first?.shape[2])
        #expect(h.range == 1...112)
        #expect(h.symbols.map(\.name) == ["h"])
        for size in [1, 2, 3, 31, 32, 224] {
            #expect(h.evaluate(["h": size]) == (size + 2 - 2 - 1) / 2 + 1)
        }
    }
}
