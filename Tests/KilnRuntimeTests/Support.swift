import Foundation
import KilnEmit
import KilnIR
import KilnPasses
import KilnRuntime
import KilnTensor
import Testing

// Shared vocabulary of the KilnRuntime tests: compiling graphs to files, loading them, comparing
// tensors bit for bit, expecting runtime errors.

/// The repository's `Tests/` folder (fixtures of other targets are read from there, by path).
let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary folder, removed after `body`.
func withTemporaryFolder<T>(_ body: (URL) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-runtime-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer {
        // A read-only file in the folder does not stop removal (the folder is writable).
        try? FileManager.default.removeItem(at: folder)
    }
    return try body(folder)
}

/// Writes `bytes` to `name` in `folder` and loads it.
func load(_ bytes: [UInt8], in folder: URL, name: String = "model.pte",
          backends: BackendRegistry = BackendRegistry()) throws -> Program {
    let path = folder.appendingPathComponent(name).path
    try FileIO.writeAtomically(bytes, to: path)
    return try Program.load(path: path, backends: backends)
}

/// `graph` after `passes`, as the compiler emits it.
func afterPasses(_ graph: Graph, _ passes: [any Pass] = CompileOptions.standardPasses) throws -> Graph {
    var copy = graph
    _ = try PassManager(passes).run(&copy)
    return copy
}

/// The passes that leave graph inputs alone: no constant folding.
var passesWithoutFolding: [any Pass] {
    [Decompose(), CommonSubexpressionElimination(), DeadCodeElimination()]
}

/// Expects `body` to throw a ``RuntimeError`` of `kind` whose description contains every phrase.
func expectRuntimeError(_ kind: RuntimeError.Kind, _ phrases: String...,
                        sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(kind) error", sourceLocation: sourceLocation)
    } catch let error as RuntimeError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(error.description.contains(phrase), "'\(error)' lacks '\(phrase)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a RuntimeError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// The first byte where `a` and `b` differ, or a description of how their types differ; nil
/// when they are equal bit for bit.
func bitwiseDifference(_ a: Tensor, _ b: Tensor) -> String? {
    guard a.dtype == b.dtype, a.shape == b.shape else { return "\(a) vs \(b)" }
    let (x, y) = (a.withUnsafeRawBytes { Array($0) }, b.withUnsafeRawBytes { Array($0) })
    guard let first = zip(x, y).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset else { return nil }
    let element = first / max(a.dtype.byteSize, 1)
    return "element \(element) differs: \(a.floatValues()[element]) vs \(b.floatValues()[element])"
}

/// The largest `|a - b| / max(1, |b|)` over the elements (NaNs in the same places count as equal).
func maxRelativeError(_ a: Tensor, _ b: Tensor) -> Double {
    var worst = 0.0
    for (x, y) in zip(a.floatValues(), b.floatValues()) {
        if x.isNaN && y.isNaN { continue }
        if x == y { continue }
        worst = max(worst, Double(abs(x - y)) / max(1, Double(abs(y))))
    }
    return worst
}

/// A tensor of `shape` with a deterministic pattern of values in about [-1, 1].
func patterned(_ shape: [Int], seed: Int = 0) throws -> Tensor {
    let count = shape.reduce(1, *)
    return try Tensor((0..<count).map { Float(($0 &* 37 &+ seed &* 11) % 101) / 50 - 1 }, shape: shape)
}

/// Runs `python3 scripts/pte/run_with_executorch.py MODEL --input ... --output-dir DIR` (ExecuTorch's
/// own runtime); nil when python3, torch or the executorch wheel is missing.
func runInExecuTorch(_ model: URL, inputs: [URL], outputDir: URL) throws -> (status: Int32, output: String)? {
    let root = testsFolder.deletingLastPathComponent()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", root.appendingPathComponent("scripts/pte/run_with_executorch.py").path, model.path]
        + inputs.flatMap { ["--input", $0.path] } + ["--output-dir", outputDir.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    return output.hasPrefix("SKIP") || output.contains("No module named") ? nil : (process.terminationStatus, output)
}
