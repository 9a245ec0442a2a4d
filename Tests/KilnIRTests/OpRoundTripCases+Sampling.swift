import KilnIR
import KilnOps
import KilnTensor
import Testing

extension OpCase {
    /// Pooling, upsampling (a float list and absent optional int lists among the arguments),
    /// padding and the convolution front ends.
    static let sampling: [OpCase] = [
        OpCase("max_pool2d_with_indices, two results, ceil mode") { b in
            let x = try b.input("img", t(.float32, 1, 3, 8, 8))
            return try b.call("max_pool2d_with_indices", [x],
                              ["kernel_size": .intList([3, 3]), "stride": .intList([2, 2]), "padding": .intList([1, 1]),
                               "ceil_mode": .bool(true)], names: ["pooled", "where"])
        },
        OpCase("max_pool2d with dilation") { b in
            let x = try b.input("img", t(.float16, 2, 9, 9))
            return try b.call("max_pool2d", [x], ["kernel_size": .intList([2]), "dilation": .intList([2, 2])])
        },
        OpCase("avg_pool2d with divisor_override") { b in
            let x = try b.input("img", t(.float32, 1, 3, 8, 8))
            return try b.call("avg_pool2d", [x], ["kernel_size": .intList([2, 2]), "count_include_pad": .bool(false),
                                                  "divisor_override": .int(3)])
        },
        OpCase("upsample_nearest2d.vec with scale factors") { b in
            let x = try b.input("img", t(.uint8, 1, 3, 4, 5))
            return try b.call("upsample_nearest2d.vec", [x], ["scale_factors": .floatList([2.0, 1.5])])
        },
        OpCase("upsample_bilinear2d.vec with output_size") { b in
            let x = try b.input("img", t(.float32, 1, 3, 4, 5))
            return try b.call("upsample_bilinear2d.vec", [x], ["output_size": .intList([7, 9]), "align_corners": .bool(true)])
        },
        OpCase("upsample_nearest2d with one scale") { b in
            let x = try b.input("img", t(.float32, 1, 3, 4, 5))
            return try b.call("upsample_nearest2d", [x], ["output_size": .intList([8, 10]), "scales_w": .float(2)])
        },
        OpCase("upsample_bilinear2d") { b in
            let x = try b.input("img", t(.bfloat16, 1, 3, 4, 5))
            return try b.call("upsample_bilinear2d", [x], ["output_size": .intList([3, 3]), "align_corners": .bool(false)])
        },
        OpCase("constant_pad_nd cropping, float value") { b in
            let x = try b.input("x", t(.float32, 2, 5, 6))
            return try b.call("constant_pad_nd", [x], ["pad": .intList([1, -2, 0, 3]), "value": .float(-0.5)])
        },
        OpCase("constant_pad_nd with the default value") { b in
            let x = try b.input("x", t(.int8, 4))
            return try b.call("constant_pad_nd", [x], ["pad": .intList([2, 2])])
        },
        OpCase("conv2d of an unbatched image") { b in
            let x = try b.input("img", t(.float32, 3, 8, 8))
            let w = try b.constant("cw", try counting(.float32, [2, 3, 3, 3]))
            return try b.call("conv2d", [x, w, nil], ["padding": .intList([1, 1])])
        },
        OpCase("conv_transpose2d.input with bias") { b in
            let x = try b.input("img", t(.float32, 1, 4, 4, 4))
            let w = try b.input("cw", t(.float32, 4, 1, 3, 3))
            let bias = try b.input("cb", t(.float32, 2))
            return try b.call("conv_transpose2d.input", [x, w, bias],
                              ["stride": .intList([2, 2]), "output_padding": .intList([1, 1]), "groups": .int(2)])
        },
    ]
}

/// The float list and the optional int list print as written and read back.
@Suite struct SamplingRoundTripTests {
    @Test func floatListsPrintAsFloats() throws {
        let text = try expectRoundTrip(try OpCase.graph("upsample_nearest2d.vec with scale factors"))
        #expect(text.contains("upsample_nearest2d.vec(%img, scale_factors=[2.0, 1.5]) : u8[1, 3, 8, 7]"), "\(text)")
    }

    @Test func integersInAFloatListReadAsFloats() throws {
        let graph = try KIRParser.parse("""
            graph @g(%x: f32[1, 1, 2, 2]) {
              %y = upsample_nearest2d.vec(%x, scale_factors=[2, 3])
              return %y
            }
            """, file: "test.kir")
        #expect(graph.nodes[0].arguments[2] == .floatList([2, 3]))
        #expect(KIRPrinter.print(graph).contains("scale_factors=[2.0, 3.0]) : f32[1, 1, 4, 6]"))
    }

    @Test func aFloatListRejectsOtherElements() throws {
        let error = #expect(throws: IRError.self) {
            try KIRParser.parse("""
                graph @g(%x: f32[1, 1, 2, 2]) {
                  %y = upsample_nearest2d.vec(%x, scale_factors=[2.0, true])
                  return %y
                }
                """, file: "test.kir")
        }
        #expect(error?.description.contains("argument 'scale_factors' of upsample_nearest2d.vec expects float[]?, "
                                            + "got a list with a non-numeric element") == true, "\(String(describing: error))")
    }
}
