import KilnIR
import KilnKernels
import KilnOps
import KilnPasses
import KilnTensor
import Testing

@Suite struct RewriterTests {
    @Test func freshNamesAvoidEveryNameInTheGraph() throws {
        // %y.1 and %w.t are taken, so the new values take the next free names.
        var graph = try parse("""
            graph @forward(%x: f32[2, 2, 3], %w: f32[4, 3], %y.1: f32[1], %w.t: f32[1]) {
              %y = linear(%x, %w)
              %y.2 = relu(%y)
              return %y.2, %y.1, %w.t
            }
            """)
        try runPasses([Decompose()], on: &graph)
        let names = graph.nodes.flatMap(\.results).map { graph[$0].name }
        #expect(names == ["w.t.1", "y.3", "y.4", "y", "y.2"])
        #expect(Set(graph.values.map(\.name)).count == graph.values.count)
    }

    /// The node producing the rewritten node's result (addmm, not the weight's permute_copy)
    /// keeps its handle and location; other new nodes get fresh handles above the graph's.
    @Test func resultProducerKeepsTheHandleAndLocationOthersGetFreshHandles() throws {
        var graph = try parse("""
            graph @forward(%x: f32[2, 3], %w: f32[4, 3]) {
              %a = relu(%x) #10
              %y = linear(%a, %w) #4 loc("fc")
              %z = neg(%y) #2
              return %z
            }
            """)
        try runPasses([Decompose()], on: &graph)
        #expect(graph.nodes.map { $0.op.name } == ["relu", "permute_copy", "mm", "neg"])
        #expect(graph.nodes.map(\.debugHandle) == [10, 11, 4, 2])
        #expect(graph.nodes.map { $0.location?.text } == [nil, "fc", "fc", nil])
    }

    @Test func erasingAValueStillInUseIsAnError() throws {
        var graph = try parse("graph @forward(%x: f32[2]) {\n  %a = relu(%x)\n  %b = neg(%a)\n  return %b\n}\n")
        expectPassError(.rewrite, "%b = neg (#1): test: %a was removed, but is still used") {
            try GraphRewriter.rewrite(&graph, pass: "test") { _, node in node.op.name == "relu" ? .erase : .keep }
        }
        expectPassError(.rewrite, "output %b was removed") {
            try GraphRewriter.rewrite(&graph, pass: "test") { _, node in node.op.name == "neg" ? .erase : .keep }
        }
    }

    @Test func replacementsMustKeepTheType() throws {
        var graph = try parse("graph @forward(%x: f32[2, 3]) {\n  %a = relu(%x)\n  return %a\n}\n")
        expectPassError(.rewrite, "%a = relu (#0): test: replacement of %a is f32[3, 2], expected f32[2, 3]") {
            try GraphRewriter.rewrite(&graph, pass: "test") { rw, node throws(PassError) in
                let x = try rw.mapped(node.operands[0])
                return .replace(try rw.emit("permute_copy", ["self": .tensor(x), "dims": .intList([1, 0])]))
            }
        }
    }

    @Test func emitReportsBadArgumentsAgainstTheNode() throws {
        var graph = try parse("graph @forward(%x: f32[2, 3]) {\n  %a = relu(%x)\n  return %a\n}\n")
        expectPassError(.rewrite, "%a = relu (#0): test: permute_copy needs argument 'dims'") {
            try GraphRewriter.rewrite(&graph, pass: "test") { rw, node throws(PassError) in
                .replace(try rw.emit("permute_copy", ["self": .tensor(try rw.mapped(node.operands[0]))]))
            }
        }
        expectPassError(.rewrite, "relu has no parameter 'bogus'") {
            try GraphRewriter.rewrite(&graph, pass: "test") { rw, node throws(PassError) in
                .replace(try rw.emit("relu", ["self": .tensor(try rw.mapped(node.operands[0])), "bogus": .int(1)]))
            }
        }
        expectPassError(.rewrite, "expected 2 dims for f32[2, 3], got [1, 0, 2]") {
            try GraphRewriter.rewrite(&graph, pass: "test") { rw, node throws(PassError) in
                let x = try rw.mapped(node.operands[0])
                return .replace(try rw.emit("permute_copy", ["self": .tensor(x), "dims": .intList([1, 0, 2])]))
            }
        }
    }

    @Test func decomposeLeavesTheGraphUnchangedOnErrorUnlessPartialIsAllowed() throws {
        let original = try parse("""
            symbol n in 1...8
            symbol s in 1...4
            symbol t in 1...4
            graph @forward(%a: f32[n, 1, 3, 4], %b: f32[1, 5, 4, 6], %x: f32[s, t, 6], %w: f32[4, 6]) {
              %y = matmul(%a, %b) loc("scores")
              %s = linear(%x, %w)
              %l = linear(%y, %w)
              return %l, %s
            }
            """)
        var graph = original
        expectPassError(.unsupported, "cannot decompose 2 nodes into core ops:",
                        "\n  %y = matmul (#0, loc(\"scores\")): matmul of", "\n  %s = linear (#1): f32[s, t, 6] would need") {
            try runPasses([Decompose()], on: &graph)
        }
        #expect(graph == original)
        try runPasses([Decompose(allowPartial: true)], on: &graph)
        #expect(graph.nodes.filter { $0.op.pte == nil }.map(\.op.name) == ["matmul", "linear"])
        #expect(graph.nodes.contains { $0.op.name == "mm" })
    }
}

@Suite(.enabled(if: kernelsExist("add.Tensor", "relu"), "constant folding needs the add.Tensor and relu kernels"))
struct ConstantFoldingTests {
    static let model = """
        graph @forward(%x: f32[3]) {
          %a = constant f32[3] dense [1.0, 2.0, 3.0]
          %s = add.Tensor(%a, %a)
          %r = relu(%s)
          %y = add.Tensor(%x, %r)
          return %y
        }
        """

    @Test func maxBytesCapsTheFoldedSize() throws {
        var small = try parse(Self.model)
        try runPasses([ConstantFolding(maxBytes: 11)], on: &small)
        #expect(small.nodes.map(\.op.name) == ["add.Tensor", "relu", "add.Tensor"])

        var exact = try parse(Self.model)
        try runPasses([ConstantFolding(maxBytes: 12)], on: &exact)
        #expect(exact.nodes.map(\.op.name) == ["add.Tensor"])
        let r = try #require(exact.constants.first { exact[$0].name == "r" })
        #expect(exact[r].constantData?.scalars(as: Float.self) == [2, 4, 6])
    }

    @Test func foldingThenDeadCodeEliminationLeavesOnlyWhatIsUsed() throws {
        var graph = try parse(Self.model)
        try runPasses([ConstantFolding(), DeadCodeElimination()], on: &graph)
        #expect(graph.constants.map { graph[$0].name } == ["r"])
        #expect(graph.nodes.count == 1)
    }
}
