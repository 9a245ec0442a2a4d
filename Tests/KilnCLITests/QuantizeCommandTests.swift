import Foundation
import KilnTensor
import Testing

/// `kiln compile --quantize`: sample folders, the report (table and JSON), `--dump-after quantize`,
/// usage errors, and `kiln inspect` marking Kiln's own operators.
@Suite struct QuantizeCommandTests {
    /// A linear over 64 features (a multiple of every 8da4w group size) and a relu.
    static func model() -> String {
        let values: [String] = (0..<(3 * 64)).map { (i: Int) -> String in
            let step: Int = (i * 37) % 29 - 14
            return String(Double(step) / 16)
        }
        let weights = values.joined(separator: ", ")
        return """
            graph @forward(%x: f32[2, 64]) {
              %w = constant f32[3, 64] dense [\(weights)]
              %b = constant f32[3] dense [0.5, -0.5, 1]
              %y = linear(%x, %w, %b) loc("fc")
              %z = relu(%y) loc("act")
              return %z
            }
            """
    }

    /// A folder with `count` samples (`NNN/input_0.npy`) of seeded values in [-1, 1).
    static func samples(in folder: URL, _ name: String, count: Int, seed: UInt64) throws -> String {
        var rng = SeededGenerator(seed: seed)
        for n in 0..<count {
            let dir = folder.appendingPathComponent(name).appendingPathComponent(String(format: "%03d", n))
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let values = (0..<128).map { _ in Float.random(in: -1..<1, using: &rng) }
            try Npy.write(try Tensor(values, shape: [2, 64]), to: dir.appendingPathComponent("input_0.npy").path)
        }
        return folder.appendingPathComponent(name).path
    }

    static func setUp() throws -> (folder: URL, model: String) {
        let folder = try KilnCommand.temporaryDirectory()
        let model = folder.appendingPathComponent("model.kir")
        try Self.model().write(to: model, atomically: true, encoding: .utf8)
        return (folder, model.path)
    }

    @Test func int8WithCalibrationAndHeldOutSamplesWritesTheReport() throws {
        let (folder, model) = try Self.setUp()
        let calibration = try Self.samples(in: folder, "calibration", count: 8, seed: 1)
        let heldOut = try Self.samples(in: folder, "held_out", count: 3, seed: 2)
        let pte = folder.appendingPathComponent("q.pte").path, json = folder.appendingPathComponent("report.json").path
        let r = try KilnCommand.run(["compile", model, "-o", pte, "--quantize", "int8", "--calibration", calibration,
                                     "--eval-samples", heldOut, "--report", json, "--dump-after", "quantize"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("// after quantize\n"))
        #expect(r.stdout.contains("quantized_decomposed.dequantize_per_channel(%w.int8, %w.scales"))
        #expect(r.stdout.contains("quant_pattern = \"linear+relu\""))
        #expect(r.stdout.contains("quantization int8: 8 calibration samples, 3 held-out"))
        #expect(r.stdout.contains("held-out end to end: %z SQNR"))
        #expect(r.stdout.contains("% smaller, scales included"))
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        #expect(report?["scheme"] as? String == "int8")
        let tensors = report?["tensors"] as? [[String: Any]] ?? []
        #expect(tensors.contains { $0["role"] as? String == "weight" && ($0["scales"] as? [Any])?.count == 3 })
        let endToEnd = report?["end_to_end"] as? [[String: Any]] ?? []
        #expect(((endToEnd.first?["sqnr_db"] as? Double) ?? 0) > 25)
        #expect(FileManager.default.fileExists(atPath: pte))
    }

    @Test func eightDynamicFourWeightNeedsNoSamplesAndInspectMarksKilnOperators() throws {
        let (folder, model) = try Self.setUp()
        let pte = folder.appendingPathComponent("q.pte").path
        let r = try KilnCommand.run(["compile", model, "-o", pte, "--quantize", "8da4w:g32"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("held-out: skipped (no held-out samples given"))
        let inspect = try KilnCommand.run(["inspect", pte])
        #expect(inspect.stdout.contains("kiln::dequantize_per_channel_group_int4.out  (not in ExecuTorch's portable or quantized kernels)"))
        #expect(inspect.stdout.contains("quantized_decomposed::quantize_per_token.out\n"))
        let json = try KilnCommand.run(["inspect", pte, "--json"])
        #expect(json.stdout.contains("\"operators_not_in_executorch\":[\"kiln::dequantize_per_channel_group_int4.out\"]"))
    }

    @Test func usageErrors() throws {
        let (folder, model) = try Self.setUp()
        let pte = folder.appendingPathComponent("q.pte").path
        for (arguments, phrase) in [
            (["--quantize", "int8"], "--quantize int8 has static activations: give calibration samples with --calibration DIR"),
            (["--quantize", "int9"], "unknown quantization scheme 'int9'"),
            (["--calibration", folder.path], "--calibration needs --quantize"),
            (["--dump-after", "quantize"], "unknown pass 'quantize'"),
        ] {
            let r = try KilnCommand.run(["compile", model, "-o", pte] + arguments)
            #expect(r.status == 64, "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains(phrase), "\(arguments): \(r.stderr)")
        }
        // An empty sample folder is bad input (status 1), named.
        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let r = try KilnCommand.run(["compile", model, "-o", pte, "--quantize", "int8", "--calibration", empty.path])
        #expect(r.status == 1 && r.stderr.contains("no samples") && r.stderr.contains(empty.path), "\(r.stderr)")
    }
}
