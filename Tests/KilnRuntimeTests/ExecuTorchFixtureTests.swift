import Foundation
import KilnRuntime
import KilnTensor
import Testing

/// Programs ExecuTorch 1.5.1 wrote (`Tests/KilnPTETests/Fixtures/executorch`, read in place)
/// load and run in Kiln's runtime; the outputs match what ExecuTorch's own runtime gave for the
/// same input to within 1e-5 relative (measured: see `maxError`).
@Suite struct ExecuTorchFixtureTests {
    static let folder = testsFolder.appendingPathComponent("KilnPTETests/Fixtures/executorch")

    /// Largest relative error accepted against ExecuTorch's output.
    static let tolerance = 1e-5

    @Test(arguments: ["tiny_mlp", "tiny_cnn", "cnn"])
    func matchesExecuTorchsOutput(_ name: String) throws {
        let program = try Program.load(path: Self.folder.appendingPathComponent("\(name).pte").path)
        #expect(program.methodNames == ["forward"])
        let method = try program.method("forward")
        let input = try Npy.read(path: Self.folder.appendingPathComponent("\(name).input.npy").path)
        let expected = try Npy.read(path: Self.folder.appendingPathComponent("\(name).executorch.npy").path)
        let outputs = try method([input])
        #expect(outputs.count == 1)
        let got = try #require(outputs.first)
        #expect(got.dtype == expected.dtype)
        #expect(got.shape == expected.shape)
        let error = maxRelativeError(got, expected)
        print("ExecuTorch fixture \(name): max relative error \(error) against ExecuTorch's output")
        #expect(error <= Self.tolerance, "\(name): max relative error \(error)")
    }

    @Test func inputMetaComesFromTheFile() throws {
        let program = try Program.load(path: Self.folder.appendingPathComponent("tiny_mlp.pte").path)
        let method = try program.method()
        let meta = try method.inputMeta(0)
        #expect(meta.dtype == .float32)
        #expect(meta.sizes == [2, 16])
        #expect(!meta.isDynamic)
        #expect(meta.description == "f32[2, 16]")
        #expect(try method.outputMeta(0).sizes == [2, 4])
        expectRuntimeError(.inputCount, "out of range") { _ = try method.inputMeta(1) }
    }
}
