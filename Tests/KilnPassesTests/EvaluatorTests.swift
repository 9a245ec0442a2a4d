import KilnIR
import KilnKernels
import KilnPasses
import KilnTensor
import Testing

@Suite struct EvaluatorBindingTests {
    static let symbolic = """
        symbol seq in 1...8
        symbol n in 1...4

        graph @forward(%x: f32[1, seq, 4], %m: f32[seq], %p: f32[2*n + 1], %q: f32[n]) {
          %y = relu(%x)
          return %y
        }
        """

    func inputs(seq: Int = 5, m: Int? = nil, p: Int = 7, q: Int = 3) throws -> [Tensor] {
        [try sample([1, seq, 4]), try sample([m ?? seq]), try sample([p]), try sample([q])]
    }

    @Test func wrongInputCountListsTheInputs() throws {
        let graph = try parse(Self.symbolic)
        expectPassError(.inputCount, "takes 4 inputs (%x: f32[1, seq, 4], %m: f32[seq], %p: f32[2*n + 1], %q: f32[n]), 1 given") {
            _ = try GraphEvaluator(graph).bind([try sample([1, 5, 4])])
        }
    }

    @Test func wrongDTypeNamesTheInput() throws {
        let graph = try parse(Self.symbolic)
        var tensors = try inputs()
        tensors[1] = try Tensor([1, 2, 3, 4, 5] as [Int64], shape: [5])
        expectPassError(.inputDType, "input %m: expected f32 (f32[seq]), got i64") {
            _ = try GraphEvaluator(graph).bind(tensors)
        }
    }

    @Test func wrongRankAndStaticDimNameTheInput() throws {
        let graph = try parse(Self.symbolic)
        var tensors = try inputs()
        tensors[0] = try sample([5, 4])
        expectPassError(.inputShape, "input %x: expected rank 3 (f32[1, seq, 4]), got shape [5, 4]") {
            _ = try GraphEvaluator(graph).bind(tensors)
        }
        tensors[0] = try sample([1, 5, 3])
        expectPassError(.inputShape, "input %x: dim 2 is 3, expected 4 (f32[1, seq, 4])") {
            _ = try GraphEvaluator(graph).bind(tensors)
        }
    }

    @Test func symbolsWithinTheirRangesBind() throws {
        let graph = try parse(Self.symbolic)
        #expect(try GraphEvaluator(graph).bind(inputs(seq: 1)) == ["seq": 1, "n": 3])
        #expect(try GraphEvaluator(graph).bind(inputs(seq: 8, p: 9, q: 4)) == ["seq": 8, "n": 4])
    }

    @Test func symbolOutsideItsRangeIsRejected() throws {
        let graph = try parse(Self.symbolic)
        expectPassError(.inputShape, "input %x: dim 1 is 9, outside the range of seq (1...8)") {
            _ = try GraphEvaluator(graph).bind(inputs(seq: 9))
        }
        expectPassError(.inputShape, "input %q: dim 0 is 5, outside the range of n (1...4)") {
            _ = try GraphEvaluator(graph).bind(inputs(p: 11, q: 5))
        }
    }

    @Test func symbolMustBindTheSameSizeEverywhere() throws {
        let graph = try parse(Self.symbolic)
        expectPassError(.inputShape, "input %m: dim 0 is 4, but seq is 5 from input %x dim 1") {
            _ = try GraphEvaluator(graph).bind(inputs(seq: 5, m: 4))
        }
    }

    @Test func compoundDimsAreCheckedAgainstTheBoundSymbols() throws {
        let graph = try parse(Self.symbolic)
        expectPassError(.inputShape, "input %p: dim 0 is 8, expected 2*n + 1 = 7") {
            _ = try GraphEvaluator(graph).bind(inputs(p: 8, q: 3))
        }
        let unbound = try parse("""
            symbol n in 1...4
            graph @forward(%p: f32[2*n]) {
              %y = relu(%p)
              return %y
            }
            """)
        expectPassError(.inputShape, "input %p: dim 0 is 2*n, and no input dim is n alone") {
            _ = try GraphEvaluator(unbound).bind([try sample([4])])
        }
    }

    @Test func nonContiguousInputsAreRejected() throws {
        let graph = try parse("graph @forward(%x: f32[2, 3]) {\n  %y = relu(%x)\n  return %y\n}\n")
        let transposed = try Tensor(dtype: .float32, shape: [2, 3], dimOrder: [1, 0],
                                    storage: TensorStorage(zeroedByteCount: 24))
        expectPassError(.inputShape, "input %x: has dim order [1, 0]") {
            _ = try GraphEvaluator(graph).run([transposed])
        }
    }
}

@Suite(.enabled(if: kernelsExist("relu", "add.Tensor", "mul.Tensor", "linear", "neg"),
                "the evaluator runs portable kernels, which are not all registered yet"))
struct EvaluatorRunTests {
    static let model = """
        symbol seq in 1...8

        graph @forward(%x: f32[1, seq, 3]) {
          %w = constant f32[2, 3] dense [1.0, 0.0, -1.0, 0.5, 0.5, 0.5]
          %b = constant f32[2] dense [0.25, -0.25]
          %h = linear(%x, %w, %b) loc("fc")
          %r = relu(%h)
          %n = neg(%r)
          %y = add.Tensor(%n, %r)
          %z = mul.Tensor(%r, %r)
          return %z, %y, %x, %b
        }
        """

    @Test func computesOutputsIncludingInputsAndConstantsReturnedDirectly() throws {
        let graph = try parse(Self.model)
        let x = try Tensor([1, 2, 3, -1, -2, -3] as [Float], shape: [1, 2, 3])
        let result = try GraphEvaluator(graph).run([x])
        #expect(result.symbols == ["seq": 2])
        #expect(result.outputs.count == 4)
        // h = [[1 - 3 + 0.25, 3 - 0.25], [-1 + 3 + 0.25, -3 - 0.25]] = [[-1.75, 2.75], [2.25, -3.25]]
        #expect(result.outputs[0].shape == [1, 2, 2])
        #expect(result.outputs[0].scalars(as: Float.self) == [0, 2.75 * 2.75, 2.25 * 2.25, 0])
        #expect(result.outputs[1].scalars(as: Float.self) == [0, 0, 0, 0])
        #expect(result.outputs[2] == x)
        #expect(result.outputs[3].scalars(as: Float.self) == [0.25, -0.25])
        #expect(result.intermediates.isEmpty)
    }

    @Test func keepsEveryIntermediateWhenAsked() throws {
        let graph = try parse(Self.model)
        let result = try GraphEvaluator(graph).run([try sample([1, 4, 3])], keepingIntermediates: true)
        let results = graph.nodes.flatMap(\.results)
        #expect(Set(result.intermediates.keys) == Set(results))
        func named(_ name: String) throws -> ValueID {
            try #require(graph.values.firstIndex { $0.name == name }.map(ValueID.init))
        }
        let h = try #require(result.intermediates[try named("h")])
        let r = try #require(result.intermediates[try named("r")])
        #expect(h.shape == [1, 4, 2])
        #expect(r.scalars(as: Float.self) == h.scalars(as: Float.self).map { max($0, 0) })
    }

    @Test func missingKernelNamesTheOpAndNode() throws {
        let graph = try parse(Self.model)
        let evaluator = GraphEvaluator(graph) { op in op == "relu" ? nil : KernelRegistry.entry(for: op) }
        expectPassError(.missingKernel, "%r = relu (#1): no portable kernel is registered for op 'relu'") {
            _ = try evaluator.run([try sample([1, 2, 3])])
        }
    }

    @Test func kernelFailureNamesTheNode() throws {
        let graph = try parse(Self.model)
        let failing = KernelEntry(op: "neg", name: "f32_neg__failing") { call throws(KernelError) in
            throw call.error("deliberate failure")
        }
        let evaluator = GraphEvaluator(graph) { op in op == "neg" ? failing : KernelRegistry.entry(for: op) }
        expectPassError(.kernel, "%n = neg (#2): kernel f32_neg__failing failed: deliberate failure") {
            _ = try evaluator.run([try sample([1, 2, 3])])
        }
    }
}
