import Foundation
import KilnEmit
import KilnIR
import KilnOps
import KilnPasses
import KilnPTE
import KilnRuntime
import KilnTensor
import Testing

/// A small program of the math ops (gelu both ways, a causal mask from creation ops, where,
/// casts, comparisons, hardswish), compiled to a `.pte` and run: the runtime gives exactly what
/// the evaluator gives on the emitted graph, and the KernelCalls have ExecuTorch's arguments.
@Suite struct MathProgramTests {
    static let text = """
        graph @forward(%x: f32[4, 8], %w: f32[8, 8]) {
          %h = linear(%x, %w)
          %g = gelu(%h, approximate="tanh") loc("act")
          %e = gelu(%h)
          %keep = ones(size=[4, 8], dtype=bool)
          %causal = tril(%keep)
          %fill = full(size=[], fill_value=-inf)
          %scores = where.self(%causal, %g, %fill) loc("mask")
          %half = _to_copy(%scores, dtype=f16) loc("cast")
          %probs = softmax.int(%half, dim=-1, dtype=f32)
          %positive = gt.Scalar(%e, other=0)
          %count = _to_copy(%positive, dtype=f32)
          %swish = hardswish(%x)
          %steps = arange.start_step(start=0, end=8)
          %late = ge.Tensor(%steps, %steps)
          %sum = add.Tensor(%swish, %count)
          return %probs, %sum, %half, %late
        }
        """

    static func inputs() throws -> [Tensor] {
        [try patterned([4, 8], seed: 1), try patterned([8, 8], seed: 2)]
    }

    @Test(arguments: [true, false])
    func runsBitwiseLikeTheEvaluator(folding: Bool) throws {
        let graph = try KIRParser.parse(Self.text)
        let passes = folding ? CompileOptions.standardPasses : passesWithoutFolding
        let compiled = try KilnCompiler.compile(graph, options: CompileOptions(passes: passes))
        let reference = try GraphEvaluator(try afterPasses(graph, passes)).run(try Self.inputs()).outputs
        let source = try GraphEvaluator(graph).run(try Self.inputs()).outputs
        try withTemporaryFolder { folder in
            let outputs = try load(compiled.bytes, in: folder).method()(try Self.inputs())
            #expect(outputs.count == 4)
            for (i, (got, want)) in zip(outputs, reference).enumerated() {
                #expect(bitwiseDifference(got, want) == nil, "output \(i): \(bitwiseDifference(got, want) ?? "")")
            }
            // Against the graph before decomposition: the decompositions compute the same numbers.
            for (i, (got, want)) in zip(outputs, source).enumerated() {
                #expect(bitwiseDifference(got, want) == nil, "output \(i) vs the source graph: \(bitwiseDifference(got, want) ?? "")")
            }
        }
        // The causal mask kept the lower triangle: row 0 has one probability, the rest zero.
        let probs = reference[0].floatValues()
        #expect(probs[0] == 1 && probs[1..<8].allSatisfy { $0 == 0 })
        #expect(reference[3].floatValues() == Array(repeating: 1, count: 8))
    }

    /// ATen's out variants: `_to_copy.out(self, non_blocking, memory_format, out)`,
    /// `full.out(size, fill_value, out)` and `arange.start_out(start, end, step, out)` have no
    /// dtype; `gelu.out` takes `approximate` as a String.
    @Test func kernelCallsHaveExecuTorchsArguments() throws {
        let graph = try KIRParser.parse(Self.text)
        let compiled = try KilnCompiler.compile(graph, options: CompileOptions(passes: passesWithoutFolding))
        let plan = compiled.file.program.executionPlan[0]
        func calls(_ name: String, _ overload: String) -> [[Int32]] {
            guard let index = plan.operators.firstIndex(where: { $0.name == name && $0.overload == overload }) else {
                return []
            }
            return plan.chains[0].instructions.compactMap { instruction in
                guard case .kernelCall(let op, let args) = instruction, op == Int32(index) else { return nil }
                return args
            }
        }
        let copies = calls("aten::_to_copy", "out")
        #expect(copies.count == 3)
        for args in copies {
            #expect(args.count == 5)  // self, non_blocking, memory_format, out, return
            guard args.count == 5 else { continue }
            #expect(plan.values[Int(args[1])] == .bool(false))
            #expect(plan.values[Int(args[2])] == .null)
        }
        let fulls = calls("aten::full", "out")
        #expect(fulls.map(\.count) == [4, 4])  // size, fill_value, out, return
        #expect(calls("aten::arange", "start_out").map(\.count) == [5])
        let gelus = calls("aten::gelu", "out")
        #expect(gelus.count == 2)
        let approximations = gelus.compactMap { args -> String? in
            guard case .string(let s) = plan.values[Int(args[1])] else { return nil }
            return s
        }
        #expect(approximations.sorted() == ["none", "tanh"])
        #expect(calls("aten::where", "self_out").map(\.count) == [5])
        #expect(calls("aten::tril", "out").map(\.count) == [4])
    }

    /// A KernelCall that passes a dtype to `_to_copy.out` (which has none) is refused at load.
    @Test func aDTypeArgumentTheOutVariantLacksIsRefused() throws {
        let graph = try KIRParser.parse("""
            graph @g(%x: f32[2]) {
              %y = _to_copy(%x, dtype=f16)
              return %y
            }
            """)
        var file = try KilnCompiler.compile(graph, options: CompileOptions(passes: [])).file
        var plan = file.program.executionPlan[0]
        guard case .kernelCall(let op, let args) = plan.chains[0].instructions[0] else {
            Issue.record("expected a KernelCall")
            return
        }
        plan.values.append(.int(Int64(PTE.ScalarType(.float16).rawValue)))
        let extra = Int32(plan.values.count - 1)
        plan.chains[0].instructions[0] = .kernelCall(opIndex: op, args: [args[0], extra] + args[1...])
        file.program.executionPlan[0] = plan
        let bytes = try file.serialized()
        try withTemporaryFolder { folder in
            expectRuntimeError(.invalidArguments, "has 6 arguments, expected 5") {
                _ = try load(bytes, in: folder).method()
            }
        }
    }
}
