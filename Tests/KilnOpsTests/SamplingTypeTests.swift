import KilnOps
import KilnTensor
import Testing

/// An image size that is always at least 4: pooling windows up to 4 wide fit it.
private let side = Dim(Symbol("s", range: 4...64))

/// A pooling call: `self` and the window arguments by name.
private func pool(_ input: Argument<TensorType>, _ kernel: [Int],
                  _ options: [String: Argument<TensorType>] = [:]) -> [String: Argument<TensorType>] {
    options.merging(["self": input, "kernel_size": .intList(kernel)]) { _, new in new }
}

/// Pooling, upsampling, padding and the convolution front ends: ATen's output sizes (ceil mode,
/// scale factors, negative pads), symbolic sizes where `Dim` says them exactly, and one case per
/// error the rules throw, each naming the argument at fault.
let samplingCases: [OpCase] = [
    // floor((in + 2·pad - dilation·(k - 1) - 1) / stride) + 1
    .ok("max_pool2d_with_indices", "ResNet stem pool", pool(t(.float32, 1, 64, 112, 112), [3, 3],
                                                          ["stride": .intList([2, 2]), "padding": .intList([1, 1])]),
        "f32[1, 64, 56, 56]", "i64[1, 64, 56, 56]"),
    .ok("max_pool2d_with_indices", "stride defaults to the kernel", pool(t(.float16, 2, 3, 9, 8), [2, 3]),
        "f16[2, 3, 4, 2]", "i64[2, 3, 4, 2]"),
    .ok("max_pool2d_with_indices", "ceil mode keeps a partial window", pool(t(.float32, 1, 2, 8, 8), [3, 3],
                                                                          ["stride": .intList([2]), "ceil_mode": .bool(true)]),
        "f32[1, 2, 4, 4]", "i64[1, 2, 4, 4]"),
    .ok("max_pool2d_with_indices", "ceil mode drops a window that starts past the input",
        pool(t(.float32, 1, 1, 3, 3), [2, 2], ["stride": .intList([3]), "ceil_mode": .bool(true)]),
        "f32[1, 1, 1, 1]", "i64[1, 1, 1, 1]"),
    .ok("max_pool2d_with_indices", "dilation", pool(t(.float32, 1, 1, 10, 9), [3, 3],
                                                  ["stride": .intList([1]), "padding": .intList([1]), "dilation": .intList([2, 3])]),
        "f32[1, 1, 8, 5]", "i64[1, 1, 8, 5]"),
    .ok("max_pool2d_with_indices", "rank 3, int8", pool(t(.int8, 3, 5, 5), [2, 2]), "i8[3, 2, 2]", "i64[3, 2, 2]"),
    .ok("max_pool2d_with_indices", "empty batch", pool(t(.float32, 0, 3, 4, 4), [2, 2]), "f32[0, 3, 2, 2]", "i64[0, 3, 2, 2]"),
    .ok("max_pool2d_with_indices", "symbolic size", pool(t(.float32, batch, 8, side, side), [3, 3],
                                                       ["stride": .intList([2]), "padding": .intList([1])]),
        "f32[batch, 8, floordiv(s - 1, 2) + 1, floordiv(s - 1, 2) + 1]",
        "i64[batch, 8, floordiv(s - 1, 2) + 1, floordiv(s - 1, 2) + 1]"),
    // stride + pad < dilation·(k - 1) + 2: the last window always starts in time.
    .ok("max_pool2d_with_indices", "symbolic size, ceil mode", pool(t(.float32, 1, 8, side, 6), [3, 3],
                                                                  ["stride": .intList([2]), "padding": .intList([1]),
                                                                   "ceil_mode": .bool(true)]),
        "f32[1, 8, floordiv(s, 2) + 1, 4]", "i64[1, 8, floordiv(s, 2) + 1, 4]"),
    .fails("max_pool2d_with_indices", "kernel larger than the padded input", pool(t(.float32, 1, 1, 1, 5), [4, 2],
                                                                                ["padding": .intList([1, 0])]),
           argument: "kernel_size", "output size 0 along spatial dim 0 is not positive", "larger than the input 1"),
    .fails("max_pool2d_with_indices", "symbolic input may be smaller than the kernel", pool(t(.float32, 1, 1, height, 8), [3, 3]),
           argument: "kernel_size", "along spatial dim 0 is not positive"),
    .fails("max_pool2d_with_indices", "padding above half the kernel", pool(t(.float32, 1, 1, 8, 8), [3, 3], ["padding": .intList([2])]),
           argument: "padding", "padding [2, 2] must be at most half of kernel_size [3, 3]"),
    .fails("max_pool2d_with_indices", "three kernel sizes", pool(t(.float32, 1, 1, 8, 8), [2, 2, 2]),
           argument: "kernel_size", "expected 2 values, got [2, 2, 2]"),
    .fails("max_pool2d_with_indices", "zero kernel", pool(t(.float32, 1, 1, 8, 8), [0, 2]),
           argument: "kernel_size", "expected positive values, got [0, 2]"),
    .fails("max_pool2d_with_indices", "zero stride", pool(t(.float32, 1, 1, 8, 8), [2, 2], ["stride": .intList([0])]),
           argument: "stride", "expected positive values"),
    .fails("max_pool2d_with_indices", "zero dilation", pool(t(.float32, 1, 1, 8, 8), [2, 2], ["dilation": .intList([1, 0])]),
           argument: "dilation", "expected positive values"),
    .fails("max_pool2d_with_indices", "negative padding", pool(t(.float32, 1, 1, 8, 8), [2, 2], ["padding": .intList([-1])]),
           argument: "padding", "expected non-negative values"),
    .fails("max_pool2d_with_indices", "bool input", pool(t(.bool, 1, 1, 8, 8), [2, 2]),
           argument: "self", "expected a numeric tensor, got bool"),
    .fails("max_pool2d_with_indices", "rank 2", pool(t(.float32, 8, 8), [2, 2]), argument: "self", "expected rank 3 to 4"),
    .fails("max_pool2d_with_indices", "no channels", pool(t(.float32, 1, 0, 8, 8), [2, 2]),
           argument: "self", "only the batch may be empty"),
    .fails("max_pool2d_with_indices", "symbolic size in ceil mode, window may start late",
           pool(t(.float32, 1, 1, side, 8), [2, 2], ["stride": .intList([3]), "ceil_mode": .bool(true)]),
           argument: "ceil_mode", "depends on the symbolic size s modulo stride 3"),
    .ok("max_pool2d", "values only", pool(t(.float32, 2, 3, 7, 9), [2, 2]), "f32[2, 3, 3, 4]"),
    .fails("max_pool2d", "kernel larger than the input", pool(t(.float32, 1, 1, 2, 2), [3, 3]),
           argument: "kernel_size", "is not positive"),

    .ok("avg_pool2d", "3x3 stride 2 pad 1, ceil mode", pool(t(.float32, 1, 4, 7, 8), [3, 3],
                                                          ["stride": .intList([2]), "padding": .intList([1]),
                                                           "ceil_mode": .bool(true), "count_include_pad": .bool(false)]),
        "f32[1, 4, 4, 5]"),
    .ok("avg_pool2d", "int64, divisor", pool(t(.int64, 2, 5, 5), [2, 2], ["divisor_override": .int(3)]), "i64[2, 2, 2]"),
    .ok("avg_pool2d", "symbolic size", pool(t(.bfloat16, 1, 4, side, 8), [2, 2]), "bf16[1, 4, floordiv(s - 2, 2) + 1, 4]"),
    .fails("avg_pool2d", "zero divisor", pool(t(.float32, 1, 1, 8, 8), [2, 2], ["divisor_override": .int(0)]),
           argument: "divisor_override", "expected a non-zero divisor, got 0"),
    .fails("avg_pool2d", "int32 input", pool(t(.int32, 1, 1, 8, 8), [2, 2]),
           argument: "self", "expected a floating-point or i64 tensor, got i32"),
    .fails("avg_pool2d", "kernel larger than the padded input", pool(t(.float32, 1, 1, 8, 2), [3, 5], ["padding": .intList([0, 1])]),
           argument: "kernel_size", "output size 0 along spatial dim 1 is not positive"),

    // Upsampling: output_size as given, or floor(in · scale).
    .ok("upsample_nearest2d.vec", "output_size", ["input": t(.float32, 1, 3, 5, 7), "output_size": .intList([10, 3])],
        "f32[1, 3, 10, 3]"),
    .ok("upsample_nearest2d.vec", "scale factors", ["input": t(.uint8, 2, 3, 5, 7), "scale_factors": .floatList([2, 1.5])],
        "u8[2, 3, 10, 10]"),
    .ok("upsample_nearest2d.vec", "scale factors of a symbolic size",
        ["input": t(.float32, batch, 3, side, side), "scale_factors": .floatList([2, 0.5])],
        "f32[batch, 3, 2*s, floordiv(s, 2)]"),
    .ok("upsample_nearest2d.vec", "non-integer scale of a symbolic size",
        ["input": t(.float32, 1, 3, side, 8), "scale_factors": .floatList([1.5, 1.25])],
        "f32[1, 3, floordiv(3*s, 2), 10]"),
    .ok("upsample_nearest2d.vec", "output_size for a symbolic input",
        ["input": t(.float16, 1, 3, side, side), "output_size": .intList([32, 32])], "f16[1, 3, 32, 32]"),
    .fails("upsample_nearest2d.vec", "a scale without an exact symbolic form",
           ["input": t(.float32, 1, 3, side, 8), "scale_factors": .floatList([0.3, 2])],
           argument: "scale_factors", "floor(s · 0.3) has no exact form"),
    .fails("upsample_nearest2d.vec", "both sizes and scales",
           ["input": t(.float32, 1, 3, 4, 4), "output_size": .intList([8, 8]), "scale_factors": .floatList([2, 2])],
           argument: "output_size", "expected exactly one of output_size and scale_factors"),
    .fails("upsample_nearest2d.vec", "neither sizes nor scales", ["input": t(.float32, 1, 3, 4, 4)],
           argument: "output_size", "expected exactly one of output_size and scale_factors"),
    .fails("upsample_nearest2d.vec", "output size 0", ["input": t(.float32, 1, 3, 4, 4), "output_size": .intList([0, 4])],
           argument: "output_size", "expected positive sizes, got [0, 4]"),
    .fails("upsample_nearest2d.vec", "three sizes", ["input": t(.float32, 1, 3, 4, 4), "output_size": .intList([4, 4, 4])],
           argument: "output_size", "expected 2 sizes"),
    .fails("upsample_nearest2d.vec", "a scale that empties the output",
           ["input": t(.float32, 1, 3, 4, 4), "scale_factors": .floatList([0.2, 1])],
           argument: "scale_factors", "output size 0 along spatial dim 0", "is not positive"),
    .fails("upsample_nearest2d.vec", "negative scale", ["input": t(.float32, 1, 3, side, 4), "scale_factors": .floatList([-2, 1])],
           argument: "scale_factors", "expected positive finite scale factors, got -2.0"),
    .fails("upsample_nearest2d.vec", "one scale", ["input": t(.float32, 1, 3, 4, 4), "scale_factors": .floatList([2])],
           argument: "scale_factors", "expected 2 scale factors"),
    .fails("upsample_nearest2d.vec", "rank 3", ["input": t(.float32, 3, 4, 4), "output_size": .intList([8, 8])],
           argument: "input", "expected rank 4"),
    .fails("upsample_nearest2d.vec", "empty plane", ["input": t(.float32, 1, 3, 0, 4), "output_size": .intList([8, 8])],
           argument: "input", "only the batch may be empty"),
    .fails("upsample_nearest2d.vec", "bool", ["input": t(.bool, 1, 3, 4, 4), "output_size": .intList([8, 8])],
           argument: "input", "expected a numeric tensor, got bool"),
    .ok("upsample_bilinear2d.vec", "align corners", ["input": t(.float32, 1, 3, 5, 7), "output_size": .intList([9, 13]),
                                                     "align_corners": .bool(true)], "f32[1, 3, 9, 13]"),
    .ok("upsample_bilinear2d.vec", "scale factors", ["input": t(.float16, 1, 3, 5, 7), "align_corners": .bool(false),
                                                     "scale_factors": .floatList([0.5, 3])], "f16[1, 3, 2, 21]"),
    .fails("upsample_bilinear2d.vec", "integer input", ["input": t(.uint8, 1, 3, 4, 4), "output_size": .intList([8, 8]),
                                                        "align_corners": .bool(false)],
           argument: "input", "expected a floating-point tensor, got u8"),
    .ok("upsample_nearest2d", "output_size and scales", ["self": t(.float32, 1, 3, 5, 7), "output_size": .intList([7, 10]),
                                                         "scales_h": .float(1.5), "scales_w": .float(1.5)],
        "f32[1, 3, 7, 10]"),
    .fails("upsample_nearest2d", "output size 0", ["self": t(.float32, 1, 3, 5, 7), "output_size": .intList([3, 0])],
           argument: "output_size", "expected positive sizes, got [3, 0]"),
    .ok("upsample_bilinear2d", "output_size", ["self": t(.float32, batch, 3, side, side), "output_size": .intList([16, 16]),
                                               "align_corners": .bool(false)], "f32[batch, 3, 16, 16]"),

    // constant_pad_nd: pairs from the last dim back; negative pads crop.
    .ok("constant_pad_nd", "last two dims", ["self": t(.float32, 2, 3, 4), "pad": .intList([1, 2, 0, 3])], "f32[2, 6, 7]"),
    .ok("constant_pad_nd", "crops", ["self": t(.int64, 2, 5, 6), "pad": .intList([-1, -2, 1, -3]), "value": .int(-1)],
        "i64[2, 3, 3]"),
    .ok("constant_pad_nd", "crops to nothing", ["self": t(.float32, 2, 4), "pad": .intList([-2, -2])], "f32[2, 0]"),
    .ok("constant_pad_nd", "every dim", ["self": t(.bool, 2, 3), "pad": .intList([1, 1, 2, 2]), "value": .int(1)], "bool[6, 5]"),
    .ok("constant_pad_nd", "no pads", ["self": t(.float16, 2, 3), "pad": .intList([])], "f16[2, 3]"),
    .ok("constant_pad_nd", "symbolic dims", ["self": t(.float32, 1, seq, side), "pad": .intList([-2, 0, 1, 1])],
        "f32[1, seq + 2, s - 2]"),
    .ok("constant_pad_nd", "uint8 takes -1 (it wraps)", ["self": t(.uint8, 4), "pad": .intList([1, 1]), "value": .int(-1)],
        "u8[6]"),
    .ok("constant_pad_nd", "a float for an int tensor truncates", ["self": t(.int32, 4), "pad": .intList([1, 1]),
                                                                   "value": .float(1.5)], "i32[6]"),
    .fails("constant_pad_nd", "odd pad count", ["self": t(.float32, 2, 3), "pad": .intList([1, 2, 3])],
           argument: "pad", "expected an even number of pads, got [1, 2, 3]"),
    .fails("constant_pad_nd", "more pairs than dims", ["self": t(.float32, 3), "pad": .intList([1, 1, 1, 1])],
           argument: "pad", "2 pad pairs for a tensor of rank 1"),
    .fails("constant_pad_nd", "crop past the size", ["self": t(.float32, 2, 4), "pad": .intList([-3, -2])],
           argument: "pad", "dim 1 of size 4 padded by -3 and -2 has negative size -1"),
    .fails("constant_pad_nd", "crop a symbolic size that may be too small", ["self": t(.float32, side), "pad": .intList([-3, -2])],
           argument: "pad", "has negative size s - 5"),
    .fails("constant_pad_nd", "value out of int8's range", ["self": t(.int8, 4), "pad": .intList([1, 1]), "value": .int(200)],
           argument: "value", "200.0 cannot be converted to i8 without overflow"),
    .fails("constant_pad_nd", "float value out of int8's range", ["self": t(.int8, 4), "pad": .intList([1, 1]), "value": .float(127.5)],
           argument: "value", "cannot be converted to i8"),
    .fails("constant_pad_nd", "value below uint8's wrap range", ["self": t(.uint8, 4), "pad": .intList([1, 1]), "value": .int(-256)],
           argument: "value", "cannot be converted to u8"),
    .fails("constant_pad_nd", "value out of float16's range", ["self": t(.float16, 4), "pad": .intList([1, 1]), "value": .int(70000)],
           argument: "value", "cannot be converted to f16"),
    .fails("constant_pad_nd", "NaN for an int tensor", ["self": t(.int64, 4), "pad": .intList([1, 1]), "value": .float(.nan)],
           argument: "value", "cannot be converted to i64"),

    // conv2d / conv_transpose2d.input: convolution's rule, reported as these ops.
    .ok("conv2d", "batched", ["input": t(.float32, 1, 3, 8, 8), "weight": t(.float32, 4, 3, 3, 3),
                              "padding": .intList([1, 1])], "f32[1, 4, 8, 8]"),
    .ok("conv2d", "unbatched, symbolic", ["input": t(.float32, 3, side, 8), "weight": t(.float32, 4, 3, 3, 3),
                                          "bias": t(.float32, 4), "stride": .intList([2])],
        "f32[4, floordiv(s - 3, 2) + 1, 3]"),
    .fails("conv2d", "channels", ["input": t(.float32, 1, 4, 8, 8), "weight": t(.float32, 4, 3, 3, 3)],
           argument: "input", "input has 4 channels"),
    .fails("conv2d", "rank 2", ["input": t(.float32, 8, 8), "weight": t(.float32, 4, 3, 3, 3)],
           argument: "input", "expected rank 3 to 4"),
    .fails("conv2d", "kernel larger than the input", ["input": t(.float32, 1, 3, 2, 8), "weight": t(.float32, 4, 3, 3, 3)],
           argument: nil, "output size 0 along spatial dim 0 is not positive"),
    // (in - 1)·stride - 2·pad + dilation·(k - 1) + output_padding + 1
    .ok("conv_transpose2d.input", "stride 2, output padding", ["input": t(.float32, 1, 16, 8, 8), "weight": t(.float32, 16, 8, 3, 3),
                                                               "stride": .intList([2]), "padding": .intList([1]),
                                                               "output_padding": .intList([1])], "f32[1, 8, 16, 16]"),
    .ok("conv_transpose2d.input", "unbatched, grouped", ["input": t(.float32, 4, 5, 5), "weight": t(.float32, 4, 3, 3, 3),
                                                         "groups": .int(2)], "f32[6, 7, 7]"),
    .fails("conv_transpose2d.input", "output padding not below stride or dilation",
           ["input": t(.float32, 1, 16, 8, 8), "weight": t(.float32, 16, 8, 3, 3), "output_padding": .intList([1])],
           argument: "output_padding", "must be smaller than stride or dilation"),
]

@Suite struct SamplingTypeTests {
    @Test(arguments: samplingCases)
    func inference(_ c: OpCase) {
        c.check()
    }

    /// The symbolic pooled size evaluates, at every size, to the static rule's answer (ceil mode
    /// included, where the rule accepts a symbolic size).
    @Test(arguments: [
        ([3, 3], [2, 2], [1, 1], [1, 1], false), ([3, 3], [2, 2], [1, 1], [1, 1], true),
        ([2, 2], [2, 2], [0, 0], [1, 1], true), ([3, 3], [1, 1], [1, 1], [2, 2], true),
        ([4, 4], [3, 3], [2, 2], [1, 1], false), ([3, 3], [2, 2], [0, 0], [1, 1], true),
    ])
    func symbolicPoolSizeMatchesStatic(_ kernel: [Int], _ stride: [Int], _ padding: [Int], _ dilation: [Int],
                                       _ ceilMode: Bool) throws {
        func pooled(_ size: Dim) throws -> Dim {
            let options: [String: Argument<TensorType>] = [
                "stride": .intList(stride), "padding": .intList(padding), "dilation": .intList(dilation),
                "ceil_mode": .bool(ceilMode),
            ]
            return try #require(infer("max_pool2d", pool(t(.float32, 1, 1, size, 8), kernel, options)).first?.shape[2])
        }
        let symbolic = try pooled(side)
        for n in side.range {
            #expect(symbolic.evaluate(["s": n]) == (try pooled(Dim(n))).staticValue, "size \(n): \(symbolic)")
        }
    }

    /// floor(size · scale) on a symbolic size evaluates to the static answer at every size.
    @Test(arguments: [2.0, 0.5, 1.5, 1.25, 0.75, 3.0])
    func symbolicScaledSizeMatchesStatic(_ scale: Double) throws {
        func scaled(_ size: Dim) throws -> Dim {
            try #require(infer("upsample_nearest2d.vec", ["input": t(.float32, 1, 1, size, 8),
                                                         "scale_factors": .floatList([scale, 1])]).first?.shape[2])
        }
        let symbolic = try scaled(side)
        for n in side.range {
            #expect(symbolic.evaluate(["s": n]) == (try scaled(Dim(n))).staticValue, "size \(n): \(symbolic)")
        }
    }
}
