import KilnIR
import KilnPasses
import Testing

/// Text in, text out: every pass against its `Golden/<pass>.kir` (and the decompositions of each op
/// group against `Golden/decompose-<group>.kir`), with the verifier after the pass.
@Suite struct GoldenTests {
    /// Runs pass `passName` on every case of `Golden/<file>.kir` (default: the pass's own file).
    static func check(_ passName: String, file: String? = nil) throws {
        let pass = try #require(PassRegistry.pass(named: passName), "no pass called \(passName)")
        let name = file ?? passName
        let cases = try Golden.cases(name)
        #expect(cases.contains { if case .unchanged = $0.expectation { true } else { false } },
                "\(name).kir needs a case that must not change")
        for c in cases {
            var graph = try parse(c.input, file: "\(name).kir")
            switch c.expectation {
            case .error(let phrase):
                do {
                    try runPasses([pass], on: &graph)
                    Issue.record("case '\(c.label)': expected an error containing '\(phrase)', got:\n\(KIRPrinter.print(graph))")
                } catch let error as PassError {
                    #expect(error.description.contains(phrase), "case '\(c.label)': \(error)")
                }
            case .unchanged:
                try runPasses([pass], on: &graph)
                let printed = KIRPrinter.print(graph)
                #expect(printed == c.input, "case '\(c.label)' changed; got:\n\(printed)")
            case .text(let expected):
                try runPasses([pass], on: &graph)
                let printed = KIRPrinter.print(graph)
                #expect(printed == expected, "case '\(c.label)'; got:\n\(printed)")
                // The expected text is canonical and reads back as the same graph.
                let same = try parse(expected, file: "\(passName).kir (expected)") == graph
                #expect(same, "case '\(c.label)': the expected text parses to another graph")
            }
        }
    }

    func check(_ passName: String) throws { try Self.check(passName) }

    @Test func deadCodeElimination() throws { try check("dead-code-elimination") }

    @Test func commonSubexpressionElimination() throws { try check("common-subexpression-elimination") }

    @Test(.enabled(if: kernelsExist("add.Tensor", "mul.Scalar", "relu", "permute_copy", "_native_batch_norm_legit_no_training"),
                   "constant folding evaluates with the portable kernels, which are not all registered yet"))
    func constantFolding() throws { try check("constant-folding") }

    @Test func decompose() throws { try check("decompose") }

    @Test(arguments: ["math", "shaping", "sampling"])
    func decomposeOpGroup(_ group: String) throws { try Self.check("decompose", file: "decompose-\(group)") }

    @Test func foldBatchNorm() throws { try check("fold-batch-norm") }

    @Test func simplifyLayout() throws { try check("simplify-layout") }

    @Test func markActivationFusion() throws { try check("mark-activation-fusion") }
}
