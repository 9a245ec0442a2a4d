import KilnIR
import KilnOps
import KilnPasses
import Testing

/// A pass that breaks the graph (it drops the outputs), to test the verifier after each pass.
private struct DropOutputs: Pass {
    static let name = "drop-outputs"
    static let summary = "remove every output (a broken pass)"
    func run(_ graph: inout Graph) throws(PassError) { graph.outputs = [] }
}

/// Collects dumps; the manager calls the sink synchronously on the caller's thread.
private final class DumpLog: @unchecked Sendable {
    var entries: [(pass: String, text: String)] = []
}

/// A pass that fails without naming itself.
private struct Fails: Pass {
    static let name = "fails"
    static let summary = "always fails"
    func run(_ graph: inout Graph) throws(PassError) { throw PassError(.unsupported, "no") }
}

@Suite struct PassManagerTests {
    static let model = """
        graph @forward(%x: f32[2, 3], %w: f32[4, 3]) {
          %unused = constant f32[1] dense [0.0]
          %a = relu(%x)
          %b = relu(%x)
          %dead = neg(%a)
          %y = linear(%b, %w) loc("fc")
          %z = add.Tensor(%a, %a)
          return %y, %z
        }
        """

    @Test func runsPassesInOrderWithStatistics() throws {
        var graph = try parse(Self.model)
        let stats = try runPasses([CommonSubexpressionElimination(), DeadCodeElimination(), Decompose()], on: &graph)
        #expect(stats.map(\.pass) == ["common-subexpression-elimination", "dead-code-elimination", "decompose"])
        #expect(stats.map(\.nodesBefore) == [5, 4, 3])
        #expect(stats.map(\.nodesAfter) == [4, 3, 4])
        #expect(stats.map(\.constantsAfter) == [1, 0, 0])
        #expect(stats[1].description == "dead-code-elimination: 4 -> 3 nodes, 1 -> 0 constants")
        #expect(graph.nodes.map(\.op.name) == ["relu", "permute_copy", "mm", "add.Tensor"])
    }

    @Test func dumpsAfterTheNamedPassesOnly() throws {
        var graph = try parse(Self.model)
        let log = DumpLog()
        let manager = PassManager([CommonSubexpressionElimination(), DeadCodeElimination(), Decompose()],
                                  verifyEachPass: true, dumpAfter: ["dead-code-elimination", "decompose"]) { pass, text in
            log.entries.append((pass, text))
        }
        try manager.run(&graph)
        #expect(log.entries.map(\.pass) == ["dead-code-elimination", "decompose"])
        #expect(log.entries.last?.text == KIRPrinter.print(graph))
        #expect(log.entries.first?.text.contains("linear(%a, %w)") == true)
    }

    @Test func verifierAfterEachPassNamesTheBrokenPass() throws {
        let original = try parse(Self.model)
        var graph = original
        expectPassError(.verification, "drop-outputs: the graph does not verify after this pass", "returns nothing") {
            try runPasses([DeadCodeElimination(), DropOutputs()], on: &graph)
        }
        #expect(graph == original, "a failed run leaves the graph as it was")
        // Without verification the broken graph goes through.
        try PassManager([DropOutputs()], verifyEachPass: false).run(&graph)
        #expect(graph.outputs.isEmpty)
    }

    @Test func errorsCarryThePassName() throws {
        var graph = try parse(Self.model)
        expectPassError(.unsupported, "error: fails: no") {
            try runPasses([Fails()], on: &graph)
        }
    }

    @Test func registryFindsEveryPassByItsKebabCaseName() throws {
        #expect(PassRegistry.names == ["dead-code-elimination", "common-subexpression-elimination",
                                       "constant-folding", "decompose", "fold-batch-norm", "simplify-layout",
                                       "mark-activation-fusion"])
        for type in PassRegistry.all {
            #expect(type.name.allSatisfy { $0.isLowercase || $0 == "-" }, "\(type.name) is not kebab-case")
            #expect(!type.summary.isEmpty && !type.summary.contains("\n"))
            #expect(PassRegistry.pass(named: type.name)?.name == type.name)
        }
        #expect(PassRegistry.pass(named: "cse") == nil)
        #expect(try PassRegistry.passes(named: ["decompose", "dead-code-elimination"]).map(\.name)
                == ["decompose", "dead-code-elimination"])
        expectPassError(.unknownPass, "unknown pass 'cse'; valid passes: dead-code-elimination, "
                        + "common-subexpression-elimination, constant-folding, decompose") {
            _ = try PassRegistry.passes(named: ["decompose", "cse"])
        }
    }

    @Test func passOptionsAreTypedWithDefaults() {
        #expect(ConstantFolding().maxBytes == 64 << 20)
        #expect(ConstantFolding(maxBytes: 16).maxBytes == 16)
        #expect(Decompose().allowPartial == false)
    }
}
