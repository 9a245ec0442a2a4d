import KilnIR
import KilnOps
import KilnTensor
import Testing

/// One test per verifier message: a valid graph, corrupted directly through its public fields.
///
/// The base graph, as text:
/// ```
/// symbol seq in 1...128
/// graph @forward(%x: f32[1, seq, 4], %img: f32[1, 2, 3, 3]) {
///   %w = constant f32[2, 4] ...            %mean, %var = constant f32[2] ...
///   %0 = linear(%x, %w) : f32[1, seq, 2] #0 loc("fc")
///   %1 = relu(%0) : f32[1, seq, 2] #1
///   %bn, %bn_mean, %bn_invstd = _native_batch_norm_legit_no_training(%img, none, none, %mean, %var, ...) #2 loc("bn")
///   %2 = view_copy(%1, size=[-1, 2]) : f32[seq, 2] #3
///   return %2, %bn
/// }
/// ```
@Suite struct VerifierTests {
    /// Value ids of the base graph, by name.
    struct Base {
        var graph: Graph
        let x, img, w, mean, variance, linear, relu, bn, view: ValueID

        init() throws {
            var b = GraphBuilder(name: "forward")
            b.symbol("seq", range: 1...128)
            x = try b.input("x", TensorType(.float32, [1, Dim(seqSymbol), 4]))
            img = try b.input("img", t(.float32, 1, 2, 3, 3))
            w = try b.constant("w", try counting(.float32, [2, 4]))
            mean = try b.constant("mean", try counting(.float32, [2]))
            variance = try b.constant("var", try counting(.float32, [2]))
            linear = try b.call("linear", [x, w], location: "fc")[0]
            relu = try b.call("relu", [linear])[0]
            bn = try b.call("_native_batch_norm_legit_no_training", [img, nil, nil, mean, variance],
                            ["momentum": .float(0.1), "eps": .float(1e-5)], names: ["bn", "bn_mean", "bn_invstd"],
                            location: "bn")[0]
            view = try b.call("view_copy", [relu], ["size": .intList([-1, 2])])[0]
            b.output(view, bn)
            graph = try b.finish()
        }
    }

    /// Expects `diagnose` to report a `kind` problem about `subject` whose message contains `phrase`.
    func expectProblem(_ graph: Graph, _ kind: IRError.Kind, _ phrase: String, subject: String?,
                       sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let errors = Verifier.diagnose(graph)
        let match = errors.first { $0.kind == kind && $0.message.contains(phrase) }
        #expect(match != nil, "no \(kind) containing '\(phrase)' in:\n\(errors.map(\.description).joined(separator: "\n"))",
                sourceLocation: sourceLocation)
        if let match {
            #expect(match.subject == subject, "\(match)", sourceLocation: sourceLocation)
            #expect(match.description == "error: " + (subject.map { $0 + ": " } ?? "") + match.message,
                    sourceLocation: sourceLocation)
        }
        #expect(throws: IRError.self, sourceLocation: sourceLocation) { try Verifier.verify(graph) }
    }

    @Test func baseGraphIsValid() throws {
        let base = try Base()
        #expect(Verifier.diagnose(base.graph).isEmpty)
        try expectRoundTrip(base.graph)
    }

    // MARK: Names

    @Test func duplicateName() throws {
        var base = try Base()
        base.graph[base.img].name = "x"
        expectProblem(base.graph, .duplicateName, "value %x is defined more than once", subject: "input %x")
    }

    @Test func duplicateDefinition() throws {
        var base = try Base()
        base.graph.inputs.append(base.x)
        expectProblem(base.graph, .duplicateName, "value %x is defined by two definitions", subject: "input %x")
    }

    @Test func invalidValueName() throws {
        var base = try Base()
        base.graph[base.relu].name = "not valid"
        expectProblem(base.graph, .invalidName, "value name 'not valid' is not a valid identifier",
                      subject: "%not valid = relu (#1)")
    }

    @Test func invalidSymbolName() throws {
        var base = try Base()
        base.graph.symbols.append(Symbol("", range: 1...2))
        expectProblem(base.graph, .invalidName, "symbol name '' is not a valid identifier", subject: nil)
    }

    // MARK: Definitions

    @Test func useBeforeDefinition() throws {
        var base = try Base()
        base.graph.nodes[0].arguments[0] = .tensor(base.relu)
        expectProblem(base.graph, .undefinedValue, "uses %1 before it is defined", subject: "%0 = linear (#0, loc(\"fc\"))")
    }

    @Test func outputNotDefined() throws {
        var base = try Base()
        base.graph.values.append(Value(name: "ghost", type: t(.float32, 1), definition: .input))
        base.graph.outputs.append(ValueID(base.graph.values.count - 1))
        expectProblem(base.graph, .undefinedValue, "returns %ghost, which is not defined", subject: "graph @forward")
    }

    @Test func operandOutsideTheValueTable() throws {
        var base = try Base()
        base.graph.nodes[1].arguments[0] = .tensor(ValueID(99))
        expectProblem(base.graph, .undefinedValue, "uses v99 before it is defined", subject: "%1 = relu (#1)")
    }

    @Test func outputOutsideTheValueTable() throws {
        var base = try Base()
        base.graph.outputs.append(ValueID(-1))
        expectProblem(base.graph, .undefinedValue, "returns v-1, which is not defined", subject: "graph @forward")
    }

    @Test func inputOutsideTheValueTable() throws {
        var base = try Base()
        base.graph.inputs.append(ValueID(1000))
        expectProblem(base.graph, .undefinedValue, "refers to v1000, which is not in the value table", subject: "input %v1000")
    }

    @Test func resultOutsideTheValueTable() throws {
        var base = try Base()
        base.graph.nodes[1].results[0] = ValueID(-5)
        expectProblem(base.graph, .undefinedValue, "refers to v-5, which is not in the value table", subject: "%? = relu (#1)")
    }

    @Test func inputNotDefinedAsAnInput() throws {
        var base = try Base()
        base.graph[base.img].definition = .constant(try counting(.float32, [1, 2, 3, 3]))
        expectProblem(base.graph, .undefinedValue, "is listed as an input but is not defined as one", subject: "input %img")
    }

    @Test func resultNotRecordingItsNode() throws {
        var base = try Base()
        base.graph[base.relu].definition = .result(node: 0, result: 0)
        expectProblem(base.graph, .undefinedValue, "result %1 does not record this node as its definition",
                      subject: "%1 = relu (#1)")
    }

    // MARK: Nodes

    @Test func arity() throws {
        var base = try Base()
        base.graph.nodes[3].arguments.removeLast()
        expectProblem(base.graph, .arity, "view_copy: expected 2 arguments (view_copy(Tensor self, int[] size) -> Tensor), got 1",
                      subject: "%2 = view_copy (#3)")
    }

    @Test func opRule() throws {
        var base = try Base()
        base.graph.nodes[3].arguments[1] = .intList([-1, 3])
        expectProblem(base.graph, .opRule, "view_copy: argument 'size': cannot view f32[1, seq, 2]",
                      subject: "%2 = view_copy (#3)")
    }

    @Test func argumentOfTheWrongKind() throws {
        var base = try Base()
        base.graph.nodes[1].arguments[0] = .int(3)
        expectProblem(base.graph, .opRule, "relu: argument 'self': expected Tensor, got an int", subject: "%1 = relu (#1)")
    }

    @Test func resultCount() throws {
        var base = try Base()
        base.graph.nodes[2].results.removeLast()
        expectProblem(base.graph, .resultCount, "_native_batch_norm_legit_no_training has 3 results, the node has 2",
                      subject: "%bn, %bn_mean = _native_batch_norm_legit_no_training (#2, loc(\"bn\"))")
    }

    @Test func resultType() throws {
        var base = try Base()
        base.graph[base.relu].type = t(.float16, 1, 2)
        expectProblem(base.graph, .resultType, "result 0 is typed f16[1, 2], but relu gives f32[1, seq, 2]",
                      subject: "%1 = relu (#1)")
    }

    @Test func duplicateHandle() throws {
        var base = try Base()
        base.graph.nodes[1].debugHandle = 0
        expectProblem(base.graph, .duplicateHandle, "debug handle #0 is also used by %0 = linear (#0, loc(\"fc\"))",
                      subject: "%1 = relu (#0)")
    }

    // MARK: Constants

    @Test func constantWithoutData() throws {
        var base = try Base()
        base.graph[base.w].definition = .input
        expectProblem(base.graph, .constantData, "is listed as a constant but holds no data", subject: "constant %w")
    }

    @Test func constantDataOfAnotherShape() throws {
        var base = try Base()
        base.graph[base.mean].definition = .constant(try counting(.float32, [3]))
        expectProblem(base.graph, .constantData, "holds f32[3] but is declared f32[2]", subject: "constant %mean")
    }

    @Test func constantDataOfAnotherDType() throws {
        var base = try Base()
        base.graph[base.mean].definition = .constant(try counting(.float16, [2]))
        expectProblem(base.graph, .constantData, "holds f16[2] but is declared f32[2]", subject: "constant %mean")
    }

    @Test func dynamicConstant() throws {
        var base = try Base()
        base.graph[base.w].type = TensorType(.float32, [Dim(seqSymbol), 4])
        expectProblem(base.graph, .dynamicConstant, "has symbolic shape f32[seq, 4]; constants must be static",
                      subject: "constant %w")
    }

    // MARK: Symbols and shapes

    @Test func symbolWithNegativeLowerBound() throws {
        var base = try Base()
        base.graph.symbols.append(Symbol("len", range: -1...4))
        expectProblem(base.graph, .symbolRange, "symbol len has range -1...4; sizes cannot be negative", subject: nil)
    }

    @Test func symbolUsedWithAnotherRange() throws {
        var base = try Base()
        base.graph.symbols = [Symbol("seq", range: 1...64)]
        expectProblem(base.graph, .symbolRange, "uses symbol seq with range 1...128, declared 1...64", subject: "input %x")
    }

    @Test func duplicateSymbol() throws {
        var base = try Base()
        base.graph.symbols.append(seqSymbol)
        expectProblem(base.graph, .duplicateSymbol, "symbol seq is declared twice", subject: nil)
    }

    @Test func unknownSymbol() throws {
        var base = try Base()
        base.graph.symbols = []
        expectProblem(base.graph, .unknownSymbol, "uses symbol seq, which the graph does not declare", subject: "input %x")
    }

    @Test func negativeDim() throws {
        var base = try Base()
        base.graph[base.x].type = TensorType(.float32, [1, try Dim(seqSymbol) - 2, 4])
        expectProblem(base.graph, .negativeDim, "%x has dimension seq - 2, which can be negative", subject: "input %x")
    }

    // MARK: Graph

    @Test func noOutputs() throws {
        var base = try Base()
        base.graph.outputs = []
        expectProblem(base.graph, .noOutputs, "graph @forward returns nothing", subject: nil)
    }

    @Test func diagnoseReportsEveryProblemInGraphOrder() throws {
        var base = try Base()
        base.graph.symbols.append(seqSymbol)
        base.graph[base.img].name = "x"
        base.graph.nodes[1].debugHandle = 0
        base.graph.nodes[3].arguments.removeLast()
        base.graph.outputs = []
        let errors = Verifier.diagnose(base.graph)
        #expect(errors.map(\.kind) == [.duplicateSymbol, .duplicateName, .duplicateHandle, .arity, .noOutputs],
                "\(errors.map(\.description))")
        let first = try #require(throws: IRError.self) { try Verifier.verify(base.graph) }
        #expect(first == errors[0])
    }

    @Test func idsOutsideTheValueTableNeverCrash() throws {
        for bad in [ValueID(-1), ValueID(Int.min), ValueID(1 << 40)] {
            var base = try Base()
            base.graph.inputs.append(bad)
            base.graph.constants.append(bad)
            base.graph.nodes[0].arguments[1] = .tensor(bad)
            base.graph.nodes[1].results.append(bad)
            base.graph.nodes[2].results[1] = bad
            base.graph.nodes[3].arguments[0] = .tensorList([bad])
            base.graph.outputs.append(bad)
            let errors = Verifier.diagnose(base.graph)
            #expect(errors.count >= 6)
            #expect(errors.contains { $0.kind == .undefinedValue })
        }
    }
}
