import Foundation
import KilnEmit
import KilnExamples
import KilnIR
import KilnPasses
import KilnRuntime
import KilnTensor
import Testing
@testable import KilnCapture

/// The Examples exported from torch as ONNX (opsets 17 and 20, by scripts/onnx/export_examples.py)
/// import, run in the evaluator and in the runtime, and match onnxruntime's outputs.
///
/// The committed .onnx files keep their weights as external data in `NAME.kir.bin`, the
/// Example's sidecar; the test writes the same seeded Example next to them first.
@Suite struct ONNXExamplesTests {
    /// onnxruntime and Kiln sum in different orders; float32 rounding over up to 768-long dot
    /// products stays well inside this.
    static let rtol: Float = 1e-3
    static let atol: Float = 1e-5

    static let cases: [(ExampleModels.Name, Int)] = ExampleModels.Name.allCases.flatMap { n in [17, 20].map { (n, $0) } }

    @Test(arguments: cases)
    func matchesOnnxRuntime(_ name: ExampleModels.Name, _ opset: Int) throws {
        let fixtures = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("onnx_examples")
        let example = try ExampleModels.build(name)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-onnx-example-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try KIRFile.write(example.graph, to: folder.appendingPathComponent("\(name.rawValue).kir").path)
        let model = folder.appendingPathComponent("model.onnx").path
        try FileIO.writeAtomically(try FileIO.read(path: fixtures.appendingPathComponent("\(name.rawValue).opset\(opset).onnx").path),
                                   to: model)
        let expected = try Npy.read(path: fixtures.appendingPathComponent("\(name.rawValue).opset\(opset).ort.npy").path)

        let graph = try ONNXImporter.import(path: model)
        if name == .decoderBlock {
            // The exporter's decomposed RMSNorm comes back as Kiln's rms_norm.
            #expect(graph.nodes.filter { $0.op.name == "rms_norm" }.count == 2)
        }
        var decomposed = graph
        try Decompose().run(&decomposed)
        let evaluated = try GraphEvaluator(decomposed).run([example.input]).outputs[0]
        expectClose(evaluated, expected, "evaluator")

        let compiled = try KilnCompiler.compile(graph)
        let pte = folder.appendingPathComponent("model.pte").path
        try FileIO.writeAtomically(compiled.bytes, to: pte)
        let run = try Program.load(path: pte).method()([example.input])[0]
        expectClose(run, expected, "runtime")
    }

    func expectClose(_ got: Tensor, _ want: Tensor, _ what: String) {
        #expect(got.shape == want.shape, "\(what): shape \(got.shape), onnxruntime \(want.shape)")
        guard got.shape == want.shape else { return }
        var worst: (Int, Float, Float)?
        for (i, (a, b)) in zip(got.floatValues(), want.floatValues()).enumerated()
        where !(abs(a - b) <= Self.atol + Self.rtol * abs(b)) {
            worst = (i, a, b)
            break
        }
        #expect(worst == nil, "\(what): element \(worst?.0 ?? 0) is \(worst?.1 ?? 0), onnxruntime gives \(worst?.2 ?? 0)")
    }
}
