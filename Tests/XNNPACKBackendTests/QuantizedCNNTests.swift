#if canImport(Glibc)
import Glibc
#endif
import KilnExamples
import KilnIR
import KilnOps
import KilnPartition
import KilnPasses
import KilnTensor
import Testing

/// The CNN Example quantized by hand the way PT2E's XNNPACK quantizer would (KilnQuant is not
/// in this build): per-channel symmetric int8 weights, per-tensor int8 activations with scales
/// from the fp32 run, conv → relu and linear as `dq → op → q` units. The delegated program must
/// run it all in XNNPACK's int8 kernels and match the portable run of the same quantized graph
/// within 2 quantization steps of the logits' scale, and the fp32 model at 25 dB SQNR or better
/// (27.5 dB measured: per-tensor activation scales from one input's range).
struct QuantizedCNNTests {
    /// The quantized CNN and its input. With `KILN_XNNPACK_WRITE_INT8_CNN=PATH` set, the test also
    /// writes it as a `.kir` (what `scripts/bench/compare_xnnpack_onnxruntime.py --int8-kir` times).
    static func build() throws -> (graph: Graph, input: Tensor, fp32: Graph) {
        let model = try ExampleModels.build(.cnn)
        var canonical = model.graph
        _ = try PassManager([Decompose(allowPartial: true, keeping: ["linear"]), ConstantFolding(), FoldBatchNorm(),
                             DeadCodeElimination()]).run(&canonical)
        let ranges = try GraphEvaluator(canonical).run([model.input], keepingIntermediates: true).intermediates
        func scale(_ v: ValueID) -> Double {
            Double(max(ranges[v]?.floatValues().map(abs).max() ?? 1, 1e-3)) / 127
        }
        var b = GraphBuilder(name: "cnn_int8")
        let x = try b.input("x", canonical.type(of: canonical.inputs[0]))
        var map: [ValueID: ValueID] = [:]
        map[canonical.inputs[0]] = try roundTrip(&b, x, scale: scale(canonical.inputs[0]))
        for node in canonical.nodes {
            var arguments = node.arguments.map { a -> Argument<ValueID> in
                if case .tensor(let v) = a, let m = map[v] { return .tensor(m) }
                return a
            }
            // Weights: per-channel int8 behind dequantize_per_channel; other constants (biases) stay fp32.
            for (i, a) in node.arguments.enumerated() {
                guard case .tensor(let v) = a, let data = canonical[v].constantData else { continue }
                let isWeight = node.op.parameters[i].name == "weight" && ["convolution", "linear"].contains(node.op.name)
                arguments[i] = .tensor(isWeight ? try perChannel(&b, data, name: canonical[v].name)
                                                : try b.constant(canonical[v].name, data))
            }
            let result = try b.append(node.op, arguments: arguments, resultNames: nil, resultTypes: nil, debugHandle: nil,
                                      location: node.location)[0]
            // relu follows its convolution inside one unit: only the unit's result is quantized; a
            // reshape keeps its input's parameters.
            switch node.op.name {
            case "convolution": map[node.results[0]] = result
            case "view_copy": map[node.results[0]] = try roundTrip(&b, result, scale: scale(node.operands[0]))
            default: map[node.results[0]] = try roundTrip(&b, result, scale: scale(node.results[0]))
            }
        }
        b.output(map[canonical.outputs[0]]!)
        let graph = try b.finish()
        if let path = getenv("KILN_XNNPACK_WRITE_INT8_CNN").map({ String(cString: $0) }) {
            try KIRFile.write(graph, to: path)
        }
        return (graph, model.input, model.graph)
    }

    /// `quantize → dequantize` with `scale`, zero point 0.
    static func roundTrip(_ b: inout GraphBuilder, _ v: ValueID, scale: Double) throws -> ValueID {
        let q = try DescriptorCoverageTests.quantize(&b, v, scale: scale, zeroPoint: 0)
        return try DescriptorCoverageTests.dequantize(&b, q, scale: scale, zeroPoint: 0)
    }

    /// An int8 constant with one symmetric scale per output channel (axis 0), dequantized.
    static func perChannel(_ b: inout GraphBuilder, _ w: Tensor, name: String) throws -> ValueID {
        let values = w.floatValues(), rows = w.shape[0], inner = values.count / rows
        var scales: [Float] = [], q: [Int8] = []
        for r in 0..<rows {
            let row = values[(r * inner)..<((r + 1) * inner)]
            let s = max(row.map(abs).max() ?? 1, 1e-6) / 127
            scales.append(s)
            q += row.map { Int8(clamping: Int(($0 / s).rounded())) }
        }
        let qv = try b.constant("\(name).int8", try Tensor(q, shape: w.shape))
        let sv = try b.constant("\(name).scales", try Tensor(scales, shape: [rows]))
        return try b.call("quantized_decomposed.dequantize_per_channel", [qv, sv, nil],
                          ["axis": .int(0), "quant_min": .int(-127), "quant_max": .int(127), "dtype": .dtype(.int8)])[0]
    }

    @Test func int8CNNRunsOnXNNPACKInt8Kernels() throws {
        let (graph, input, fp32) = try Self.build()
        let (portable, _) = try EndToEndTests.load(graph, delegated: false)
        let (delegated, plan) = try EndToEndTests.load(graph, delegated: true)
        #expect(plan?.partitions.count == 1)
        #expect(plan?.placements.allSatisfy { $0.backend != nil } == true, "every node delegated")
        let want = try portable([input])[0], got = try delegated([input])[0]
        let logitScale = Double(max(want.floatValues().map(abs).max() ?? 1, 1e-3)) / 127
        #expect(Double(XNNPACKHarness.maxDifference(got, want)) <= 2 * logitScale)
        // Against the fp32 model: the quantization error stays small.
        let (reference, _) = try EndToEndTests.load(fp32, delegated: false)
        let exact = try reference([input])[0].floatValues(), approx = got.floatValues()
        let signal = exact.reduce(0) { $0 + Double($1 * $1) }
        let noise = zip(exact, approx).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        #expect(10 * log10(signal / max(noise, 1e-30)) >= 25)
    }
}
