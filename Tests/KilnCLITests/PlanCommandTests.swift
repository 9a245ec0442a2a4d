import Foundation
import Testing

/// `kiln plan`, `kiln backends` and `kiln compile --backends` from the command line.
@Suite struct PlanCommandTests {
    static let model = """
        graph @net(%x: f32[2, 8, 8, 3]) {
          %w = constant f32[4, 3] dense [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
          %y = relu(%x) loc("act")
          %z = view_copy(%y, size=[128, 3]) loc("flatten")
          %p = linear(%z, %w) loc("fc")
          %q = sigmoid(%p) loc("gate")
          return %q
        }
        """

    func write(_ text: String = PlanCommandTests.model) throws -> URL {
        let url = try KilnCommand.temporaryDirectory().appendingPathComponent("net.kir")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func backendsListsEveryDescriptorAndShowsOne() throws {
        let list = try KilnCommand.run(["backends"])
        #expect(list.status == 0, "\(list.stderr)")
        for name in ["xnnpack", "npu", "gpu"] { #expect(list.stdout.contains(name)) }
        let npu = try KilnCommand.run(["backends", "npu"])
        #expect(npu.status == 0)
        #expect(npu.stdout.contains("npu (npu, delegate id KilnNPU)"))
        #expect(npu.stdout.contains("limits: rank <= 4, static shapes"))
        let json = try KilnCommand.run(["backends", "xnnpack", "--json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(parsed?["id"] as? String == "KilnXNNPACK")
        let unknown = try KilnCommand.run(["backends", "tpu"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no backend named 'tpu' (this build has: xnnpack, npu, gpu)"))
    }

    @Test func planPrintsTableJSONAndDot() throws {
        let model = try write()
        let table = try KilnCommand.run(["plan", model.path, "--backends", "xnnpack"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("Delegation plan for @net (backends: xnnpack)"))
        #expect(table.stdout.contains("1 delegated subgraph, 4 nodes delegated, 0 on portable"))

        let json = try KilnCommand.run(["plan", model.path, "--backends", "npu,xnnpack", "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(plan["backends"] as? [String] == ["npu", "xnnpack"])
        let nodes = try #require(plan["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["op"] as? String } == ["relu", "view_copy", "linear", "sigmoid"])
        let reasons = try #require(nodes[0]["reasons"] as? [String: String])
        #expect(reasons["npu"] == "input is fp32; needs int8 or int16")
        let summary = try #require(plan["summary"] as? [String: Any])
        #expect(summary["nodes"] as? Int == 4)

        let out = model.deletingLastPathComponent().appendingPathComponent("plan.dot")
        let dot = try KilnCommand.run(["plan", model.path, "--backends", "gpu", "--format", "dot", "-o", out.path])
        #expect(dot.status == 0, "\(dot.stderr)")
        #expect(try String(contentsOf: out, encoding: .utf8).hasPrefix("digraph \"net\" {"))
    }

    @Test func usageErrorsAreCaughtBeforeReadingTheModel() throws {
        let model = try write()
        let mixed = try KilnCommand.run(["plan", model.path, "--backends", "auto,npu"])
        #expect(mixed.status == 64)
        #expect(mixed.stderr.contains("--backends auto chooses among every backend"))
        let format = try KilnCommand.run(["plan", model.path, "--format", "svg"])
        #expect(format.status == 64)
        let stage = try KilnCommand.run(["compile", model.path, "-o", "/tmp/x.pte", "--dump-after", "partition"])
        #expect(stage.status == 64)
        #expect(stage.stderr.contains("the stage partition runs with --backends"))
        let unknown = try KilnCommand.run(["compile", model.path, "-o", "/tmp/x.pte", "--backends", "tpu"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no backend named 'tpu'"))
    }

    @Test func compilingForADescriptorOnlyBackendSaysSo() throws {
        let list = try KilnCommand.run(["backends", "--json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        guard let name = entries.first(where: { $0["compiler"] as? Bool == false })?["name"] as? String else {
            return  // every backend has its compiler in this build
        }
        let model = try write()
        let r = try KilnCommand.run(["compile", model.path, "-o", "/tmp/never.pte", "--backends", name])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(name): no compiler in this build"))
    }

    @Test func planWithQuantizeComposesTheBackendsQuantizers() throws {
        let model = try write()
        let r = try KilnCommand.run(["plan", model.path, "--backends", "gpu,xnnpack", "--quantize", "int8", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("quantize: xnnpack (xnnpack-int8), in that order"))
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let nodes = try #require(plan["nodes"] as? [[String: Any]])
        let linear = try #require(nodes.first { $0["op"] as? String == "linear" })
        // The gpu runs only float: the quantized linear goes to xnnpack, its q/dq nodes with it.
        #expect(linear["placement"] as? String == "xnnpack")
        #expect((linear["reasons"] as? [String: String])?["gpu"]?.hasPrefix("input is quantized") == true)
        #expect(nodes.contains { ($0["op"] as? String)?.hasPrefix("quantized_decomposed.") == true && $0["placement"] as? String == "xnnpack" })
    }
}
