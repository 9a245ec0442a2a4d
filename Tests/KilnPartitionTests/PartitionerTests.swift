#if canImport(Glibc)
import Glibc
#endif
import KilnEmit
import KilnIR
import KilnOps
import KilnPartition
import KilnPasses
import KilnRuntime
import KilnTensor
import Testing

/// Graphs built to trap the partitioner: cycles, straddled quantized patterns, alternation,
/// nothing claimable, a lone reshape; and a whole round trip through a test-only backend.
struct PartitionerTests {
    let backend = ElementwiseTestBackend.Compiler()

    static func f32(_ dims: Int...) -> TensorType { TensorType(.float32, static: dims) }

    /// The plan's placement of the node producing value `name`.
    func placement(_ plan: DelegationPlan, _ name: String) -> DelegationPlan.Placement? {
        plan.placements.first { p in plan.graph.nodes[p.node].results.contains { plan.graph[$0].name == name } }
    }

    @Test func aDiamondThatWouldCloseACycleSplitsInTwo() throws {
        // a = relu(x) → b = sigmoid(a) (not taken) → c = add(a, b): {a, c} as one delegate would
        // need b's result before it could run, and b needs the delegate's.
        var b = GraphBuilder(name: "diamond")
        let x = try b.input("x", Self.f32(2, 3))
        let a = try b.call("relu", [x], names: ["a"])[0]
        let s = try b.call("sigmoid", [a], names: ["s"])[0]
        let c = try b.call("add.Tensor", [a, s], names: ["c"])[0]
        b.output(c)
        let plan = Partitioner(backends: [backend.descriptor]).plan(try b.finish())
        #expect(plan.partitions.map(\.nodes) == [[0], [2]])
        #expect(placement(plan, "s")?.reasons.map(\.reason) == ["sigmoid is not in the descriptor"])
        let lowered = try Lowering.lower(plan, compilers: ["elementwise": backend])
        try Verifier.verify(lowered)
        #expect(lowered.nodes.map(\.op.name) == ["executorch_call_delegate", "sigmoid", "executorch_call_delegate"])
    }

    @Test func aChainOfTakenNodesIsOnePartition() throws {
        var b = GraphBuilder(name: "chain")
        let x = try b.input("x", Self.f32(4))
        let y = try b.input("y", Self.f32(4))
        let a = try b.call("add.Tensor", [x, y])[0]
        let n = try b.call("neg", [a])[0]
        let m = try b.call("mul.Tensor", [n, x])[0]
        b.output(try b.call("relu", [m])[0])
        let plan = Partitioner(backends: [backend.descriptor]).plan(try b.finish())
        #expect(plan.partitions.count == 1)
        #expect(plan.partitions[0].nodes == [0, 1, 2, 3])
        #expect(plan.partitions[0].inputs.count == 2 && plan.partitions[0].outputs.count == 1)
        #expect(plan.fallbacks.isEmpty)
    }

    @Test func aBackendTakingEveryOtherNodeGetsOnePartitionPerNode() throws {
        var b = GraphBuilder(name: "alternating")
        var h = try b.input("x", Self.f32(8))
        for i in 0..<6 { h = try b.call(i % 2 == 0 ? "relu" : "sigmoid", [h])[0] }
        b.output(h)
        let plan = Partitioner(backends: [backend.descriptor]).plan(try b.finish())
        #expect(plan.partitions.map(\.nodes) == [[0], [2], [4]])
        #expect(plan.fallbacks.map(\.node) == [1, 3, 5])
        #expect(plan.fallbacks.allSatisfy { $0.reasons.map(\.backend) == ["elementwise"] })
    }

    @Test func nothingClaimableLeavesTheGraphAsItWas() throws {
        var b = GraphBuilder(name: "none")
        let x = try b.input("x", TensorType(.float16, static: [3]))
        b.output(try b.call("sigmoid", [try b.call("relu", [x])[0]])[0])
        let graph = try b.finish()
        let plan = Partitioner(backends: [backend.descriptor]).plan(graph)
        #expect(plan.partitions.isEmpty)
        #expect(plan.fallbacks.map { $0.reasons[0].reason } == [
            "relu on float16 is not supported; it takes float32", "sigmoid is not in the descriptor",
        ])
        #expect(try Lowering.lower(plan, compilers: [:]) == graph)
    }

    @Test func aLoneReshapeStaysOnPortable() throws {
        var b = GraphBuilder(name: "reshape")
        let x = try b.input("x", Self.f32(2, 3))
        let s = try b.call("sigmoid", [x])[0]
        let v = try b.call("view_copy", [s], ["size": .intList([6])], names: ["v"])[0]
        b.output(try b.call("sigmoid", [v])[0])
        let plan = Partitioner(backends: [backend.descriptor]).plan(try b.finish())
        #expect(plan.partitions.isEmpty)
        #expect(placement(plan, "v")?.reasons.first?.reason == "a partition of only view_copy would not pay for a delegate call")
    }

    @Test func symbolicShapesAreRejectedWhereTheDescriptorNeedsStaticOnes() throws {
        var b = GraphBuilder(name: "dynamic")
        let n = b.symbol("n", range: 1...16)
        let x = try b.input("x", TensorType(.float32, [Dim(n)]))
        b.output(try b.call("relu", [x])[0])
        let plan = Partitioner(backends: [backend.descriptor]).plan(try b.finish())
        #expect(plan.fallbacks.first?.reasons.first?.reason == "%x has dynamic shape f32[n]; needs static shapes")
    }

    /// x → q → dq → relu → q → dq → sigmoid: the relu's pattern (both quantize nodes and the
    /// dequantize) goes whole to a backend taking `8a` relu; one taking only float relu gets none of it.
    static func quantizedRelu() throws -> Graph {
        var b = GraphBuilder(name: "qrelu")
        let x = try b.input("x", f32(2, 4))
        let q: KeyValuePairs<String, Argument<ValueID>> = ["scale": .float(0.05), "zero_point": .int(0), "quant_min": .int(-128),
                                                          "quant_max": .int(127), "dtype": .dtype(.int8)]
        let xq = try b.call("quantized_decomposed.quantize_per_tensor", [x], q, names: ["xq"])[0]
        let xd = try b.call("quantized_decomposed.dequantize_per_tensor", [xq], q, names: ["xd"])[0]
        let r = try b.call("relu", [xd], names: ["r"])[0]
        let rq = try b.call("quantized_decomposed.quantize_per_tensor", [r], q, names: ["rq"])[0]
        let rd = try b.call("quantized_decomposed.dequantize_per_tensor", [rq], q, names: ["rd"])[0]
        b.output(try b.call("sigmoid", [rd], names: ["out"])[0])
        return try b.finish()
    }

    @Test func aQuantizedPatternGoesWholeOrNotAtAll() throws {
        let graph = try Self.quantizedRelu()
        let quantized = try BackendDescriptor.parse(ElementwiseTestBackend.descriptorJSON.replacingFirst(
            #"{"op": "relu", "dtypes": ["float32"]}"#, with: #"{"op": "relu", "quantized": ["8a"]}"#), file: "q.json")
        let plan = Partitioner(backends: [quantized]).plan(graph)
        #expect(plan.partitions.count == 1)
        #expect(plan.partitions[0].nodes.map { graph.nodes[$0].op.name } == [
            "quantized_decomposed.quantize_per_tensor", "quantized_decomposed.dequantize_per_tensor", "relu",
            "quantized_decomposed.quantize_per_tensor",
        ])
        #expect(plan.partitions[0].outputs.map { graph[$0].name } == ["rq"])
        #expect(placement(plan, "rd")?.backend == nil)

        let floatOnly = Partitioner(backends: [backend.descriptor]).plan(graph)
        #expect(floatOnly.partitions.isEmpty)
        #expect(placement(floatOnly, "r")?.reasons.first?.reason == "input is quantized (8a); relu runs only unquantized (float32)")
        #expect(placement(floatOnly, "xq")?.reasons.first?.reason == "input is quantized (8a); relu runs only unquantized (float32)")
    }

    @Test func aShapeTooLargeForAnIntIsPlannedWithoutATrap() throws {
        var b = GraphBuilder(name: "huge")
        let x = try b.input("x", Self.f32(1 << 40, 1 << 40))
        b.output(try b.call("relu", [x])[0])
        let plan = Partitioner(backends: [backend.descriptor], auto: true).plan(try b.finish())
        #expect(plan.partitions.count + plan.fallbacks.count == 1)
    }

    @Test func everyDequantizeIsAQuantizationOp() {
        // Kiln's packed int4 dequantize travels with its compute node like PT2E's.
        #expect(QuantizationOps.dequantize.contains("kiln.dequantize_per_channel_group_int4"))
        #expect(QuantizationOps.dequantize.contains("quantized_decomposed.dequantize_per_tensor.tensor"))
        #expect(QuantizationOps.quantize.contains("quantized_decomposed.quantize_per_token"))
        #expect(QuantizationOps.all.contains("quantized_decomposed.choose_qparams.tensor"))
        #expect(QuantizationOps.quantize.isDisjoint(with: QuantizationOps.dequantize))
    }

    @Test func autoPrefersTheCheaperBackendPerUnit() throws {
        let slow = try BackendDescriptor.parse(ElementwiseTestBackend.descriptorJSON
            .replacingFirst(#""name": "elementwise""#, with: #""name": "slow""#).replacingFirst("1e10}", with: "1e6}"), file: "slow")
        var b = GraphBuilder(name: "auto")
        let x = try b.input("x", Self.f32(64))
        b.output(try b.call("relu", [try b.call("neg", [x])[0]])[0])
        let plan = Partitioner(backends: [slow, backend.descriptor], auto: true).plan(try b.finish())
        #expect(plan.backends == ["elementwise", "slow"])
        #expect(plan.partitions.map(\.backend) == ["elementwise"])
        #expect(plan.partitions[0].estimatedMicroseconds > 0.5)
    }

    @Test func theTestBackendRunsEndToEndLikePortable() throws {
        // x, y → add → neg → (sigmoid on portable) → mul(·, x) → relu: two partitions around a fallback.
        var b = GraphBuilder(name: "e2e")
        let x = try b.input("x", Self.f32(2, 3))
        let y = try b.input("y", Self.f32(2, 3))
        let n = try b.call("neg", [try b.call("add.Tensor", [x, y])[0]])[0]
        let s = try b.call("sigmoid", [n])[0]
        let out = try b.call("relu", [try b.call("mul.Tensor", [s, x])[0]])[0]
        b.output(out, n)
        let graph = try b.finish()
        let plan = Partitioner(backends: [backend.descriptor]).plan(graph)
        #expect(plan.partitions.count == 2)
        let lowered = try Lowering.lower(plan, compilers: ["elementwise": backend])
        try Verifier.verify(lowered)
        #expect(lowered.delegates.map(\.backendID) == ["ElementwiseTest", "ElementwiseTest"])

        let xs = try Tensor((0..<6).map { Float($0) - 2.5 }, shape: [2, 3])
        let ys = try Tensor((0..<6).map { Float($0) * 0.25 }, shape: [2, 3])
        let reference = try GraphEvaluator(graph).run([xs, ys]).outputs
        // The evaluator runs a lowered graph through the delegates' subgraphs.
        #expect(try GraphEvaluator(lowered).run([xs, ys]).outputs == reference)

        let compiled = try KilnCompiler.compile(lowered)
        #expect(compiled.file.program.executionPlan[0].delegates.map(\.id) == ["ElementwiseTest", "ElementwiseTest"])
        let runtime = ElementwiseTestBackend.Runtime()
        let registry = BackendRegistry()
        registry.register(runtime)
        let path = "/tmp/kiln-partition-e2e-\(getpid()).pte"
        try FileIO.writeAtomically(compiled.bytes, to: path)
        defer { unlink(path) }
        let method = try Program.load(path: path, backends: registry).method()
        let outputs = try method([xs, ys])
        #expect(runtime.executions == 2)
        for (got, want) in zip(outputs, reference) {
            #expect(got.scalars(as: Float.self) == want.scalars(as: Float.self))
        }
    }

    @Test func aCompilerFailureNamesTheBackendAndPartition() throws {
        var b = GraphBuilder(name: "broadcast")
        let x = try b.input("x", Self.f32(2, 3))
        let y = try b.input("y", Self.f32(3))
        b.output(try b.call("add.Tensor", [x, y])[0])
        let plan = Partitioner(backends: [backend.descriptor]).plan(try b.finish())
        let error = try #require(throws: PartitionError.self) { try Lowering.lower(plan, compilers: ["elementwise": backend]) }
        #expect(error.kind == .preprocess)
        #expect(error.description == "error: elementwise partition 0: add.Tensor: operands must all have shape [2, 3] (no broadcasting)")
        let missing = try #require(throws: PartitionError.self) { try Lowering.lower(plan, compilers: [:]) }
        #expect(missing.description == "error: partition 0: elementwise: no compiler in this build")
    }

    @Test func plansRenderAsTableJSONAndDot() throws {
        let graph = try Self.quantizedRelu()
        let plan = Partitioner(backends: [backend.descriptor]).plan(graph)
        let table = plan.table()
        #expect(table.contains("Delegation plan for @qrelu (backends: elementwise)"))
        #expect(table.contains("0 delegated subgraphs, 0 nodes delegated, 6 on portable"))
        #expect(table.contains("      elementwise: sigmoid is not in the descriptor"))
        let json = plan.json()
        #expect(json["summary"]?["portable_nodes"] == .number(6))
        guard case .array(let nodes) = json["nodes"] else { Issue.record("no nodes"); return }
        #expect(nodes[2]["name"] == .string("r") && nodes[2]["placement"] == .string("portable"))
        #expect(try JSONValue.parse(json.pretty) == json)
        let dot = plan.dot()
        #expect(dot.hasPrefix("digraph \"qrelu\" {"))
        #expect(dot.contains("\"n2\" [label=\"relu\\n%r\""))
    }
}

/// The verifier's and the text form's messages about delegate calls.
struct DelegateCallVerificationTests {
    func lowered() throws -> Graph {
        var b = GraphBuilder(name: "one")
        let x = try b.input("x", PartitionerTests.f32(4))
        b.output(try b.call("neg", [try b.call("relu", [x])[0]])[0])
        let plan = Partitioner(backends: [ElementwiseTestBackend.Compiler().descriptor]).plan(try b.finish())
        return try Lowering.lower(plan, compilers: ["elementwise": ElementwiseTestBackend.Compiler()])
    }

    @Test func aDelegateIndexOutOfRangeIsReported() throws {
        var g = try lowered()
        g.nodes[0].arguments[1] = .int(3)
        #expect(Verifier.diagnose(g).map(\.message) == ["calls delegate 3, but the graph has 1"])
    }

    @Test func typesThatDisagreeWithTheSubgraphAreReported() throws {
        var g = try lowered()
        g.delegates[0].subgraph.values[g.delegates[0].subgraph.inputs[0].index].type = TensorType(.float32, static: [5])
        g.delegates[0].subgraph.values[g.delegates[0].subgraph.outputs[0].index].type = TensorType(.float32, static: [5])
        #expect(Verifier.diagnose(g).map(\.message) == [
            "passes [f32[4]] to delegate 0, whose subgraph takes [f32[5]]",
            "results are typed [f32[4]], delegate 0 returns [f32[5]]",
        ])
    }

    @Test func theTextFormRefusesToReadALoweredGraphBack() throws {
        let text = KIRPrinter.print(try lowered())
        #expect(text.contains("executorch_call_delegate([%x], delegate=0)"))
        let error = try #require(throws: IRError.self) { try KIRParser.parse(text) }
        #expect(error.message.contains("cannot be read back; dump after `partition` instead"))
    }
}
