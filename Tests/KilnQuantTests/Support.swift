import Foundation
import KilnEmit
import KilnExamples
import KilnIR
import KilnPTE
import KilnQuant
import KilnRuntime
import KilnTensor
import Testing

// Shared vocabulary of the KilnQuant tests: seeded samples for the Examples, compiling and
// running quantized graphs on the runtime.

/// Seeded calibration and held-out samples for an Example: standard normal inputs shaped like the
/// Example's input, each sample from its own stream (`scripts/quant/make_samples.py` writes the
/// same kind of samples as `.npy` folders for `kiln compile --calibration`).
enum Samples {
    static let calibrationCount = 32
    static let heldOutCount = 8

    /// `count` samples of `model`'s input; `split` (`calibration`, `held-out`) picks the streams.
    static func make(_ model: ExampleModel, split: String, count: Int) throws -> [[Tensor]] {
        try (0..<count).map { n in
            var rng = SeededGenerator(seed: fnv1a("\(model.name)/\(split)/\(n)"))
            let shape = model.input.shape
            return [try Tensor(normal(&rng, count: shape.reduce(1, *)), shape: shape)]
        }
    }

    static func calibration(_ model: ExampleModel) throws -> [[Tensor]] {
        try make(model, split: "calibration", count: calibrationCount)
    }

    static func heldOut(_ model: ExampleModel) throws -> [[Tensor]] {
        try make(model, split: "held-out", count: heldOutCount)
    }

    /// Box-Muller standard normals.
    static func normal(_ rng: inout SeededGenerator, count: Int) -> [Float] {
        (0..<count).map { _ in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}

/// A fresh temporary folder, removed after `body`.
func withTemporaryFolder<T>(_ body: (URL) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-quant-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

/// Compiles `graph` with the standard passes, loads the program on the runtime and runs it on
/// every sample: the outputs per sample, and the compilation.
func compileAndRun(_ graph: Graph, _ samples: [[Tensor]]) throws -> (outputs: [[Tensor]], compiled: Compilation) {
    let compiled = try KilnCompiler.compile(graph)
    let outputs = try withTemporaryFolder { folder in
        let path = folder.appendingPathComponent("model.pte").path
        try FileIO.writeAtomically(compiled.bytes, to: path)
        let method = try Program.load(path: path, backends: BackendRegistry()).method()
        return try samples.map { try method($0).map { try Tensor($0.floatValues(), shape: $0.shape) } }
    }
    return (outputs, compiled)
}

/// SQNR of `actual` against `reference`, over every sample's first output.
func sqnr(_ reference: [[Tensor]], _ actual: [[Tensor]]) -> Double {
    var acc = SQNRAccumulator()
    for (r, a) in zip(reference, actual) { acc.add(reference: r[0], actual: a[0]) }
    return acc.sqnr
}

/// The `Golden/` folder of this target.
let goldenFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
