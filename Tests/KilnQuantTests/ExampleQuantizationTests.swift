import KilnEmit
import KilnExamples
import KilnIR
import KilnPasses
import KilnPTE
import KilnQuant
import KilnTensor
import Testing

/// The Examples quantized with 32 calibration and 8 held-out samples, compiled with the standard
/// passes and run on the runtime's portable kernels (dq → op → q in f32 between). The SQNRs are
/// of the runtime's outputs against the float graph's on the held-out samples.
@Suite(.serialized) struct ExampleQuantizationTests {
    /// Quantizes `name` with `scheme`, runs float and quantized programs on the held-out samples.
    static func run(_ name: ExampleModels.Name, _ scheme: String)
        throws -> (report: QuantizationReport, runtimeSQNR: Double, weights: PTEWeightSizes, floatBytes: Int, bytes: Int) {
        let model = try ExampleModels.build(name)
        let heldOut = try Samples.heldOut(model)
        let (quantized, report) = try quantize(model.graph, scheme: try QuantizationSchemes.parse(scheme),
                                               calibration: try Samples.calibration(model), heldOut: heldOut)
        let float = try compileAndRun(model.graph, heldOut)
        let q = try compileAndRun(quantized, heldOut)
        let weights = PTEWeightSizes(q.compiled.file)
        let runtimeSQNR = sqnr(float.outputs, q.outputs)
        print("\(name) \(scheme): end-to-end SQNR \(report.endToEndSQNR ?? .nan) dB (graph), \(runtimeSQNR) dB (runtime); "
              + "max abs error \(report.endToEnd.first?.maxAbsError ?? .nan); weights \(weights.quantizedBytes) / "
              + "\(weights.floatBytes) B (\(weights.reduction * 100)% smaller); file \(float.compiled.bytes.count) -> "
              + "\(q.compiled.bytes.count) B")
        return (report, runtimeSQNR, weights, float.compiled.bytes.count, q.compiled.bytes.count)
    }

    @Test(arguments: [ExampleModels.Name.mlp, .cnn])
    func int8StaticKeepsThirtyDecibels(_ name: ExampleModels.Name) throws {
        let r = try Self.run(name, "int8")
        #expect(r.runtimeSQNR >= 30, "\(name): \(r.runtimeSQNR) dB on the runtime")
        #expect((r.report.endToEndSQNR ?? 0) >= 30, "\(name): \(r.report.endToEndSQNR ?? .nan) dB in the graph")
        #expect(r.weights.reduction >= 0.70, "\(name): weights \(r.weights.quantizedBytes) of \(r.weights.floatBytes) B")
        #expect(r.bytes < r.floatBytes)
    }

    @Test func int8StaticDecoderBlock() throws {
        let r = try Self.run(.decoderBlock, "int8")
        // Not a target of the issue; measured 34 dB with the mask-carrying add and softmax's input in float.
        #expect(r.runtimeSQNR >= 30, "\(r.runtimeSQNR) dB")
        #expect(r.weights.reduction >= 0.70)
    }

    /// 4-bit weights of uniform random init cost about 23 dB each (scale amax / 7.5); three
    /// layers of them leave the MLP near 16 dB, while the decoder block's residual path keeps it higher.
    @Test(arguments: [(ExampleModels.Name.mlp, 14.0), (.decoderBlock, 30.0)])
    func eightDynamicFourWeightG128(_ name: ExampleModels.Name, _ least: Double) throws {
        let r = try Self.run(name, "8da4w")
        #expect(r.runtimeSQNR >= least, "\(name): \(r.runtimeSQNR) dB")
        #expect(r.weights.reduction >= 0.80, "\(name): weights \(r.weights.quantizedBytes) of \(r.weights.floatBytes) B")
    }

    @Test(arguments: [("int8-dynamic", 30.0), ("8da4w:g32", 14.0), ("8da4w:g64", 14.0)])
    func otherSchemesOnTheMLP(_ scheme: String, _ least: Double) throws {
        let r = try Self.run(.mlp, scheme)
        #expect(r.runtimeSQNR >= least, "\(scheme): \(r.runtimeSQNR) dB")
        #expect(r.weights.reduction >= 0.70)
    }
}
