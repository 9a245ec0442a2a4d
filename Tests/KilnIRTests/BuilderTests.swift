import KilnIR
import KilnOps
import KilnTensor
import Testing

/// GraphBuilder: binding calls, filling defaults, reporting mistakes at the call, naming values;
/// and graph equality.
@Suite struct BuilderTests {
    @Test func positionalAndKeywordArgumentsBindInParameterOrder() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 1, 3, 8, 8))
        let w = try b.input("w", t(.float32, 4, 3, 3, 3))
        let y = try b.call("convolution", [x, w], ["groups": .int(1), "padding": .intList([1, 1])], location: "conv")
        let node = try #require(b.graph.nodes.last)
        #expect(node.arguments == [
            .tensor(x), .tensor(w), .none, .intList([1, 1]), .intList([1, 1]), .intList([1, 1]), .bool(false),
            .intList([0, 0]), .int(1),
        ])
        #expect(b.graph.type(of: y[0]) == t(.float32, 1, 4, 8, 8))
        #expect(node.location == SourceLocation("conv"))
        #expect(node.debugHandle == 0)
    }

    @Test func aTensorParameterMayBeNamed() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2, 3))
        let w = try b.input("w", t(.float32, 4, 3))
        let bias = try b.input("bias", t(.float32, 4))
        try b.call("linear", [x], ["weight": .tensor(w), "bias": .tensor(bias)])
        #expect(b.graph.nodes[0].arguments == [.tensor(x), .tensor(w), .tensor(bias)])
    }

    @Test func defaultsAreFilled() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2, 10))
        let stats = try b.input("stats", t(.float32, 10))
        try b.call("slice_copy.Tensor", [x])
        try b.call("batch_norm", [x, nil, nil, stats, stats])
        #expect(b.graph.nodes[0].arguments == [.tensor(x), .int(0), .none, .none, .int(1)])
        #expect(b.graph.nodes[1].arguments.suffix(4) == [.bool(false), .float(0.1), .float(1e-5), .bool(true)])
    }

    @Test func unknownOpSuggestsCloseNames() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2))
        let overloads = try #require(throws: IRError.self) { try b.call("add", [x, x]) }
        #expect(overloads.kind == .unknownOp)
        #expect(overloads.message == "unknown op 'add'; did you mean 'add.Scalar' or 'add.Tensor' or 'addmm'?")
        let wrongOverload = try #require(throws: IRError.self) { try b.call("softmax.dim", [x]) }
        #expect(wrongOverload.message.hasSuffix("did you mean 'softmax.int'?"))
        let nothingClose = try #require(throws: IRError.self) { try b.call("frobnicate", [x]) }
        #expect(nothingClose.message == "unknown op 'frobnicate' (`kiln ops` lists the ops)")
    }

    @Test func argumentBindingMistakes() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2))
        let tooMany = try #require(throws: IRError.self) { try b.call("relu", [x, x]) }
        #expect(tooMany.kind == .positionalArgument)
        #expect(tooMany.message.hasPrefix("relu takes 1 tensor arguments, 2 given"))
        let unknown = try #require(throws: IRError.self) { try b.call("relu", [x], ["inplace": .bool(true)]) }
        #expect(unknown.kind == .unknownArgument)
        #expect(unknown.message == "relu has no argument 'inplace' (it has: self)")
        let twice = try #require(throws: IRError.self) { try b.call("relu", [x], ["self": .tensor(x)]) }
        #expect(twice.kind == .duplicateArgument)
        let missing = try #require(throws: IRError.self) { try b.call("view_copy", [x]) }
        #expect(missing.kind == .missingArgument)
        #expect(missing.message.hasPrefix("view_copy needs argument 'size' (int[])"))
        #expect(b.graph.nodes.isEmpty, "a failed call adds nothing")
    }

    @Test func wrongKindsNameTheOpAndArgument() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2, 3))
        let e = try #require(throws: IRError.self) { try b.call("view_copy", [x], ["size": .int(6)]) }
        #expect(e.kind == .opRule)
        #expect(e.message == "view_copy: argument 'size': expected int[], got an int")
        #expect(e.subject == "view_copy (#0)")
        let absent = try #require(throws: IRError.self) { try b.call("linear", [x, nil]) }
        #expect(absent.message == "linear: argument 'weight': expected Tensor, got none")
    }

    @Test func typeErrorsCarryTheOpArgumentAndLocation() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2, 3))
        let w = try b.input("w", t(.float32, 4, 5))
        try b.call("relu", [x])
        let e = try #require(throws: IRError.self) { try b.call("linear", [x, w], location: "model.fc") }
        #expect(e.kind == .opRule)
        #expect(e.subject == "linear (#1, loc(\"model.fc\"))")
        #expect(e.message == "linear: argument 'weight': in_features (weight dim 1) is 5, expected 3")
        #expect(e.description == "error: linear (#1, loc(\"model.fc\")): " + e.message)
        let dtype = try #require(throws: IRError.self) { try b.call("silu", [try b.input("i", t(.int32, 2))]) }
        #expect(dtype.message == "silu: argument 'self': expected a floating-point tensor, got i32")
    }

    @Test func autoNamingSkipsTakenNames() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("0", t(.float32, 2))
        let two = try b.input("2", t(.float32, 2))
        let a = try b.call("relu", [x])[0]
        let c = try b.call("relu", [a])[0]
        let d = try b.call("add.Tensor", [c, two])[0]
        #expect([a, c, d].map { b.graph[$0].name } == ["1", "3", "4"])
        b.output(d)
        try expectRoundTrip(try b.finish())
    }

    @Test func takenNamesAreRefused() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2))
        let first = try b.call("relu", [x])[0]
        #expect(b.graph[first].name == "0")
        let again = try #require(throws: IRError.self) { try b.input("0", t(.float32, 1)) }
        #expect(again.kind == .duplicateName)
        #expect(again.message == "value %0 is defined more than once")
        let named = try #require(throws: IRError.self) { try b.call("relu", [x], names: ["x"]) }
        #expect(named.kind == .duplicateName)
        let count = try #require(throws: IRError.self) { try b.call("relu", [x], names: ["a", "b"]) }
        #expect(count.kind == .resultCount)
    }

    @Test func aFailedCallLeavesTheBuilderAsItWas() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2, 3))
        let w = try b.input("w", t(.float32, 4, 5))
        let before = b.graph
        _ = try #require(throws: IRError.self) { try b.call("linear", [x, w]) }
        _ = try #require(throws: IRError.self) {
            try b.call("quantized_decomposed.choose_qparams_per_token_asymmetric", [x], ["dtype": .dtype(.int8)],
                       names: ["scale", "x"])
        }
        _ = try #require(throws: IRError.self) {
            try b.call("quantized_decomposed.choose_qparams_per_token_asymmetric", [x], ["dtype": .dtype(.int8)],
                       names: ["s", "s"])
        }
        #expect(b.graph == before)
        // Neither the name 'scale' nor a debug handle was used up by the failed calls.
        let results = try b.call("quantized_decomposed.choose_qparams_per_token_asymmetric", [x], ["dtype": .dtype(.int8)],
                                 names: ["scale", "s"])
        #expect(b.graph[results[0]].name == "scale")
        #expect(b.graph.nodes.map(\.debugHandle) == [0])
    }

    @Test func negativeInputDimsAreRefused() throws {
        var b = GraphBuilder(name: "forward")
        b.symbol("n", range: 0...4)
        let e = try #require(throws: IRError.self) {
            try b.input("x", TensorType(.float32, [try Dim(Symbol("n", range: 0...4)) - 1]))
        }
        #expect(e.kind == .negativeDim)
        #expect(e.message == "input %x has dimension n - 1, which can be negative")
    }

    @Test func appendChecksDeclaredTypesAndHandles() throws {
        var b = GraphBuilder(name: "forward")
        let x = try b.input("x", t(.float32, 2))
        let relu = try #require(OpTable.schema(named: "relu"))
        let ok = try b.append(relu, arguments: [.tensor(x)], resultNames: ["y"], resultTypes: [t(.float32, 2)],
                              debugHandle: 10, location: nil)
        #expect(b.graph.nodes[0].debugHandle == 10)
        let e = try #require(throws: IRError.self) {
            try b.append(relu, arguments: [.tensor(ok[0])], resultNames: nil, resultTypes: [t(.float16, 2)],
                         debugHandle: nil, location: nil)
        }
        #expect(e.kind == .resultType)
        #expect(e.message == "result 0 is declared f16[2], but relu gives f32[2]")
        let arity = try #require(throws: IRError.self) {
            try b.append(relu, arguments: [], resultNames: nil, resultTypes: nil, debugHandle: nil, location: nil)
        }
        #expect(arity.kind == .arity)
        let undefined = try #require(throws: IRError.self) {
            try b.append(relu, arguments: [.tensor(ValueID(42))], resultNames: nil, resultTypes: nil, debugHandle: nil,
                         location: nil)
        }
        #expect(undefined.kind == .undefinedValue)
        #expect(undefined.message == "operand v42 is not defined")
        // Handles after an explicit one continue past it.
        try b.call("relu", [ok[0]])
        #expect(b.graph.nodes.last?.debugHandle == 11)
    }

    @Test func finishVerifies() throws {
        var b = GraphBuilder(name: "forward")
        _ = try b.input("x", t(.float32, 2))
        let e = try #require(throws: IRError.self) { try b.finish() }
        #expect(e.kind == .noOutputs)
    }

    // MARK: Equality

    @Test func equalityIgnoresUnusedValues() throws {
        let graph = try OpCase.graph("linear with bias")
        var padded = graph
        padded.values.append(Value(name: "garbage", type: t(.int8, 9), definition: .input))
        padded.values.append(Value(name: "0", type: t(.float32, 1), definition: .result(node: 7, result: 3)))
        #expect(padded == graph)
        #expect(graph == padded)
    }

    @Test func equalityIgnoresValueIDNumbering() throws {
        // The same graph with its value table in another order.
        let graph = try OpCase.graph("linear with bias")
        var shuffled = graph
        shuffled.values = graph.values.reversed()
        let remap = { (id: ValueID) in ValueID(graph.values.count - 1 - id.index) }
        shuffled.inputs = graph.inputs.map(remap)
        shuffled.constants = graph.constants.map(remap)
        shuffled.outputs = graph.outputs.map(remap)
        for i in shuffled.nodes.indices {
            shuffled.nodes[i].arguments = graph.nodes[i].arguments.map { $0.map(remap) }
            shuffled.nodes[i].results = graph.nodes[i].results.map(remap)
        }
        #expect(Verifier.diagnose(shuffled).isEmpty)
        #expect(shuffled == graph)
    }

    @Test func equalityNoticesEveryField() throws {
        let graph = try OpCase.graph("linear with bias")
        #expect(graph == graph)
        var changes: [(String, (inout Graph) -> Void)] = [
            ("name", { $0.name = "other" }),
            ("symbols", { $0.symbols.append(seqSymbol) }),
            ("value name", { $0[$0.inputs[0]].name = "renamed" }),
            ("value type", { $0[$0.inputs[0]].type = t(.float32, 2, 4) }),
            ("handle", { $0.nodes[0].debugHandle = 9 }),
            ("location", { $0.nodes[0].location = nil }),
            ("outputs", { $0.outputs.append($0.inputs[0]) }),
            ("arguments", { $0.nodes[0].arguments[2] = .none }),
        ]
        changes.append(("constant bits", { g in
            var data = g[g.constants[0]].constantData!
            data.withUnsafeMutableRawBytes { $0[0] ^= 1 }
            g[g.constants[0]].definition = .constant(data)
        }))
        for (what, change) in changes {
            var other = graph
            change(&other)
            #expect(other != graph, "\(what)")
        }
    }

    @Test func floatAttributesCompareByBits() throws {
        func scaled(_ v: Double) throws -> Graph {
            try makeGraph { b in try b.call("mul.Scalar", [try b.input("x", t(.float32, 1))], ["other": .float(v)]) }
        }
        #expect(try scaled(.nan) == scaled(.nan))
        #expect(try scaled(-0.0) != scaled(0.0))
        #expect(try scaled(1) == scaled(1))
    }
}
