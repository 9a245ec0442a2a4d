import Foundation
import KilnTensor
import Testing

@Suite struct CheckCommandTests {
    static let model = """
        // A small model with a symbolic sequence length.
        symbol seq in 1...64

        graph @forward(%x: f32[1, seq, 4]) {
          %w = constant f32[2, 4] dense [1, 2, 3, 4, 5, 6, 7, 8]
          %y = linear(%x, %w) loc("fc")
          %z = relu(%y)
          return %z
        }
        """

    func write(_ text: String, as name: String = "model.kir") throws -> URL {
        let url = try KilnCommand.temporaryDirectory().appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func printsCanonicalFormWithInferredTypes() throws {
        let file = try write(Self.model)
        let r = try KilnCommand.run(["check", file.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.hasPrefix("kir 1\nsymbol seq in 1...64\n"))
        #expect(r.stdout.contains("%y = linear(%x, %w) : f32[1, seq, 2] #0 loc(\"fc\")"))
        #expect(r.stdout.contains("%z = relu(%y) : f32[1, seq, 2] #1"))
        // The canonical output is a fixed point.
        let again = try KilnCommand.run(["check", try write(r.stdout).path])
        #expect(again.stdout == r.stdout)
    }

    @Test func writesTextAndSidecarWithOutputOption() throws {
        var text = "graph @g(%x: f32[128]) {\n  %w = constant f32[128] dense ["
        text += (0..<128).map { "\($0).5" }.joined(separator: ", ") + "]\n"
        text += "  %y = mul.Tensor(%x, %w)\n  return %y\n}\n"
        let input = try write(text)
        let output = input.deletingLastPathComponent().appendingPathComponent("out.kir")
        let r = try KilnCommand.run(["check", input.path, "-o", output.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let written = try String(contentsOf: output, encoding: .utf8)
        #expect(written.contains("sidecar \"out.kir.bin\""))
        #expect(written.contains("%w = constant f32[128] sidecar(offset=0, bytes=512)"))
        let sidecar = try Data(contentsOf: output.appendingPathExtension("bin"))
        #expect(sidecar.count == 512)
        // The written pair reads back.
        let back = try KilnCommand.run(["check", output.path, "--inline-constants"])
        #expect(back.status == 0, "stderr: \(back.stderr)")
        #expect(back.stdout.contains("127.5]"))
    }

    @Test func badInputExitsOneWithPositionOnStderr() throws {
        let file = try write(Self.model.replacingOccurrences(of: "relu(%y)", with: "relu(%nope)"))
        let r = try KilnCommand.run(["check", file.path])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("\(file.path):7:"))
        #expect(r.stderr.contains("%nope is not defined"))
    }

    @Test func typeErrorNamesTheNode() throws {
        let file = try write(Self.model.replacingOccurrences(of: "f32[2, 4]", with: "f32[2, 5]")
            .replacingOccurrences(of: "7, 8]", with: "7, 8, 9, 10]"))
        let r = try KilnCommand.run(["check", file.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("linear"))
        #expect(r.stderr.contains("in_features"))
    }

    @Test func missingFileExitsOne() throws {
        let r = try KilnCommand.run(["check", "/nonexistent/model.kir"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("/nonexistent/model.kir"))
    }

    @Test func usageErrorsExitSixtyFour() throws {
        #expect(try KilnCommand.run(["check"]).status == 64)
        #expect(try KilnCommand.run(["check", "model.tflite"]).status == 64)
        #expect(try KilnCommand.run(["check", "a.kir", "--input-shape", "x=1x2"]).status == 64)
        #expect(try KilnCommand.run(["check", "a.onnx", "--input-shape", "x=1xbad"]).status == 64)
        #expect(try KilnCommand.run(["check", "a.kir", "--no-such-flag"]).status == 64)
        #expect(try KilnCommand.run(["frobnicate"]).status == 64)
    }

    @Test func versionAndHelp() throws {
        let v = try KilnCommand.run(["--version"])
        #expect(v.status == 0)
        #expect(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let h = try KilnCommand.run(["--help"])
        #expect(h.status == 0)
        #expect(h.stdout.contains("check"))
        #expect(h.stdout.contains("ops"))
        let ch = try KilnCommand.run(["check", "--help"])
        #expect(ch.stdout.contains("sidecar"))
    }

    /// Whatever the bytes, `kiln check` answers with status 0 or 1, never a crash.
    @Test func garbageNeverCrashes() throws {
        var rng = SeededGenerator(seed: 7)
        let base = Array(Self.model.utf8)
        for _ in 0..<40 {
            var bytes = base
            for _ in 0..<4 {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: i)
                default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                }
            }
            let url = try KilnCommand.temporaryDirectory().appendingPathComponent("fuzz.kir")
            try Data(bytes).write(to: url)
            let r = try KilnCommand.run(["check", url.path])
            #expect(r.status == 0 || r.status == 1, "status \(r.status) for input:\n\(String(decoding: bytes, as: UTF8.self))\n\(r.stderr)")
        }
    }
}

@Suite struct OpsCommandTests {
    @Test func listsEveryOpAndShowsOne() throws {
        let r = try KilnCommand.run(["ops"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("aten::addmm.out"))
        #expect(r.stdout.contains("quantized_decomposed.quantize_per_tensor"))
        let one = try KilnCommand.run(["ops", "convolution"])
        #expect(one.stdout.hasPrefix("convolution(Tensor input, Tensor weight, Tensor? bias"))
        #expect(try KilnCommand.run(["ops", "nope"]).status != 0)
    }
}

