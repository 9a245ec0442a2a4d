import Foundation
import KilnEmit
import KilnIR
import KilnTensor
import Testing

/// `kiln run` on programs compiled in-process (never from generated Examples/ files).
@Suite struct RunCommandTests {
    static let model = """
        symbol batch in 1...4

        graph @forward(%x: f32[batch, 3]) {
          %w = constant f32[2, 3] dense [1, 2, 3, -1, -2, -3]
          %b = constant f32[2] dense [0.5, -0.5]
          %y = linear(%x, %w, %b) loc("fc")
          %z = relu(%y) loc("act")
          return %z, %y
        }
        """

    /// The model compiled to `model.pte` in a fresh folder, and `x.npy` holding `input`.
    func setUp(input: Tensor) throws -> (pte: URL, input: URL) {
        let dir = try KilnCommand.temporaryDirectory()
        let graph = try KIRParser.parse(Self.model, file: "model.kir")
        let pte = dir.appendingPathComponent("model.pte")
        try FileIO.writeAtomically(try KilnCompiler.compile(graph).bytes, to: pte.path)
        let x = dir.appendingPathComponent("x.npy")
        try Npy.write(input, to: x.path)
        return (pte, x)
    }

    @Test func writesOutputsIntoANewFolderAndPrintsTheirShapes() throws {
        let (pte, x) = try setUp(input: try Tensor([1, 0, 0, 0, 1, -1] as [Float], shape: [2, 3]))
        let out = pte.deletingLastPathComponent().appendingPathComponent("out/nested")
        let r = try KilnCommand.run(["run", pte.path, "--input", x.path, "--output-dir", out.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("output 0 %") == true)
        #expect(lines.first?.contains(": f32[2, 2] -> ") == true)
        #expect(lines.last?.contains(": f32[2, 2] -> ") == true)
        // y = x @ w.T + b: [1.5, -1.5], [-0.5, 0.5]; z = relu(y).
        let z = try Npy.read(path: out.appendingPathComponent("output_0.npy").path)
        #expect(z.shape == [2, 2])
        #expect(z.scalars(as: Float.self) == [1.5, 0, 0, 0.5])
        let y = try Npy.read(path: out.appendingPathComponent("output_1.npy").path)
        #expect(y.scalars(as: Float.self) == [1.5, -1.5, -0.5, 0.5])
    }

    @Test func printsWithoutWritingWhenNoFolderIsGiven() throws {
        let (pte, x) = try setUp(input: try Tensor([1, 2, 3] as [Float], shape: [1, 3]))
        let r = try KilnCommand.run(["run", pte.path, "--input", x.path, "--method", "forward"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains(": f32[1, 2]\n"))
        #expect(!r.stdout.contains("->"))
    }

    @Test func aWrongInputNamesTheInputAndItsFile() throws {
        let (pte, x) = try setUp(input: try Tensor([Float](repeating: 1, count: 15), shape: [5, 3]))
        let r = try KilnCommand.run(["run", pte.path, "--input", x.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains(pte.path))
        #expect(r.stderr.contains("input 0 (%"))
        #expect(r.stderr.contains("got f32[5, 3]"))
        #expect(r.stderr.contains(x.path))
    }

    @Test func aMissingInputExitsOne() throws {
        let (pte, _) = try setUp(input: try Tensor([0] as [Float], shape: [1]))
        let r = try KilnCommand.run(["run", pte.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("takes 1 input"))
    }

    @Test func anUnknownMethodOrBadFileExitsOne() throws {
        let (pte, x) = try setUp(input: try Tensor([1, 2, 3] as [Float], shape: [1, 3]))
        let r = try KilnCommand.run(["run", pte.path, "--input", x.path, "--method", "nope"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no method \"nope\""))
        let bad = try KilnCommand.run(["run", x.path, "--input", x.path])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains(x.path))
        let missing = try KilnCommand.run(["run", "/no/such/model.pte"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/no/such/model.pte"))
    }

    @Test func twoThreadsWriteTheSameOutputs() throws {
        let (pte, x) = try setUp(input: try Tensor([1, 0, 0, 0, 1, -1] as [Float], shape: [2, 3]))
        let dir = pte.deletingLastPathComponent()
        for threads in ["1", "2"] {
            let r = try KilnCommand.run(["run", pte.path, "--input", x.path, "--threads", threads,
                                         "--output-dir", dir.appendingPathComponent("out\(threads)").path])
            #expect(r.status == 0, "stderr: \(r.stderr)")
        }
        for file in ["output_0.npy", "output_1.npy"] {
            let one = try Data(contentsOf: dir.appendingPathComponent("out1/\(file)"))
            let two = try Data(contentsOf: dir.appendingPathComponent("out2/\(file)"))
            #expect(one == two, "\(file) differs between 1 and 2 threads")
        }
    }

    @Test func usageErrorsExitSixtyFour() throws {
        #expect(try KilnCommand.run(["run"]).status == 64)
        #expect(try KilnCommand.run(["run", "model.pte", "--bogus"]).status == 64)
        #expect(try KilnCommand.run(["run", "model.pte", "--threads", "0"]).status == 64)
    }
}
