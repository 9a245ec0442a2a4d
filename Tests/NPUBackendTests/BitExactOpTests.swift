#if canImport(Glibc)
import Glibc
#endif
import KilnIR
import KilnOps
import KilnTensor
import NPUCompiler
import NPURuntime
import Testing

/// Every op's simulator output equals the independent integer reference (IntegerReference.swift)
/// exactly, in 8-bit and 16-bit activations, with enough on-chip memory and with so little that
/// the compiler must tile.
struct BitExactOpTests {
    /// conv (NCHW in, int8 out) through the NPU and the reference.
    func checkConv(n: Int = 1, c: Int, h: Int, w: Int, oc: Int, k: Int, stride: Int, pad: Int, dilation: Int = 1,
                   groups: Int = 1, act: DType = .int8, sram: Int = NPUMachine.sramBytes, seed: UInt64) throws -> NPUExecutable {
        var r = Numbers(seed)
        let (lo, hi) = QGraph.range(act)
        let qx = QGraph.q(act == .int16 ? 0.0004 : 0.05, act == .int16 ? 0 : 3, act)
        let qo = QGraph.q(act == .int16 ? 0.0009 : 0.11, act == .int16 ? 0 : -5, act)
        let xs = [n, c, h, w], ws = [oc, c / groups, k, k]
        let x = r.ints(xs.reduce(1, *), lo...hi)
        let wv = r.ints(ws.reduce(1, *), -127...127)
        let sw = r.scales(oc, 0.001...0.01)
        let bias = r.floats(oc, -0.5...0.5)
        var g = QGraph()
        let xin = try g.input("x", xs, act)
        let wq = try g.weight("w", wv, ws, scales: sw)
        let bq = try g.constant("b", bias)
        let y = try g.b.call("convolution", [try g.dq(xin, qx, act), wq, bq],
                             ["stride": .intList([stride, stride]), "padding": .intList([pad, pad]),
                              "dilation": .intList([dilation, dilation]), "groups": .int(groups)])[0]
        let graph = try g.finish(try g.q(y, qo, act))
        let (outs, exe) = try NPU.run(graph, [try NPU.tensor(x, xs, act)], sram: sram)
        let want = Ref.conv(x, xs, qx, wv, ws, sw, bias, stride: [stride, stride], pad: [pad, pad],
                            dilation: [dilation, dilation], groups: groups, qo)
        #expect(NPU.ints(outs[0]) == want.out)
        return exe
    }

    @Test func convolution8a8wPerChannel() throws {
        _ = try checkConv(c: 3, h: 9, w: 7, oc: 8, k: 3, stride: 1, pad: 1, seed: 1)
    }

    @Test func convolutionTiledOverRowsAndChannels() throws {
        // 4 KiB of on-chip memory cannot hold the 16x16x8 input or 16 channels of weights at once.
        let exe = try checkConv(n: 2, c: 8, h: 16, w: 16, oc: 16, k: 3, stride: 2, pad: 1, sram: 4096, seed: 2)
        #expect(exe.program.ops.first { $0.kind == .conv2d }!.tiles.count > 2)   // 2 images, several tiles each
    }

    @Test func convolution16a8wStridedDilatedGrouped() throws {
        _ = try checkConv(c: 4, h: 11, w: 10, oc: 6, k: 3, stride: 2, pad: 2, dilation: 2, groups: 2, act: .int16, seed: 3)
    }

    @Test func depthwiseConvolution() throws {
        _ = try checkConv(c: 6, h: 8, w: 8, oc: 6, k: 3, stride: 1, pad: 1, groups: 6, seed: 4)
    }

    func checkLinear(rows: Int, k: Int, n: Int, act: DType, bits: Int, addmm: Bool = false,
                     sram: Int = NPUMachine.sramBytes, seed: UInt64) throws -> NPUExecutable {
        var r = Numbers(seed)
        let (lo, hi) = QGraph.range(act)
        let qx = QGraph.q(act == .int16 ? 0.0003 : 0.04, act == .int16 ? 0 : -7, act)
        let qo = QGraph.q(act == .int16 ? 0.002 : 0.2, act == .int16 ? 0 : 4, act)
        let x = r.ints(rows * k, lo...hi)
        let wv = r.ints(n * k, bits == 4 ? -8...7 : -127...127)
        let sw = r.scales(n, bits == 4 ? 0.01...0.1 : 0.001...0.01)
        let bias = r.floats(n, -1...1)
        var g = QGraph()
        let xin = try g.input("x", [rows, k], act)
        let y: ValueID
        if addmm {
            let wt = (0..<(k * n)).map { i in wv[(i % n) * k + i / n] }   // [k, n]
            let wq = try g.weight("w", wt, [k, n], scales: sw, axis: 1, bits: bits)
            y = try g.b.call("addmm", [try g.constant("b", bias), try g.dq(xin, qx, act), wq])[0]
        } else {
            let wq = try g.weight("w", wv, [n, k], scales: sw, bits: bits)
            y = try g.b.call("linear", [try g.dq(xin, qx, act), wq, try g.constant("b", bias)])[0]
        }
        let graph = try g.finish(try g.q(y, qo, act))
        let (outs, exe) = try NPU.run(graph, [try NPU.tensor(x, [rows, k], act)], sram: sram)
        #expect(NPU.ints(outs[0]) == Ref.linear(x, k: k, qx, wv, n: n, sw, bias, qo))
        return exe
    }

    @Test func linear8a8w() throws { _ = try checkLinear(rows: 3, k: 40, n: 24, act: .int8, bits: 8, seed: 5) }
    @Test func linear16a8w() throws { _ = try checkLinear(rows: 2, k: 33, n: 17, act: .int16, bits: 8, seed: 6) }
    @Test func linear16a4wPacksNibbles() throws {
        let exe = try checkLinear(rows: 2, k: 37, n: 9, act: .int16, bits: 4, seed: 7)
        #expect(exe.program.tensors.contains { $0.dtype == .int4 && $0.byteCount == 9 * 19 })
    }
    @Test func addmmTakesATransposedWeight() throws { _ = try checkLinear(rows: 4, k: 16, n: 12, act: .int8, bits: 8, addmm: true, seed: 8) }
    @Test func linearTiledOverFeatures() throws {
        let exe = try checkLinear(rows: 8, k: 256, n: 64, act: .int8, bits: 8, sram: 8192, seed: 9)
        #expect(exe.program.ops[0].tiles.count > 2)
    }

    /// A unary `dq → op → q` on a [2, 3, 5, 7] tensor.
    func unary(_ op: String, _ attrs: KeyValuePairs<String, Argument<ValueID>> = [:], act: DType = .int8, qx: Ref.Q, qo: Ref.Q,
               sram: Int = 4096, seed: UInt64) throws -> (x: [Int], got: [Int]) {
        var r = Numbers(seed)
        let (lo, hi) = QGraph.range(act)
        let shape = [2, 3, 5, 7]
        let x = r.ints(shape.reduce(1, *), lo...hi)
        var g = QGraph()
        let xin = try g.input("x", shape, act)
        let y = try g.b.call(op, [try g.dq(xin, qx, act)], attrs)[0]
        let graph = try g.finish(try g.q(y, qo, act))
        let (outs, _) = try NPU.run(graph, [try NPU.tensor(x, shape, act)], sram: sram)
        return (x, NPU.ints(outs[0]))
    }

    @Test func reluRelu6AndClamp() throws {
        let qx = QGraph.q(0.05, 10), qo = QGraph.q(0.03, -20)
        var (x, got) = try unary("relu", qx: qx, qo: qo, seed: 10)
        #expect(got == Ref.requantize(x, qx, qo, lo: qo.zp, hi: 127))
        (x, got) = try unary("hardtanh", ["min_val": .float(0), "max_val": .float(6)], qx: qx, qo: qo, seed: 11)
        #expect(got == Ref.requantize(x, qx, qo, lo: qo.zp, hi: min(127, qo.zp + 200)))
        (x, got) = try unary("clamp", ["min": .float(-0.5), "max": .float(1.0)], qx: qx, qo: qo, seed: 12)
        #expect(got == Ref.requantize(x, qx, qo, lo: qo.zp - 17, hi: qo.zp + 33))
        let q16 = QGraph.q(0.001, 0, .int16), o16 = QGraph.q(0.0007, 0, .int16)
        (x, got) = try unary("relu", act: .int16, qx: q16, qo: o16, seed: 13)
        #expect(got == Ref.requantize(x, q16, o16, lo: 0, hi: 32767))
    }

    @Test func lookupTablesMatchTheFunctionPerElement() throws {
        let qx = QGraph.q(0.04, -3), qo = QGraph.q(1.0 / 256, -128), qt = QGraph.q(1.0 / 128, 0)
        var (x, got) = try unary("sigmoid", qx: qx, qo: qo, seed: 14)
        #expect(got == Ref.function(x, qx, qo) { 1 / (1 + exp(-$0)) })
        (x, got) = try unary("tanh", qx: qx, qo: qt, seed: 15)
        #expect(got == Ref.function(x, qx, qt) { tanh($0) })
        let qg = QGraph.q(0.03, -10)
        (x, got) = try unary("gelu", qx: qx, qo: qg, seed: 16)
        #expect(got == Ref.function(x, qx, qg) { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) })
        (x, got) = try unary("silu", qx: qx, qo: qg, seed: 17)
        #expect(got == Ref.function(x, qx, qg) { $0 / (1 + exp(-$0)) })
        let q16 = QGraph.q(0.0003, 0, .int16), o16 = QGraph.q(1.0 / 32768, 0, .int16)
        (x, got) = try unary("sigmoid", act: .int16, qx: q16, qo: o16, sram: 140_000, seed: 18)
        #expect(got == Ref.function(x, q16, o16) { 1 / (1 + exp(-$0)) })
    }

    func binary(_ op: String, act: DType, seed: UInt64) throws {
        var r = Numbers(seed)
        let (lo, hi) = QGraph.range(act)
        let shape = [1, 4, 6, 5]
        let a = r.ints(120, lo...hi), b = r.ints(120, lo...hi)
        let wide = act == .int16
        let qa = QGraph.q(wide ? 0.0002 : 0.02, wide ? 0 : 5, act), qb = QGraph.q(wide ? 0.0005 : 0.07, wide ? 0 : -9, act)
        let qo = QGraph.q(wide ? 0.0004 : (op == "mul.Tensor" ? 0.3 : 0.06), wide ? 0 : 2, act)
        var g = QGraph()
        let ai = try g.input("a", shape, act), bi = try g.input("b", shape, act)
        let y = try g.b.call(op, [try g.dq(ai, qa, act), try g.dq(bi, qb, act)])[0]
        let graph = try g.finish(try g.q(y, qo, act))
        let (outs, _) = try NPU.run(graph, [try NPU.tensor(a, shape, act), try NPU.tensor(b, shape, act)], sram: 4096)
        let want = op == "add.Tensor" ? Ref.add(a, qa, b, qb, qo) : Ref.mul(a, qa, b, qb, qo)
        #expect(NPU.ints(outs[0]) == want)
    }

    @Test func addAndMul() throws {
        try binary("add.Tensor", act: .int8, seed: 19)
        try binary("add.Tensor", act: .int16, seed: 20)
        try binary("mul.Tensor", act: .int8, seed: 21)
        try binary("mul.Tensor", act: .int16, seed: 22)
    }

    func checkPool(_ op: String, _ attrs: KeyValuePairs<String, Argument<ValueID>>, kernel: [Int], stride: [Int], pad: [Int],
                   isMax: Bool, act: DType = .int8, sram: Int = NPUMachine.sramBytes, seed: UInt64) throws {
        var r = Numbers(seed)
        let (lo, hi) = QGraph.range(act)
        let shape = [2, 5, 12, 10]
        let x = r.ints(shape.reduce(1, *), lo...hi)
        let qx = QGraph.q(act == .int16 ? 0.0002 : 0.03, act == .int16 ? 0 : 7, act)
        let qo = QGraph.q(act == .int16 ? 0.00025 : 0.02, act == .int16 ? 0 : -3, act)
        var g = QGraph()
        let xin = try g.input("x", shape, act)
        let y = try g.b.call(op, [try g.dq(xin, qx, act)], attrs)[0]
        let graph = try g.finish(try g.q(y, qo, act))
        let (outs, _) = try NPU.run(graph, [try NPU.tensor(x, shape, act)], sram: sram)
        #expect(NPU.ints(outs[0]) == Ref.pool(x, shape, qx, kernel: kernel, stride: stride, pad: pad, max: isMax, qo))
    }

    @Test func pooling() throws {
        try checkPool("max_pool2d", ["kernel_size": .intList([3, 3]), "stride": .intList([2, 2]), "padding": .intList([1, 1])],
                      kernel: [3, 3], stride: [2, 2], pad: [1, 1], isMax: true, sram: 2048, seed: 23)
        try checkPool("avg_pool2d", ["kernel_size": .intList([2, 2]), "stride": .intList([2, 2])],
                      kernel: [2, 2], stride: [2, 2], pad: [0, 0], isMax: false, seed: 24)
        try checkPool("avg_pool2d", ["kernel_size": .intList([3, 3]), "stride": .intList([1, 1]), "padding": .intList([1, 1])],
                      kernel: [3, 3], stride: [1, 1], pad: [1, 1], isMax: false, act: .int16, sram: 4096, seed: 25)
        try checkPool("_adaptive_avg_pool2d", ["output_size": .intList([1, 1])],
                      kernel: [12, 10], stride: [12, 10], pad: [0, 0], isMax: false, seed: 26)
    }

    @Test func shapeOpsMoveBytesExactly() throws {
        // conv output (NHWC inside) → view_copy (NCHW order) / permute_copy / cat with a requantized input.
        var r = Numbers(27)
        let shape = [1, 3, 4, 5]
        let x = r.ints(60, -128...127)
        let q = QGraph.q(0.05, 1), q2 = QGraph.q(0.08, -2)
        var g = QGraph()
        let xin = try g.input("x", shape)
        let v = try g.b.call("view_copy", [try g.dq(xin, q)], ["size": .intList([3, 20])])[0]
        let p = try g.b.call("permute_copy", [try g.dq(xin, q)], ["dims": .intList([0, 2, 3, 1])])[0]
        let c = try g.b.call("cat", [], ["tensors": .tensorList([try g.dq(xin, q), try g.dq(xin, q2)]), "dim": .int(1)])[0]
        let graph = try g.finish(try g.q(v, q), try g.q(p, q), try g.q(c, q))
        let (outs, _) = try NPU.run(graph, [try NPU.tensor(x, shape)], sram: 1024)
        #expect(NPU.ints(outs[0]) == x)
        var permuted: [Int] = []
        for h in 0..<4 { for w in 0..<5 { for ch in 0..<3 { permuted.append(x[(ch * 4 + h) * 5 + w]) } } }
        #expect(NPU.ints(outs[1]) == permuted)
        // The second cat input is read as if quantized with q2 and requantized to q.
        #expect(NPU.ints(outs[2]) == x + Ref.requantize(x, q2, q, lo: -128, hi: 127))
    }

    @Test func floatEdgesQuantizeAndDequantizeLikeThePortableKernels() throws {
        // float x → q → dq → relu → q → dq → float: the edges are the only float arithmetic.
        let q = QGraph.q(0.02, 3)
        var g = QGraph()
        let x = try g.b.input("x", TensorType(.float32, static: [2, 8]))
        let y = try g.b.call("relu", [try g.dq(try g.q(x, q), q)])[0]
        let graph = try g.finish(try g.dq(try g.q(y, q), q))
        let input = try Tensor((0..<16).map { Float($0) * 0.37 - 2.9 }, shape: [2, 8])
        let (outs, exe) = try NPU.run(graph, [input])
        let expected = input.scalars(as: Float.self).map { v -> Float in
            let qv = min(127, max(-128, (v * Float(1 / q.scale)).rounded(.toNearestOrEven) + 3))
            return Float(max(qv, 3) - 3) * Float(q.scale)
        }
        #expect(outs[0].scalars(as: Float.self) == expected)
        #expect(exe.program.ops.map(\.kind) == [.quantize, .requantize, .dequantize])
    }
}
