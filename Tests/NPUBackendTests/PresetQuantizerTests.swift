#if canImport(Glibc)
import Glibc
#endif
import KilnEmit
import KilnExamples
import KilnIR
import KilnPartition
import KilnPasses
import KilnQuant
import KilnRuntime
import KilnTensor
import NPUCompiler
import NPURuntime
import Testing

/// The NPU's own presets (`int8`/`8a8w`, `16a8w`) through KilnQuant: quantize the CNN with the
/// quantizer the compiler offers, partition, lower, run, and compare with float32.
struct PresetQuantizerTests {
    func sqnr(scheme: String) throws -> Double {
        let example = try ExampleModels.build(.cnn)
        let compiler = NPUCompiler()
        let quantizer = try #require(compiler.quantizer(for: scheme))
        let calibration = try (1...8).map { [try EndToEndTests.normal(example.input.shape, seed: UInt64($0))] }
        let (quantized, _) = try KilnQuant.quantize(example.graph, quantizer: quantizer, name: scheme, calibration: calibration)
        let catalog = BackendCatalog()
        catalog.register(compiler)
        let (lowered, plan) = try DelegationPipeline(backends: try catalog.resolve(["npu"])).run(quantized)
        #expect(plan.partitions.count == 1 && plan.fallbacks.isEmpty, "\(plan.table())")
        let method = try EndToEndTests.load(lowered, tag: "preset-\(scheme)")
        let input = try EndToEndTests.normal(example.input.shape, seed: 99)
        let got = try method([input])[0].scalars(as: Float.self)
        let reference = try GraphEvaluator(example.graph).run([input]).outputs[0].scalars(as: Float.self)
        return EndToEndTests.sqnr(reference, got)
    }

    @Test func theInt8PresetRunsTheCNNAbove30dB() throws {
        let db = try sqnr(scheme: "8a8w")
        #expect(db >= 30, "cnn 8a8w SQNR \(db) dB")
    }

    @Test func the16a8wPresetBeatsInt8() throws {
        let db = try sqnr(scheme: "16a8w")
        #expect(db >= 40, "cnn 16a8w SQNR \(db) dB")
    }

    @Test func presetsTheNPUDoesNotHaveAreNil() {
        #expect(NPUCompiler().quantizer(for: "16a4w") == nil)
        #expect(NPUCompiler().quantizer(for: "8da4w") == nil)
    }
}
