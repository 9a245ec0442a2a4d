import KilnBackendDescriptors
import KilnIR
import KilnOps
import KilnPartition
import KilnTensor
import Testing
import XNNPACKCompiler
import XNNPACKSchema

/// Every entry of `Backends/XNNPACK/descriptor.json` lowers and runs on XNNPACK: in float32, and
/// in each quantized form it lists as a hand-built `dq → op → q` partition (int8 input and
/// output) that must run without any fp32 conversion inside. Tolerances: fp32 1e-4 relative;
/// int8 2 quantization steps (XNNPACK requantizes with fixed-point multipliers; the reference
/// rounds the fp32 result once).
struct DescriptorCoverageTests {
    typealias Body = (inout GraphBuilder, ValueID, inout Operands) throws -> ValueID

    /// Makes weights and other constant operands: fp32 constants, or for a quantized case int8
    /// constants behind a dequantize (per-tensor, or per-channel along axis 0).
    struct Operands {
        var quantized: QuantizedForm?
        var seed: UInt64 = 100

        /// A constant of `shape`; `transposed` (2-D only) puts a per-channel weight's channels on axis 1.
        mutating func constant(_ b: inout GraphBuilder, _ shape: [Int], in range: ClosedRange<Float> = -0.5...0.5,
                               transposed: Bool = false) throws -> ValueID {
            seed += 1
            let values = try XNNPACKHarness.random(shape, seed: seed, in: range)
            guard let form = quantized else { return try b.constant("c\(seed)", values) }
            let floats = values.floatValues()
            if form.weightGranularity == .perChannel, transposed {
                // Quantize rows of the [out, in] transpose, then store it back as [in, out] with axis 1.
                let (rows, cols) = (shape[1], shape[0])
                let t = (0..<(rows * cols)).map { floats[($0 % cols) * rows + $0 / cols] }
                var scales: [Float] = [], q = [Int8](repeating: 0, count: t.count)
                for r in 0..<rows {
                    let s = max(t[(r * cols)..<((r + 1) * cols)].map(abs).max() ?? 1, 1e-3) / 127
                    scales.append(s)
                    for c in 0..<cols { q[c * rows + r] = Int8((t[r * cols + c] / s).rounded()) }
                }
                let qv = try b.constant("q\(seed)", try Tensor(q, shape: shape))
                let sv = try b.constant("s\(seed)", try Tensor(scales, shape: [rows]))
                return try b.call("quantized_decomposed.dequantize_per_channel", [qv, sv, nil],
                                  ["axis": .int(1), "quant_min": .int(-127), "quant_max": .int(127),
                                   "dtype": .dtype(.int8)])[0]
            }
            if form.weightGranularity == .perChannel {
                let rows = shape[0], inner = floats.count / rows
                var scales: [Float] = [], q: [Int8] = []
                for r in 0..<rows {
                    let row = floats[(r * inner)..<((r + 1) * inner)]
                    let s = max(row.map(abs).max() ?? 1, 1e-3) / 127
                    scales.append(s)
                    q += row.map { Int8(($0 / s).rounded()) }
                }
                let qv = try b.constant("q\(seed)", try Tensor(q, shape: shape))
                let sv = try b.constant("s\(seed)", try Tensor(scales, shape: [rows]))
                return try b.call("quantized_decomposed.dequantize_per_channel", [qv, sv, nil],
                                  ["axis": .int(0), "quant_min": .int(-127), "quant_max": .int(127),
                                   "dtype": .dtype(.int8)])[0]
            }
            let s = max(floats.map(abs).max() ?? 1, 1e-3) / 127
            let qv = try b.constant("q\(seed)", try Tensor(floats.map { Int8(($0 / s).rounded()) }, shape: shape))
            return try DescriptorCoverageTests.dequantize(&b, qv, scale: Double(s), zeroPoint: 0)
        }
    }

    static func dequantize(_ b: inout GraphBuilder, _ v: ValueID, scale: Double, zeroPoint: Int) throws -> ValueID {
        try b.call("quantized_decomposed.dequantize_per_tensor", [v],
                   ["scale": .float(scale), "zero_point": .int(zeroPoint), "quant_min": .int(-128),
                    "quant_max": .int(127), "dtype": .dtype(.int8)])[0]
    }

    static func quantize(_ b: inout GraphBuilder, _ v: ValueID, scale: Double, zeroPoint: Int) throws -> ValueID {
        try b.call("quantized_decomposed.quantize_per_tensor", [v],
                   ["scale": .float(scale), "zero_point": .int(zeroPoint), "quant_min": .int(-128),
                    "quant_max": .int(127), "dtype": .dtype(.int8)])[0]
    }

    /// One case per descriptor op: the input shape and range, and the op applied to the input.
    static var cases: [String: (shape: [Int], range: ClosedRange<Float>, body: Body)] { [
        "linear": ([4, 32], -1...1, { b, x, o in
            try b.call("linear", [x, try o.constant(&b, [16, 32]), try b.constant("bias", XNNPACKHarness.random([16], seed: 6))])[0]
        }),
        "addmm": ([3, 24], -1...1, { b, x, o in
            try b.call("addmm", [try b.constant("bias", XNNPACKHarness.random([8], seed: 5)), x,
                                 try o.constant(&b, [24, 8], transposed: true)])[0]
        }),
        "mm": ([3, 24], -1...1, { b, x, o in try b.call("mm", [x, try o.constant(&b, [24, 8])])[0] }),
        "convolution": ([1, 3, 8, 8], -1...1, { b, x, o in
            try b.call("convolution", [x, try o.constant(&b, [4, 3, 3, 3]), nil], ["padding": .intList([1, 1])])[0]
        }),
        "relu": ([2, 3, 5], -1...1, { b, x, _ in try b.call("relu", [x])[0] }),
        "hardtanh": ([2, 3, 5], -2...2, { b, x, _ in try b.call("hardtanh", [x])[0] }),
        "clamp": ([2, 3, 5], -1...1, { b, x, _ in try b.call("clamp", [x], ["min": .float(-0.25), "max": .float(0.5)])[0] }),
        "sigmoid": ([2, 3, 5], -3...3, { b, x, _ in try b.call("sigmoid", [x])[0] }),
        "hardswish": ([2, 3, 5], -4...4, { b, x, _ in try b.call("hardswish", [x])[0] }),
        "silu": ([2, 3, 5], -4...4, { b, x, _ in try b.call("silu", [x])[0] }),
        "leaky_relu": ([2, 3, 5], -1...1, { b, x, _ in try b.call("leaky_relu", [x], ["negative_slope": .float(0.1)])[0] }),
        "abs": ([2, 3, 5], -1...1, { b, x, _ in try b.call("abs", [x])[0] }),
        "neg": ([2, 3, 5], -1...1, { b, x, _ in try b.call("neg", [x])[0] }),
        "sqrt": ([2, 3, 5], 0.1...4, { b, x, _ in try b.call("sqrt", [x])[0] }),
        "add.Tensor": ([2, 3, 4], -1...1, { b, x, o in try b.call("add.Tensor", [x, try o.constant(&b, [3, 4])])[0] }),
        "sub.Tensor": ([2, 3, 4], -1...1, { b, x, o in try b.call("sub.Tensor", [x, try o.constant(&b, [3, 4])])[0] }),
        "mul.Tensor": ([2, 3, 4], -1...1, { b, x, o in try b.call("mul.Tensor", [x, try o.constant(&b, [3, 4])])[0] }),
        "div.Tensor": ([2, 3, 4], -1...1, { b, x, o in
            try b.call("div.Tensor", [x, try o.constant(&b, [3, 4], in: 0.5...2)])[0]
        }),
        "add.Scalar": ([2, 3, 4], -1...1, { b, x, _ in try b.call("add.Scalar", [x], ["other": .float(0.5), "alpha": .int(2)])[0] }),
        "sub.Scalar": ([2, 3, 4], -1...1, { b, x, _ in try b.call("sub.Scalar", [x], ["other": .float(0.25)])[0] }),
        "mul.Scalar": ([2, 3, 4], -1...1, { b, x, _ in try b.call("mul.Scalar", [x], ["other": .float(0.125)])[0] }),
        "div.Scalar": ([2, 3, 4], -1...1, { b, x, _ in try b.call("div.Scalar", [x], ["other": .float(3)])[0] }),
        "rms_norm": ([2, 3, 16], -2...2, { b, x, o in
            try b.call("rms_norm", [x], ["normalized_shape": .intList([16]), "weight": .tensor(try o.constant(&b, [16])),
                                         "eps": .float(1e-5)])[0]
        }),
        "_softmax": ([2, 8], -2...2, { b, x, _ in try b.call("_softmax", [x], ["dim": .int(-1), "half_to_float": .bool(false)])[0] }),
        "max_pool2d": ([1, 2, 6, 6], -1...1, { b, x, _ in
            try b.call("max_pool2d", [x], ["kernel_size": .intList([2, 2]), "stride": .intList([2, 2])])[0]
        }),
        "avg_pool2d": ([1, 2, 6, 6], -1...1, { b, x, _ in try b.call("avg_pool2d", [x], ["kernel_size": .intList([2, 2])])[0] }),
        "_adaptive_avg_pool2d": ([1, 2, 6, 6], -1...1, { b, x, _ in
            try b.call("_adaptive_avg_pool2d", [x], ["output_size": .intList([1, 1])])[0]
        }),
        "view_copy": ([2, 6], -1...1, { b, x, _ in try b.call("view_copy", [x], ["size": .intList([3, 4])])[0] }),
        "constant_pad_nd": ([2, 3], -1...1, { b, x, _ in try b.call("constant_pad_nd", [x], ["pad": .intList([1, 2])])[0] }),
        "quantized_decomposed.quantize_per_tensor": ([2, 5], -1...1, { b, x, _ in
            let q = try DescriptorCoverageTests.quantize(&b, x, scale: 0.01, zeroPoint: 3)
            return try DescriptorCoverageTests.dequantize(&b, q, scale: 0.01, zeroPoint: 3)
        }),
        "quantized_decomposed.dequantize_per_tensor": ([2, 5], -1...1, { b, x, _ in
            let q = try DescriptorCoverageTests.quantize(&b, x, scale: 0.02, zeroPoint: -1)
            let d = try DescriptorCoverageTests.dequantize(&b, q, scale: 0.02, zeroPoint: -1)
            return try b.call("relu", [d])[0]
        }),
    ] }

    static let sharesParameters: Set<String> = ["relu", "hardtanh", "clamp", "max_pool2d", "view_copy", "constant_pad_nd"]

    static var descriptor: BackendDescriptor { XNNPACKCompiler().descriptor }

    @Test func everyDescriptorOpHasACase() {
        for op in Self.descriptor.ops.map(\.op) {
            #expect(Self.cases[op] != nil, "no coverage case for descriptor op \(op)")
        }
    }

    @Test func everyDescriptorOpRunsInFloat32() throws {
        for entry in Self.descriptor.ops where entry.dtypes.contains(.float32) {
            guard let c = Self.cases[entry.op] else { continue }
            var operands = Operands()
            var b = GraphBuilder(name: "case")
            let x = try b.input("x", TensorType(.float32, static: c.shape))
            b.output(try c.body(&b, x, &operands))
            let graph = try b.finish()
            let input = try XNNPACKHarness.random(c.shape, seed: 9, in: c.range)
            let want = try XNNPACKHarness.reference(graph, [input])[0]
            let got = try XNNPACKHarness.run(graph, [input])[0]
            let scale = max(1, want.floatValues().map(abs).max() ?? 0)
            #expect(XNNPACKHarness.maxDifference(got, want) <= 1e-4 * scale, "\(entry.op)")
        }
    }

    /// `x_q (int8) → dq → op → q → out (int8)`, scales chosen from the fp32 reference's range.
    @Test func everyQuantizedFormRunsAsInt8() throws {
        for entry in Self.descriptor.ops {
            guard let c = Self.cases[entry.op], !entry.op.hasPrefix("quantized_decomposed") else { continue }
            for form in entry.quantized {
                // The output range, from an fp32 run of the same case with the same (dequantized) weights.
                let inScale = Double(max(abs(c.range.lowerBound), abs(c.range.upperBound))) / 127
                let probe = try build(c, form: form, inScale: inScale, outScale: nil)
                let xq = try Self.quantizedInput(c, scale: inScale)
                let fp = try XNNPACKHarness.reference(probe, [xq])[0]
                // Clamps, max pooling, pads and reshapes keep their input's parameters (as PT2E's
                // shared observers give them); the others get a scale from the output's range.
                let outScale = Self.sharesParameters.contains(entry.op)
                    ? inScale : max(Double(fp.floatValues().map(abs).max() ?? 1), 1e-3) / 127
                let graph = try build(c, form: form, inScale: inScale, outScale: outScale)
                let want = try XNNPACKHarness.reference(graph, [xq])[0]
                let got: Tensor
                do { got = try XNNPACKHarness.run(graph, [xq])[0] } catch {
                    Issue.record("\(entry.op) \(form): \(error)")
                    continue
                }
                let steps = XNNPACKHarness.maxDifference(got, want)
                #expect(steps <= 2, "\(entry.op) \(form): \(steps) quantization steps off")
                let payload = try XNNPACKHarness.lower(graph).bytes.withUnsafeBytes { try XNNPayload.decode($0) }
                #expect(!payload.nodes.contains { $0.kind == .convert }, "\(entry.op) \(form) converts to fp32 inside")
            }
        }
    }

    /// The int8 case graph; with `outScale` nil, the fp32 graph (output not quantized) for probing.
    func build(_ c: (shape: [Int], range: ClosedRange<Float>, body: Body), form: QuantizedForm, inScale: Double,
               outScale: Double?) throws -> Graph {
        var operands = Operands(quantized: form)
        var b = GraphBuilder(name: "case")
        let xq = try b.input("x", TensorType(.int8, static: c.shape))
        let x = try Self.dequantize(&b, xq, scale: inScale, zeroPoint: 0)
        let y = try c.body(&b, x, &operands)
        if let outScale {
            b.output(try Self.quantize(&b, y, scale: outScale, zeroPoint: 0))
        } else {
            b.output(y)
        }
        return try b.finish()
    }

    static func quantizedInput(_ c: (shape: [Int], range: ClosedRange<Float>, body: Body), scale: Double) throws -> Tensor {
        let x = try XNNPACKHarness.random(c.shape, seed: 9, in: c.range).floatValues()
        return try Tensor(x.map { Int8(clamping: Int((Double($0) / scale).rounded())) }, shape: c.shape)
    }
}
