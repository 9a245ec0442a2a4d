import KilnEmit
import KilnExamples
import KilnIR
import KilnPasses
import KilnPTE
import Testing

@Suite struct CompilerTests {
    @Test(arguments: ExampleModels.Name.allCases)
    func everyExampleCompiles(_ name: ExampleModels.Name) throws {
        let model = try ExampleModels.build(name)
        let result = try KilnCompiler.compile(model.graph, options: CompileOptions(verifyEachPass: true, checksPlan: true))
        let report = result.report
        let ep = result.file.program.executionPlan[0]
        #expect(ep.name == model.graph.name)
        #expect(report.instructions == report.nodesAfter)
        #expect(report.instructions == ep.chains[0].instructions.count)
        #expect(ep.chains[0].stacktrace.count == report.instructions)
        #expect(report.operators == ep.operators.count)
        #expect(Set(ep.operators.map { "\($0.name).\($0.overload)" }).count == ep.operators.count)
        #expect(report.arenaLowerBound <= report.arenaBytes)
        #expect(ep.nonConstBufferSizes == [0, Int64(report.arenaBytes)])
        #expect(report.passes.map(\.pass) == ["decompose", "constant-folding", "fold-batch-norm", "simplify-layout",
                                              "mark-activation-fusion", "common-subexpression-elimination",
                                              "dead-code-elimination"])
        // Every constant's bytes are in the segment at an aligned offset.
        let offsets = try #require(result.file.program.constantSegment?.offsets)
        #expect(offsets.first == 0)
        #expect(offsets.allSatisfy { $0 % UInt64(PTEFile.constantTensorAlignment) == 0 })
        #expect(report.constantBytes == result.file.segments[0].count)
        // Every constant the optimized graph keeps is stored (batch norms folded away take theirs along).
        var optimized = model.graph
        try PassManager(CompileOptions.standardPasses).run(&optimized)
        let kept = optimized.constants.compactMap { optimized[$0].constantData?.byteCount }.reduce(0, +)
        #expect(report.constantBytes >= kept)
    }

    @Test func compilingTwiceGivesTheSameProgram() throws {
        let graph = try ExampleModels.build(.decoderBlock).graph
        let a = try KilnCompiler.compile(graph)
        let b = try KilnCompiler.compile(graph)
        #expect(a.file == b.file)
        #expect(a.bytes == b.bytes)
    }

    @Test func deepMLPCompiles() throws {
        let graph = try deepMLP(layers: 8, hidden: 64)
        let result = try KilnCompiler.compile(graph)
        let report = result.report
        // linear -> permute_copy (folded into a constant) + addmm; relu.
        #expect(report.instructions == 16)
        #expect(result.file.program.executionPlan[0].operators.map(\.name) == ["aten::addmm", "aten::relu"])
        // A chain keeps two activations live at a time.
        #expect(report.arenaLowerBound == 2 * 64 * 4)
        #expect(report.arenaBytes == report.arenaLowerBound)
    }

    @Test func passFailureBecomesAnEmitError() throws {
        let g = try parse("""
            symbol s in 1...4
            symbol t in 1...4
            graph @g(%x: f32[s, t, 8], %w: f32[4, 8]) {
              %y = linear(%x, %w) loc("attn")
              return %y
            }
            """)
        expectEmitError(.pass, "decompose", "linear", "view_copy") {
            _ = try KilnCompiler.compile(g)
        }
    }

    @Test func dumpAfterReceivesTheGraph() throws {
        final class Box: @unchecked Sendable { var dumps: [String] = [] }
        let box = Box()
        var options = CompileOptions()
        options.dumpAfter = ["decompose"]
        options.dump = { pass, text in box.dumps.append(pass + "\n" + text) }
        _ = try KilnCompiler.compile(try ExampleModels.build(.mlp).graph, options: options)
        #expect(box.dumps.count == 1)
        #expect(box.dumps.first?.hasPrefix("decompose\n") == true)
        #expect(box.dumps.first?.contains("addmm(") == true)
    }

    @Test func reportSummaryReadsInOneLine() throws {
        let report = try KilnCompiler.compile(try ExampleModels.build(.mlp).graph).report
        let line = report.description
        #expect(!line.contains("\n"))
        #expect(line.hasPrefix("mlp: 5 nodes -> "))
        #expect(line.contains("arena"))
        #expect(CompileReport.bytes(512) == "512 B")
        #expect(CompileReport.bytes(4096) == "4.0 KB")
        #expect(CompileReport.bytes(1_153_434) == "1.1 MB")
    }
}
