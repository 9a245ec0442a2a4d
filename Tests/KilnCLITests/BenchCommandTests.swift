import Foundation
import KilnEmit
import KilnExamples
import KilnTensor
import Testing

/// `kiln bench` on programs compiled in-process.
@Suite struct BenchCommandTests {
    /// The CNN Example compiled to `cnn.pte` in a fresh folder, with its input as `x.npy`.
    func setUp() throws -> (pte: URL, input: URL, instructions: Int) {
        let dir = try KilnCommand.temporaryDirectory()
        let model = try ExampleModels.build(.cnn)
        let compiled = try KilnCompiler.compile(model.graph)
        let pte = dir.appendingPathComponent("cnn.pte")
        try FileIO.writeAtomically(compiled.bytes, to: pte.path)
        let x = dir.appendingPathComponent("x.npy")
        try Npy.write(model.input, to: x.path)
        return (pte, x, compiled.file.program.executionPlan[0].chains[0].instructions.count)
    }

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func jsonCarriesTheTimesInOrder() throws {
        let (pte, _, _) = try setUp()
        let r = try KilnCommand.run(["bench", pte.path, "--json", "--warmup", "1", "--iterations", "7"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.split(separator: "\n").count == 1)
        let json = try object(r.stdout)
        for key in ["load_ms", "first_run_ms", "min_ms", "median_ms", "p90_ms", "mean_ms", "max_ms"] {
            let value = try #require(json[key] as? Double, "\(key) missing")
            #expect(value > 0, "\(key) = \(value)")
        }
        let (minimum, median, p90, maximum) = (json["min_ms"] as! Double, json["median_ms"] as! Double,
                                               json["p90_ms"] as! Double, json["max_ms"] as! Double)
        #expect(minimum <= median && median <= p90 && p90 <= maximum)
        #expect(json["iterations"] as? Int == 7)
        #expect(json["warmup"] as? Int == 1)
        #expect(json["inputs"] as? String == "random")
        // The CNN's arena is 512 KiB; its weights stay in the file mapping.
        #expect((json["method_owned_bytes"] as? Int ?? 0) >= 512 * 1024)
        #expect(json["instructions"] == nil)
        // No terminal: no progress on stderr.
        #expect(r.stderr.isEmpty)
    }

    @Test func threadsAreUsedAndReported() throws {
        let (pte, _, _) = try setUp()
        let r = try KilnCommand.run(["bench", pte.path, "--json", "--threads", "2", "--warmup", "0", "--iterations", "2"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(try object(r.stdout)["threads"] as? Int == 2)
        #expect(r.stderr.isEmpty, "no warning about threads any more: \(r.stderr)")
        let one = try KilnCommand.run(["bench", pte.path, "--json", "--warmup", "0", "--iterations", "1"])
        #expect(try object(one.stdout)["threads"] as? Int == 1)
    }

    @Test func profileListsEveryInstructionWithItsCalls() throws {
        let (pte, x, count) = try setUp()
        let r = try KilnCommand.run(["bench", pte.path, "--input", x.path, "--json", "--profile",
                                     "--warmup", "0", "--iterations", "4"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try object(r.stdout)
        #expect(json["inputs"] as? String == x.path)
        let rows = try #require(json["instructions"] as? [[String: Any]])
        #expect(rows.count == count)
        #expect(rows.map { $0["index"] as? Int } == Array(0..<count))
        #expect(rows.allSatisfy { $0["calls"] as? Int == 4 })
        #expect(rows.contains { $0["subject"] as? String == "aten::convolution.out" && $0["location"] as? String == "blocks.0.conv" })
        let share = rows.compactMap { $0["share"] as? Double }.reduce(0, +)
        #expect(abs(share - 1) < 0.01)
        let operators = try #require(json["operators"] as? [[String: Any]])
        #expect(operators.first?["subject"] as? String == "aten::convolution.out")
        #expect(operators.compactMap { $0["calls"] as? Int }.reduce(0, +) == 4 * count)
    }

    @Test func textNamesTheFiguresAndTheTable() throws {
        let (pte, _, _) = try setUp()
        let r = try KilnCommand.run(["bench", pte.path, "--profile", "--warmup", "0", "--iterations", "2"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        for needle in ["load ", "first run ", "median ", "p90 ", "profile over 2 runs", "by operator",
                       "aten::convolution.out loc(\"blocks.0.conv\")"] {
            #expect(r.stdout.contains(needle), "missing \(needle)")
        }
    }

    @Test func badInputsAndFlagsAreReported() throws {
        let (pte, _, _) = try setUp()
        let dir = pte.deletingLastPathComponent()
        let wrong = dir.appendingPathComponent("wrong.npy")
        try Npy.write(try Tensor([Float](repeating: 0, count: 6), shape: [2, 3]), to: wrong.path)
        let r = try KilnCommand.run(["bench", pte.path, "--input", wrong.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("input 0 (%"))
        #expect(r.stderr.contains(wrong.path))
        #expect(try KilnCommand.run(["bench", pte.path, "--iterations", "0"]).status == 64)
        #expect(try KilnCommand.run(["bench", pte.path, "--warmup", "-1"]).status == 64)
        #expect(try KilnCommand.run(["bench", pte.path, "--threads", "0"]).status == 64)
        let missing = try KilnCommand.run(["bench", dir.appendingPathComponent("none.pte").path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("none.pte"))
    }
}

extension BenchCommandTests {
    @Test func withoutPrepackingTheMethodOwnsNoWeightCopy() throws {
        let (pte, _, _) = try setUp()
        let packed = try object(try KilnCommand.run(["bench", pte.path, "--json", "--iterations", "1"]).stdout)
        let plain = try object(try KilnCommand.run(["bench", pte.path, "--json", "--iterations", "1", "--no-prepack"]).stdout)
        #expect((packed["prepacked_bytes"] as? Int ?? 0) > 0)
        #expect(plain["prepacked_bytes"] as? Int == 0)
        #expect((plain["method_owned_bytes"] as? Int ?? 0) < (packed["method_owned_bytes"] as? Int ?? 0))
    }
}
