#if canImport(Glibc)
import Glibc
#endif
import KilnEmit
import KilnExamples
import KilnIR
import KilnPartition
import KilnPasses
import KilnRuntime
import KilnTensor
import NPUCompiler
import NPURuntime
import Testing

/// The Examples quantized for the NPU through partition → lower → `.pte` → runtime, against
/// the float32 graph: SQNR on an input that was not among the calibration samples.
struct EndToEndTests {
    struct Result {
        var sqnr: Double
        /// SQNR against the portable kernels running the same quantized graph.
        var sqnrVsPortable: Double
        var cycles: Int
        var plan: DelegationPlan
        var method: Method
    }

    static func sqnr(_ reference: [Float], _ got: [Float]) -> Double {
        var signal = 0.0, noise = 0.0
        for (r, g) in zip(reference, got) {
            signal += Double(r) * Double(r)
            noise += Double(r - g) * Double(r - g)
        }
        return 10 * log10(signal / max(noise, 1e-30))
    }

    static func normal(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var r = Numbers(seed)
        let count = shape.reduce(1, *)
        // Sum of uniforms: roughly normal, unit variance.
        let values = (0..<count).map { _ in (0..<4).map { _ in Float(r.next() % 10000) / 10000 - 0.5 }.reduce(0, +) * 1.73 }
        return try Tensor(values, shape: shape)
    }

    /// Compiles a lowered graph to a `.pte` and loads its method with the NPU runtime registered.
    static func load(_ lowered: Graph, tag: String) throws -> Method {
        let compiled = try KilnCompiler.compile(lowered)
        let path = "/tmp/kiln-npu-e2e-\(tag)-\(getpid()).pte"
        try FileIO.writeAtomically(compiled.bytes, to: path)
        defer { unlink(path) }
        let registry = BackendRegistry()
        registry.register(NPURuntime())
        return try Program.load(path: path, backends: registry).method()
    }

    func run(_ name: ExampleModels.Name, activation: DType, linearWeightBits: Int = 8) throws -> Result {
        let example = try ExampleModels.build(name)
        let catalog = BackendCatalog()
        catalog.register(NPUCompiler())
        let pipeline = DelegationPipeline(backends: try catalog.resolve(["npu"]))
        let canonical = try pipeline.canonicalize(example.graph)
        let shape = example.input.shape
        let calibration = [example.input] + (try (1...3).map { try Self.normal(shape, seed: UInt64($0)) })
        let quantized = try HandQuantizer.quantize(canonical, calibration: calibration, activation: activation,
                                                   linearWeightBits: linearWeightBits)
        let (lowered, plan) = try pipeline.run(quantized)
        let method = try Self.load(lowered, tag: "\(name)")
        let input = try Self.normal(shape, seed: 77)
        let got = try method([input])[0].scalars(as: Float.self)
        let reference = try GraphEvaluator(example.graph).run([input]).outputs[0].scalars(as: Float.self)
        let portable = try GraphEvaluator(quantized).run([input]).outputs[0].scalars(as: Float.self)
        var cycles = 0
        for d in lowered.delegates {
            cycles += try d.payload.withUnsafeBytes { try NPUExecutable(payload: $0) }.totalCycles
        }
        return Result(sqnr: Self.sqnr(reference, got), sqnrVsPortable: Self.sqnr(portable, got), cycles: cycles, plan: plan, method: method)
    }

    @Test func cnn8a8wIsAbove30dB() throws {
        let r = try run(.cnn, activation: .int8)
        #expect(r.plan.partitions.count == 1)
        #expect(r.plan.placements.allSatisfy { $0.backend == "npu" })
        #expect(r.sqnr >= 30, "cnn 8a8w SQNR \(r.sqnr) dB")
        // Against the portable kernels on the same quantized graph (float-scale rounding there,
        // fixed point here) the logits agree to within rounding.
        #expect(r.sqnrVsPortable >= 40, "cnn 8a8w vs portable \(r.sqnrVsPortable) dB")
        print("npu e2e: cnn 8a8w SQNR \(r.sqnr) dB (vs portable int: \(r.sqnrVsPortable)), \(r.cycles) simulated cycles")
    }

    @Test func cnn16a8w() throws {
        let r = try run(.cnn, activation: .int16)
        #expect(r.sqnr >= 45, "cnn 16a8w SQNR \(r.sqnr) dB")
        print("npu e2e: cnn 16a8w SQNR \(r.sqnr) dB, \(r.cycles) simulated cycles")
    }

    @Test func mlp8a8wAnd16a4w() throws {
        let a = try run(.mlp, activation: .int8)
        #expect(a.sqnr >= 25, "mlp 8a8w SQNR \(a.sqnr) dB")
        let b = try run(.mlp, activation: .int16, linearWeightBits: 4)
        // Min/max per-channel 4-bit weights (no groups, no clipping search) cost most of the MLP's
        // accuracy: about 14 dB, measured; the bound is what this quantizer can promise.
        #expect(b.sqnr >= 12, "mlp 16a4w SQNR \(b.sqnr) dB")
        print("npu e2e: mlp 8a8w SQNR \(a.sqnr) dB, \(a.cycles) cycles; 16a4w SQNR \(b.sqnr) dB, \(b.cycles) cycles")
    }

    @Test func profilingShowsSimulatedTimePerOp() throws {
        let r = try run(.mlp, activation: .int8)
        r.method.isProfiling = true
        _ = try r.method([try Self.normal([1, 256], seed: 5)])
        let names = r.method.delegateEvents.map(\.name)
        #expect(names.contains("npu total"))
        #expect(names.contains { $0.hasPrefix("npu fully_connected linear") })
        #expect(names.contains("npu energy nJ"))
    }
}
