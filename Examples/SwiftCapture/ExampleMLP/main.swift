// ExampleMLP: a three-layer perceptron written in Swift, traced by KilnCapture, compiled to an
// ExecuTorch-format .pte and run on Kiln's runtime.
//
//     swift run ExampleMLP [OUTPUT.pte]
//
// The weights are the `mlp` Example's seeded ones, saved as safetensors and loaded by name, and
// the input is the Example's seeded input, so the printed logits are `kiln eval`'s on
// Examples/mlp/mlp.kir (to float32 rounding: the runtime's GEMM sums in another order).
import Foundation
import KilnCapture
import KilnCaptureExamples
import KilnEmit
import KilnExamples
import KilnIR
import KilnRuntime
import KilnTensor

/// The model (KilnCaptureExamples' `MLP` has the same layers):
///
///     final class MLP: Module {
///         let fc1 = Linear(256, 512), fc2 = Linear(512, 512), fc3 = Linear(512, 10)
///         func callAsFunction(_ x: TracedTensor) -> TracedTensor { fc3(relu(fc2(relu(fc1(x))))) }
///     }
func run() throws {
    let arguments = CommandLine.arguments.dropFirst()
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-example-mlp-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let ptePath = arguments.first ?? folder.appendingPathComponent("mlp.pte").path

    // 1. Weights: the Example's seeded parameters, written as a safetensors file and loaded by path.
    let example = try ExampleModels.build(.mlp)
    let weights = example.graph.constants.compactMap { id in
        example.graph[id].constantData.map { (name: example.graph[id].name, tensor: $0) }
    }
    let weightsPath = folder.appendingPathComponent("mlp.safetensors").path
    try SafetensorsFile.write(weights, to: weightsPath)
    let model = MLP()
    try model.load(safetensors: weightsPath)
    print("loaded \(model.namedParameters().count) tensors from \(weightsPath)")

    // 2. Capture: every call becomes a KilnIR node at its Swift line.
    let graph = try capture(model, inputs: [TensorSpec("x", [1, 256])], name: "mlp")
    print(KIRPrinter.print(graph, constants: .sidecar(fileName: "mlp.kir.bin", threshold: 0)).text)

    // 3. Compile to .pte and run it on a seeded input.
    let compiled = try KilnCompiler.compile(graph)
    try FileIO.writeAtomically(compiled.bytes, to: ptePath)
    print("wrote \(ptePath) (\(compiled.bytes.count) bytes)")
    let logits = try Program.load(path: ptePath).method()([example.input])[0]
    print("logits \(logits.dtype)\(logits.shape):")
    print(logits.floatValues().map { String(format: "%.6f", $0) }.joined(separator: " "))
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("ExampleMLP: \(error)\n".utf8))
    exit(1)
}
