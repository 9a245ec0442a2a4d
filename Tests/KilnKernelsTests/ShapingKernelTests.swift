import KilnKernels
import KilnOps
import KilnTensor
import Testing

/// The shaping kernels' value-dependent errors (what a shape rule cannot see: index values, sizes
/// at run time), each naming the op and the argument at fault, and a few exact results.
@Suite struct ShapingKernelTests {
    /// A call of `op` on `inputs` with the other arguments by name (defaults filled in), and
    /// `outputs` when given (else sized by the op's shape rule).
    func call(_ op: String, _ inputs: [Tensor], _ named: [String: Argument<Int>],
              outputs: [Tensor]? = nil) throws -> KernelCall {
        let schema = try #require(OpTable.schema(named: op))
        let values: [Argument<Int>] = try schema.parameters.map { p in
            if let v = named[p.name] { return v }
            return try #require(p.defaultValue, "\(op).\(p.name) is required").widened()
        }
        let arguments = try OpArguments.validated(schema, values)
        return KernelCall(arguments: arguments, inputs: inputs,
                          outputs: try outputs ?? KernelCall.allocateOutputs(arguments, inputs: inputs))
    }

    /// Runs the kernel of `c`, expecting a ``KernelError`` about `op` whose message has each phrase.
    func expectKernelError(_ c: KernelCall, _ phrases: String..., sourceLocation: SourceLocation = #_sourceLocation) throws {
        let entry = try #require(KernelRegistry.entry(for: c.op.name))
        let error = #expect(throws: KernelError.self, sourceLocation: sourceLocation) { try entry.kernel(c) }
        guard let error else { return }
        #expect(error.op == c.op.name, sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(error.message.contains(phrase), "\(error)", sourceLocation: sourceLocation)
        }
    }

    func run(_ c: KernelCall) throws {
        try #require(KernelRegistry.entry(for: c.op.name)).kernel(c)
    }

    // MARK: Indices out of range

    @Test func indexSelectRejectsAnIndexOutOfRange() throws {
        let x = try Tensor([Float](repeating: 1, count: 6), shape: [2, 3])
        for bad in [3, -1] as [Int64] {
            let index = try Tensor([0, bad], shape: [2])
            try expectKernelError(try call("index_select", [x, index], ["self": .tensor(0), "dim": .int(1), "index": .tensor(1)]),
                                  "argument 'index'", "index \(bad) (element 1) is out of range for dim 1 of size 3")
        }
    }

    @Test func gatherRejectsAnIndexOutOfRange() throws {
        let x = try Tensor([Float](repeating: 1, count: 6), shape: [2, 3])
        let index = try Tensor([0, 1, 2, 0] as [Int32], shape: [2, 2])
        try expectKernelError(try call("gather", [x, index], ["self": .tensor(0), "dim": .int(0), "index": .tensor(1)]),
                              "argument 'index'", "index 2 (element 2) is out of range for dim 0 of size 2")
    }

    @Test func embeddingRejectsAnIndexOutOfRange() throws {
        let weight = try Tensor([Float](repeating: 1, count: 8), shape: [4, 2])
        for bad in [4, -1] as [Int64] {
            let indices = try Tensor([1, bad, 0], shape: [3])
            try expectKernelError(try call("embedding", [weight, indices], ["weight": .tensor(0), "indices": .tensor(1)]),
                                  "argument 'indices'", "index \(bad) (element 1) is out of range for the 4 rows of weight")
        }
    }

    /// A select index the shape rule checked against a symbolic dim's bound can still be out of
    /// range for the size the dim has at run time: the kernel checks it.
    @Test func selectRejectsAnIndexOutOfRangeAtRunTime() throws {
        let x = try Tensor([Float](repeating: 1, count: 6), shape: [3, 2])
        let out = try Tensor(zeros: .float32, shape: [2])
        try expectKernelError(try call("select_copy.int", [x], ["self": .tensor(0), "dim": .int(0), "index": .int(3)],
                                       outputs: [out]),
                              "argument 'index'", "index 3 is out of range for dim 0 of size 3")
        // Static sizes are checked by the shape rule, which names the argument.
        let error = #expect(throws: OpError.self) {
            _ = try OpTable.schema(named: "select_copy.int")?.inferTypes([.tensor(TensorType(.float32, static: [3, 2])),
                                                                          .int(1), .int(-3)])
        }
        #expect(error?.argument == "index")
        #expect(error?.message.contains("index -3 is out of range for dim 1") == true, "\(String(describing: error))")
    }

    @Test func reductionsRejectAnEmptyDimAtRunTime() throws {
        let x = try Tensor(zeros: .float32, shape: [0, 3])
        try expectKernelError(try call("amax", [x], ["self": .tensor(0), "dim": .intList([0])],
                                       outputs: [try Tensor(zeros: .float32, shape: [3])]),
                              "argument 'dim'", "cannot reduce over dim 0, which has size 0")
        try expectKernelError(try call("argmax", [x], ["self": .tensor(0), "dim": .int(0)],
                                       outputs: [try Tensor(zeros: .int64, shape: [3])]),
                              "cannot take the argmax over an empty dim")
    }

    @Test func splitChecksItsOutputs() throws {
        let x = try Tensor([Float](repeating: 1, count: 5), shape: [5])
        let wrong = [try Tensor(zeros: .float32, shape: [2]), try Tensor(zeros: .float32, shape: [2])]
        try expectKernelError(try call("split_with_sizes_copy", [x], ["self": .tensor(0), "split_sizes": .intList([2, 3])],
                                       outputs: wrong),
                              "output 1 is f32[2], expected f32 with size 3 in dim 0")
        try expectKernelError(try call("split.Tensor", [x], ["self": .tensor(0), "split_size": .int(2)], outputs: wrong),
                              "expected 3 outputs, got 2")
    }

    // MARK: Exact results

    @Test func splitCopiesEachPiece() throws {
        let x = try Tensor((0..<12).map { Int32($0) }, shape: [3, 4])
        let c = try call("split.Tensor", [x], ["self": .tensor(0), "split_size": .int(3), "dim": .int(1)])
        try run(c)
        #expect(c.outputs.map(\.shape) == [[3, 3], [3, 1]])
        #expect(c.outputs[0].scalars(as: Int32.self) == [0, 1, 2, 4, 5, 6, 8, 9, 10])
        #expect(c.outputs[1].scalars(as: Int32.self) == [3, 7, 11])
    }

    @Test func argmaxTakesTheFirstNaN() throws {
        let x = try Tensor([1, .nan, 3, .nan] as [Float], shape: [4])
        let c = try call("argmax", [x], ["self": .tensor(0)])
        try run(c)
        #expect(c.outputs[0].scalars(as: Int64.self) == [1])
    }

    /// Integer sums wrap like ATen's int64 arithmetic, whatever the order of the additions.
    @Test func integerSumsWrap() throws {
        let x = try Tensor([Int64.max, 1, Int64.max, 1], shape: [2, 2])
        let c = try call("sum.dim_IntList", [x], ["self": .tensor(0), "dim": .intList([0])])
        try run(c)
        #expect(c.outputs[0].scalars(as: Int64.self) == [Int64.max &+ Int64.max, 2])
    }

    /// bfloat16 (which the fixtures cannot hold): amax is exact; sum, layer norm and attention
    /// compute in Float and round once, so they equal the float32 result rounded to bfloat16
    /// within one bfloat16 ulp (2^-8 relative).
    @Test func bfloat16MatchesFloat32Rounded() throws {
        let values: [Float] = (0..<24).map { Float(($0 * 7) % 11) / 4 - 1.25 }
        let f32 = try Tensor(values, shape: [2, 3, 4])
        let bf16 = try Tensor(values.map { BFloat16($0) }, shape: [2, 3, 4])
        let cases: [(String, [String: Argument<Int>])] = [
            ("amax", ["self": .tensor(0), "dim": .intList([-1])]),
            ("sum.dim_IntList", ["self": .tensor(0), "dim": .intList([0, 2])]),
            ("native_layer_norm", ["input": .tensor(0), "normalized_shape": .intList([4]), "eps": .float(1e-5)]),
            ("_log_softmax", ["self": .tensor(0), "dim": .int(1), "half_to_float": .bool(false)]),
            ("scaled_dot_product_attention", ["query": .tensor(0), "key": .tensor(0), "value": .tensor(0)]),
        ]
        for (op, arguments) in cases {
            let (a, b) = (try call(op, [f32], arguments), try call(op, [bf16], arguments))
            try run(a)
            try run(b)
            for (x, y) in zip(a.outputs, b.outputs) {
                #expect(y.dtype == .bfloat16 && x.shape == y.shape, "\(op)")
                for (want, got) in zip(x.floatValues(), y.floatValues()) {
                    let tolerance = op == "amax" ? 0 : abs(want) * 0x1p-8 + 1e-6
                    #expect(abs(BFloat16(want).floatValue - got) <= tolerance, "\(op): \(got) vs \(want)")
                }
            }
        }
    }

    /// A row that is all -inf after masking gives zeros (torch's kernels do the same).
    @Test func attentionZeroesFullyMaskedRows() throws {
        let q = try Tensor([Float](repeating: 0.5, count: 4), shape: [2, 2])
        let mask = try Tensor([true, true, false, false], shape: [2, 2])
        let c = try call("scaled_dot_product_attention", [q, q, q, mask],
                         ["query": .tensor(0), "key": .tensor(1), "value": .tensor(2), "attn_mask": .tensor(3)])
        try run(c)
        #expect(c.outputs[0].scalars(as: Float.self) == [0.5, 0.5, 0, 0])
    }
}
