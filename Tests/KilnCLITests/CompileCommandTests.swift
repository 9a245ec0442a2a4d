import Foundation
import KilnIR
import KilnExamples
import Testing

@Suite struct CompileCommandTests {
    static let model = """
        symbol batch in 1...8

        graph @forward(%x: f32[batch, 4]) {
          %w = constant f32[3, 4] dense [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
          %b = constant f32[3] dense [0.5, -0.5, 1]
          %y = linear(%x, %w, %b) loc("fc")
          %z = relu(%y) loc("act")
          return %z
        }
        """

    /// The repository's Examples folder.
    func write(_ text: String, as name: String = "model.kir") throws -> URL {
        let url = try KilnCommand.temporaryDirectory().appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func compile(_ text: String = CompileCommandTests.model) throws -> (model: URL, pte: URL) {
        let model = try write(text)
        let pte = model.deletingLastPathComponent().appendingPathComponent("model.pte")
        let r = try KilnCommand.run(["compile", model.path, "-o", pte.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        return (model, pte)
    }

    @Test func writesAPTEAndPrintsAOneLineSummary() throws {
        let model = try write(Self.model)
        let pte = model.deletingLastPathComponent().appendingPathComponent("model.pte")
        let r = try KilnCommand.run(["compile", model.path, "-o", pte.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(r.stderr.hasPrefix("wrote \(pte.path): forward: 2 nodes -> 2 instructions, 2 operators, constants "))
        #expect(r.stderr.contains("arena 224 B (lower bound 224 B)"))
        #expect(r.stderr.contains(" ms"))
        let bytes = try Data(contentsOf: pte)
        #expect(bytes.count > 64)
        #expect(String(decoding: bytes[4..<8], as: UTF8.self) == "ET12")
        #expect(String(decoding: bytes[8..<12], as: UTF8.self) == "eh00")
        // No temporary file is left beside it.
        let left = try FileManager.default.contentsOfDirectory(atPath: pte.deletingLastPathComponent().path)
        #expect(left.sorted() == ["model.kir", "model.pte"])
    }

    @Test func sameModelSameBytes() throws {
        let a = try compile()
        let b = try compile()
        #expect(try Data(contentsOf: a.pte) == Data(contentsOf: b.pte))
    }

    /// Each Example, written in-process (a fresh clone has no generated Examples/ files), compiles.
    @Test(arguments: ExampleModels.Name.allCases)
    func compilesEachExampleFile(_ name: ExampleModels.Name) throws {
        let dir = try KilnCommand.temporaryDirectory()
        let model = dir.appendingPathComponent("\(name.rawValue).kir")
        try KIRFile.write(try ExampleModels.build(name).graph, to: model.path)
        let pte = dir.appendingPathComponent("\(name.rawValue).pte")
        let r = try KilnCommand.run(["compile", model.path, "-o", pte.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: pte.path))
    }

    @Test func failureExitsOneNamingTheFileAndWritesNothing() throws {
        let model = try write("""
            symbol s in 1...4
            symbol t in 1...4
            graph @g(%x: f32[s, t, 8], %w: f32[4, 8]) {
              %y = linear(%x, %w) loc("attn")
              return %y
            }
            """)
        let pte = model.deletingLastPathComponent().appendingPathComponent("model.pte")
        let r = try KilnCommand.run(["compile", model.path, "-o", pte.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(model.path): error:"))
        #expect(r.stderr.contains("linear"))
        #expect(r.stderr.contains("decompose"))
        #expect(!FileManager.default.fileExists(atPath: pte.path))
    }

    @Test func badModelExitsOne() throws {
        let model = try write(Self.model.replacingOccurrences(of: "relu(%y)", with: "relu(%nope)"))
        let pte = model.deletingLastPathComponent().appendingPathComponent("model.pte")
        let r = try KilnCommand.run(["compile", model.path, "-o", pte.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains(model.path))
        #expect(!FileManager.default.fileExists(atPath: pte.path))
    }

    @Test func unwritableOutputExitsOneNamingIt() throws {
        let model = try write(Self.model)
        let r = try KilnCommand.run(["compile", model.path, "-o", "/nonexistent/dir/model.pte"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("/nonexistent/dir/model.pte"))
    }

    @Test func dumpAfterPrintsTheGraph() throws {
        let model = try write(Self.model)
        let pte = model.deletingLastPathComponent().appendingPathComponent("model.pte")
        let r = try KilnCommand.run(["compile", model.path, "-o", pte.path, "--dump-after", "decompose"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.hasPrefix("// after decompose\nkir 1\n"))
        #expect(r.stdout.contains("addmm("))
        #expect(r.stdout.contains("permute_copy("))
    }

    @Test func usageErrorsExitSixtyFour() throws {
        let model = try write(Self.model)
        #expect(try KilnCommand.run(["compile", model.path]).status == 64)
        #expect(try KilnCommand.run(["compile", "model.tflite", "-o", "x.pte"]).status == 64)
        let unknown = try KilnCommand.run(["compile", model.path, "-o", "x.pte", "--dump-after", "fold"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("unknown pass 'fold'"))
        #expect(try KilnCommand.run(["inspect"]).status == 64)
    }

    // MARK: inspect

    @Test func inspectShowsHeaderSegmentsPlanAndInstructions() throws {
        let (_, pte) = try compile()
        let r = try KilnCommand.run(["inspect", pte.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let text = r.stdout
        #expect(text.hasPrefix("\(pte.path): "))
        #expect(text.contains("header: program "))
        #expect(text.contains("segments: 1\n  [0] offset 0, "))
        #expect(text.contains("plan \"forward\": "))
        #expect(text.contains("tensors: 3 planned, 2 constant, 0 unplanned"))
        #expect(text.contains("  inputs:\n    %0 f32[8, 4] (dynamic bound) @1:"))
        #expect(text.contains("    [0] aten::addmm.out\n    [1] aten::relu.out\n"))
        // addmm(bias, x, weight^T folded into a constant, beta=1, alpha=1) -> y; addmm produces
        // linear's result, so it keeps linear's debug handle (#0).
        #expect(text.contains("[0] aten::addmm.out(%1, %0, %2, 1, 1) -> %5  #0 loc(\"fc\")"))
        #expect(text.contains("[1] aten::relu.out(%5) -> %6  #1 loc(\"act\")"))
        #expect(text.contains("arena 1: "))
    }

    @Test func inspectJSONIsOneStableObject() throws {
        let (_, pte) = try compile()
        let a = try KilnCommand.run(["inspect", pte.path, "--json"])
        #expect(a.status == 0, "stderr: \(a.stderr)")
        let b = try KilnCommand.run(["inspect", pte.path, "--json"])
        #expect(a.stdout == b.stdout)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as? [String: Any])
        #expect(object["file"] as? String == pte.path)
        let plans = try #require(object["execution_plans"] as? [[String: Any]])
        #expect(plans.count == 1)
        #expect(plans[0]["name"] as? String == "forward")
        #expect(plans[0]["operators"] as? [String] == ["aten::addmm.out", "aten::relu.out"])
        let chains = try #require(plans[0]["chains"] as? [[[String: Any]]])
        #expect(chains[0].count == 2)
        #expect(chains[0][1]["text"] as? String == "aten::relu.out(%5) -> %6")
        #expect(chains[0][1]["location"] as? String == "act")
        let inputs = try #require(plans[0]["inputs"] as? [[String: Any]])
        #expect(inputs[0]["sizes"] as? [Int] == [8, 4])
        #expect(inputs[0]["dynamic_bound"] as? Bool == true)
    }

    @Test func inspectRejectsABadFileNamingIt() throws {
        let dir = try KilnCommand.temporaryDirectory()
        let bad = dir.appendingPathComponent("bad.pte")
        try Data((0..<64).map { UInt8($0) }).write(to: bad)
        let r = try KilnCommand.run(["inspect", bad.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains(bad.path))

        let missing = try KilnCommand.run(["inspect", dir.appendingPathComponent("none.pte").path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("none.pte"))
    }

    @Test func inspectNamesTheFieldOfACorruptProgram() throws {
        let (_, pte) = try compile()
        var bytes = [UInt8](try Data(contentsOf: pte))
        // Cut the file inside its constant segment: the segment no longer fits.
        bytes.removeLast(8)
        try Data(bytes).write(to: pte)
        let r = try KilnCommand.run(["inspect", pte.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains(pte.path))
    }
}
