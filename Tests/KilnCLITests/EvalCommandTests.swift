import Foundation
import KilnTensor
import Testing

@Suite struct EvalCommandTests {
    static let model = """
        graph @forward(%x: f32[2, 3]) {
          %w = constant f32[3] dense [1, 2, 3]
          %y = mul.Tensor(%x, %w)
          %z = relu(%y) loc("act")
          return %z, %y
        }
        """

    /// A model and an input file in a fresh folder.
    func setUp(input: Tensor) throws -> (model: URL, input: URL) {
        let dir = try KilnCommand.temporaryDirectory()
        let model = dir.appendingPathComponent("m.kir")
        try Self.model.write(to: model, atomically: true, encoding: .utf8)
        let x = dir.appendingPathComponent("x.npy")
        try Npy.write(input, to: x.path)
        return (model, x)
    }

    @Test func writesOutputsIntoANewFolder() throws {
        let (model, x) = try setUp(input: try Tensor([-1, 1, 2, 3, -4, 5] as [Float], shape: [2, 3]))
        let out = model.deletingLastPathComponent().appendingPathComponent("out/nested")
        let r = try KilnCommand.run(["eval", model.path, "--input", x.path, "--output-dir", out.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("output 0 %z: f32[2, 3]"))
        let z = try Npy.read(path: out.appendingPathComponent("output_0.npy").path)
        #expect(z.scalars(as: Float.self) == [0, 2, 6, 3, 0, 15])
        let y = try Npy.read(path: out.appendingPathComponent("output_1.npy").path)
        #expect(y.scalars(as: Float.self) == [-1, 2, 6, 3, -8, 15])
    }

    @Test func threadsGiveTheSameOutputs() throws {
        let (model, x) = try setUp(input: try Tensor([-1, 1, 2, 3, -4, 5] as [Float], shape: [2, 3]))
        let out = model.deletingLastPathComponent().appendingPathComponent("out")
        let r = try KilnCommand.run(["eval", model.path, "--input", x.path, "--threads", "2", "--output-dir", out.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let z = try Npy.read(path: out.appendingPathComponent("output_0.npy").path)
        #expect(z.scalars(as: Float.self) == [0, 2, 6, 3, 0, 15])
        #expect(try KilnCommand.run(["eval", model.path, "--input", x.path, "--threads", "0"]).status == 64)
    }

    @Test func wrongInputShapeNamesTheInputAndFile() throws {
        let (model, x) = try setUp(input: try Tensor([1, 2, 3] as [Float], shape: [3]))
        let r = try KilnCommand.run(["eval", model.path, "--input", x.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("%x"))
        #expect(r.stderr.contains(x.path))
    }

    @Test func missingInputExitsOne() throws {
        let (model, _) = try setUp(input: try Tensor([0] as [Float], shape: [1]))
        let r = try KilnCommand.run(["eval", model.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("input"))
    }

    @Test func passesRunAndDumpAfterPrintsTheGraph() throws {
        let (model, _) = try setUp(input: try Tensor([0] as [Float], shape: [1]))
        let r = try KilnCommand.run(["check", model.path, "--passes", "dead-code-elimination", "--dump-after",
                                     "dead-code-elimination"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("// after dead-code-elimination"))
        #expect(r.stdout.contains("%z = relu(%y)"))
    }

    @Test func unknownPassIsAUsageError() throws {
        let (model, _) = try setUp(input: try Tensor([0] as [Float], shape: [1]))
        let r = try KilnCommand.run(["check", model.path, "--passes", "no-such-pass"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("decompose"))
    }
}
