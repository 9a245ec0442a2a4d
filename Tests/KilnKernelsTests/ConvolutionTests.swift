import KilnKernels
import KilnOps
import KilnTensor
import Testing

/// Every forward convolution path (pointwise GEMM, unfolded GEMM, direct depthwise), bit for bit
/// against the loop that defines their rounding: each output starts at its bias and takes
/// `fma(w[o, c, ky, kx], x[...], acc)` over `(c, ky, kx)` in order, padding zeros included
/// (``FloatGemm/multiplyAdd(_:_:_:)``). On one thread with the weight packed per call, and on 3
/// threads with it prepacked: the same bits. (Against torch, the fixtures in `spatial.json`.)
@Suite struct ConvolutionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var batch = 1, channels: Int, height: Int, width: Int, outChannels: Int
        var kernel: (Int, Int) = (3, 3)
        var stride = [1, 1], padding = [0, 0], dilation = [1, 1]
        var groups = 1
        var bias = true

        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "pointwise, 2 images", batch: 2, channels: 8, height: 9, width: 7, outChannels: 12, kernel: (1, 1)),
        Case(label: "1x1 stride 2 (unfolded)", channels: 6, height: 9, width: 9, outChannels: 5, kernel: (1, 1),
             stride: [2, 2]),
        Case(label: "3x3 padding 1", channels: 5, height: 11, width: 13, outChannels: 9, padding: [1, 1]),
        Case(label: "3x3 stride 2 padding 1, no bias", channels: 4, height: 12, width: 12, outChannels: 6,
             stride: [2, 2], padding: [1, 1], bias: false),
        Case(label: "5x3 dilation 2 padding (2, 1), groups 2", channels: 6, height: 10, width: 9, outChannels: 4,
             kernel: (5, 3), padding: [2, 1], dilation: [2, 2], groups: 2),
        Case(label: "depthwise 3x3 padding 1, wide rows", batch: 2, channels: 5, height: 6, width: 83, outChannels: 5,
             padding: [1, 1], groups: 5),
        Case(label: "depthwise 3x3 stride 2", channels: 3, height: 10, width: 10, outChannels: 3, stride: [2, 2],
             groups: 3),
        Case(label: "depthwise 5x5 dilation 2 padding 4", channels: 2, height: 7, width: 40, outChannels: 2,
             kernel: (5, 5), padding: [4, 4], dilation: [2, 2], groups: 2),
        // Large enough to split across threads.
        Case(label: "3x3 padding 1, 16 -> 32 channels, 24x24", channels: 16, height: 24, width: 24, outChannels: 32,
             padding: [1, 1]),
        Case(label: "depthwise 3x3 padding 1, 64 channels, 32x32", channels: 64, height: 32, width: 32, outChannels: 64,
             padding: [1, 1], groups: 64),
    ]

    @Test(arguments: cases)
    func everyPathRoundsLikeTheDefiningLoop(_ c: Case) throws {
        let entry = try #require(KernelRegistry.entry(for: "convolution"))
        let call = try Self.call(c)
        let want = try Self.oracle(c, call)
        for (threads, prepack) in [(1, false), (3, true)] {
            let got = try runKernel(entry, call, threads: threads, prepackEverything: prepack)[0]
            #expect(got.elementCount == want.count)
            #expect(firstDifference(got.floatValues(), want) == nil,
                    "\(threads) thread(s)\(prepack ? ", prepacked" : ""): \(firstDifference(got.floatValues(), want) ?? "")")
        }
    }

    @Test func transposedGivesTheSameBitsOnThreadsAndPrepacked() throws {
        let entry = try #require(KernelRegistry.entry(for: "convolution"))
        // Per group: columns [32·3·3, 24·24] = weight^T [288, 16] · input [16, 576]: enough to split.
        var c = Case(label: "transposed", channels: 32, height: 24, width: 24, outChannels: 64, stride: [2, 2],
                     padding: [1, 1])
        c.groups = 2
        let call = try Self.call(c, transposed: true)
        let one = try runKernel(entry, call, threads: 1, prepackEverything: false)[0]
        let three = try runKernel(entry, call, threads: 3, prepackEverything: true)[0]
        #expect(firstDifference(three.floatValues(), one.floatValues()) == nil)
    }

    /// The convolution call of `c` on seeded inputs in [-1, 1].
    static func call(_ c: Case, transposed: Bool = false) throws -> KernelCall {
        var rng = SeededGenerator(seed: 11)
        func random(_ shape: [Int]) throws -> Tensor {
            try Tensor((0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: shape)
        }
        let x = try random([c.batch, c.channels, c.height, c.width])
        let weightShape = transposed ? [c.channels, c.outChannels / c.groups, c.kernel.0, c.kernel.1]
            : [c.outChannels, c.channels / c.groups, c.kernel.0, c.kernel.1]
        var inputs = [x, try random(weightShape)]
        if c.bias { inputs.append(try random([c.outChannels])) }
        let schema = try #require(OpTable.schema(named: "convolution"))
        let values: [String: Argument<Int>] = [
            "input": .tensor(0), "weight": .tensor(1), "bias": c.bias ? .tensor(2) : .none,
            "stride": .intList(c.stride), "padding": .intList(c.padding), "dilation": .intList(c.dilation),
            "transposed": .bool(transposed), "output_padding": .intList([transposed ? 1 : 0, transposed ? 1 : 0]),
            "groups": .int(c.groups),
        ]
        let arguments = try OpArguments.validated(schema, schema.parameters.map { values[$0.name] ?? .none })
        return KernelCall(arguments: arguments, inputs: inputs, outputs: try KernelCall.allocateOutputs(arguments, inputs: inputs))
    }

    /// The defining loop, on `call`'s inputs.
    static func oracle(_ c: Case, _ call: KernelCall) throws -> [Float] {
        let x = call.inputs[0].floatValues(), w = call.inputs[1].floatValues()
        let bias = c.bias ? call.inputs[2].floatValues() : nil
        let out = call.outputs[0]
        let (outHeight, outWidth) = (out.shape[2], out.shape[3])
        let (kh, kw) = c.kernel
        let cg = c.channels / c.groups, og = c.outChannels / c.groups
        var y = [Float](repeating: 0, count: out.elementCount)
        for n in 0..<c.batch {
            for o in 0..<c.outChannels {
                let group = o / og
                for oy in 0..<outHeight {
                    for ox in 0..<outWidth {
                        var sum = bias?[o] ?? 0
                        for ci in 0..<cg {
                            let channel = group * cg + ci
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let iy = oy * c.stride[0] - c.padding[0] + ky * c.dilation[0]
                                    let ix = ox * c.stride[1] - c.padding[1] + kx * c.dilation[1]
                                    let inside = iy >= 0 && iy < c.height && ix >= 0 && ix < c.width
                                    let v = inside ? x[((n * c.channels + channel) * c.height + iy) * c.width + ix] : 0
                                    sum = FloatGemm.multiplyAdd(sum, w[((o * cg + ci) * kh + ky) * kw + kx], v)
                                }
                            }
                        }
                        y[((n * c.outChannels + o) * outHeight + oy) * outWidth + ox] = sum
                    }
                }
            }
        }
        return y
    }
}
