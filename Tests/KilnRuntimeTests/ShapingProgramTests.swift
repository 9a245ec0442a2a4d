import Foundation
import KilnEmit
import KilnIR
import KilnPasses
import KilnPTE
@testable import KilnRuntime
import KilnTensor
import Testing

/// Programs of the shaping ops: `split_with_sizes_copy`'s `Tensor[]` result is one out TensorList
/// in the KernelCall (as ExecuTorch's emitter writes it), which the runtime checks at load; and
/// the core ops' programs run in ExecuTorch's own runtime to the same numbers as in Kiln's.
@Suite struct ShapingProgramTests {
    /// Every core shaping op, on graph inputs (no constant folding).
    static let coreOps = """
        graph @forward(%x: f32[2, 5, 8], %w: f32[8], %b: f32[8], %idx: i64[3], %gidx: i64[2, 5, 2], %table: f32[10, 4],
                       %tok: i64[2, 3]) {
          %n, %mean, %rstd = native_layer_norm(%x, %w, %b, normalized_shape=[8], eps=1e-05)
          %s = sum.dim_IntList(%n, dim=[-1], keepdim=true)
          %mx = amax(%x, dim=[1])
          %mn = amin(%x, dim=[0, 2])
          %am = argmax(%x, dim=-1)
          %ls = _log_softmax(%x, dim=-1, half_to_float=false)
          %u = unsqueeze_copy(%mx, dim=1)
          %e = expand_copy(%u, size=[-1, 3, -1])
          %q = squeeze_copy.dims(%s, dim=[-1])
          %p1, %p2 = split_with_sizes_copy(%x, split_sizes=[2, 3], dim=1)
          %sel = select_copy.int(%x, dim=1, index=-1)
          %is = index_select(%x, dim=1, index=%idx)
          %g = gather(%x, dim=2, index=%gidx)
          %emb = embedding(%table, %tok)
          return %n, %mean, %rstd, %q, %mn, %am, %ls, %e, %p1, %p2, %sel, %is, %g, %emb
        }
        """

    /// Attention with a bool mask and a causal one, decomposed.
    static let attention = """
        graph @forward(%q: f32[1, 2, 4, 8], %k: f32[1, 2, 6, 8], %v: f32[1, 2, 6, 8], %m: bool[4, 6]) {
          %y = scaled_dot_product_attention(%q, %k, %v, %m)
          %z = scaled_dot_product_attention(%q, %k, %v, is_causal=true)
          return %y, %z
        }
        """

    static func inputs(_ graph: Graph) throws -> [Tensor] {
        try graph.inputs.enumerated().map { i, id in
            let type = graph[id].type
            let shape = try #require(type.staticShape)
            let count = shape.reduce(1, *)
            switch (type.dtype, graph[id].name) {
            case (.int64, "idx"): return try Tensor([4, 0, 4] as [Int64], shape: shape)
            case (.int64, "gidx"): return try Tensor((0..<count).map { Int64(($0 * 5) % 8) }, shape: shape)
            case (.int64, _): return try Tensor((0..<count).map { Int64(($0 * 3) % 10) }, shape: shape)
            case (.bool, _): return try Tensor((0..<count).map { $0 % 3 != 1 && $0 / shape[1] != 2 }, shape: shape)
            default: return try patterned(shape, seed: i)
            }
        }
    }

    static func compiled(_ text: String) throws -> (Graph, Compilation) {
        let graph = try KIRParser.parse(text)
        return (graph, try KilnCompiler.compile(graph, options: CompileOptions(passes: passesWithoutFolding)))
    }

    // MARK: The out TensorList

    @Test func splitWritesOneOutTensorListAndReturnsAnother() throws {
        let (_, compiled) = try Self.compiled(Self.coreOps)
        let plan = try #require(compiled.file.program.executionPlan.first)
        let op = try #require(plan.operators.firstIndex { $0.name == "aten::split_with_sizes_copy" })
        #expect(plan.operators[op].overload == "out")
        let call = try #require(plan.chains[0].instructions.compactMap { instruction -> [Int32]? in
            if case .kernelCall(let index, let args) = instruction, Int(index) == op { return args }
            return nil
        }.first)
        // self, split_sizes, dim, out (TensorList), return (TensorList): as ExecuTorch writes it.
        #expect(call.count == 5)
        guard case .tensorList(let outs) = plan.values[Int(call[3])],
              case .tensorList(let returned) = plan.values[Int(call[4])] else {
            Issue.record("the out and return arguments are not TensorLists: \(plan.values[Int(call[3])])")
            return
        }
        #expect(outs.count == 2 && outs == returned && call[3] != call[4])
        for item in outs {
            guard case .tensor = plan.values[Int(item)] else { Issue.record("item \(item) is not a tensor"); continue }
        }
    }

    @Test func programsRunLikeTheEvaluator() throws {
        for text in [Self.coreOps, Self.attention] {
            let (graph, compiled) = try Self.compiled(text)
            let inputs = try Self.inputs(graph)
            let reference = try GraphEvaluator(try afterPasses(graph, passesWithoutFolding)).run(inputs).outputs
            try withTemporaryFolder { folder in
                let outputs = try load(compiled.bytes, in: folder).method()(inputs)
                #expect(outputs.count == reference.count)
                for (i, (got, want)) in zip(outputs, reference).enumerated() {
                    #expect(bitwiseDifference(got, want) == nil, "output \(i): \(bitwiseDifference(got, want) ?? "")")
                }
            }
        }
    }

    /// Symbolic sizes: expand keeps a symbolic batch with -1, reductions and selects follow it,
    /// split and layer norm keep it in their results; every size up to the bound runs like the
    /// evaluator, and a select index past the size given at run time is an error naming it.
    @Test func symbolicBatchRunsAtEverySize() throws {
        let text = """
            symbol n in 1...6
            graph @forward(%x: f32[n, 1, 8], %w: f32[8]) {
              %e = expand_copy(%x, size=[-1, 3, -1])
              %s = sum.dim_IntList(%e, dim=[1])
              %a, %b = split_with_sizes_copy(%s, split_sizes=[5, 3], dim=-1)
              %n, %mean, %rstd = native_layer_norm(%a, %w, normalized_shape=[5], eps=1e-05)
              %m = amax(%e, dim=[-1], keepdim=true)
              %l = select_copy.int(%s, dim=0, index=3)
              return %n, %b, %rstd, %m, %l
            }
            """
        let graph = try KIRParser.parse(text.replacing("%w: f32[8]", with: "%w: f32[5]"))
        let compiled = try KilnCompiler.compile(graph, options: CompileOptions(passes: passesWithoutFolding))
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            for (run, n) in [6, 4, 5, 4].enumerated() {
                let inputs = [try patterned([n, 1, 8], seed: run), try patterned([5], seed: 9)]
                let outputs = try method(inputs)
                let reference = try GraphEvaluator(graph).run(inputs).outputs
                #expect(outputs.map(\.shape) == [[n, 5], [n, 3], [n, 1], [n, 3, 1], [8]])
                for (i, (got, want)) in zip(outputs, reference).enumerated() {
                    #expect(bitwiseDifference(got, want) == nil, "n = \(n), output \(i): \(bitwiseDifference(got, want) ?? "")")
                }
            }
            // select index 3 needs n >= 4: the shapes derived for n = 2 say so, naming the call.
            expectRuntimeError(.shape, "input 0", "became f32[2, 1, 8]", "aten::select_copy.int_out",
                               "argument 'index': index 3 is out of range for dim 0 of f32[2, 8]") {
                try method.setInput(try patterned([2, 1, 8]), at: 0)
            }
        }
    }

    /// The split's KernelCall with its out TensorList edited by `edit`.
    func editedSplit(_ edit: (inout PTE.ExecutionPlan, _ args: inout [Int32]) -> Void) throws -> (PTEFile, Int) {
        var file = try Self.compiled(Self.coreOps).1.file
        var plan = file.program.executionPlan[0]
        let op = try #require(plan.operators.firstIndex { $0.name == "aten::split_with_sizes_copy" })
        let index = try #require(plan.chains[0].instructions.firstIndex {
            if case .kernelCall(let i, _) = $0 { return Int(i) == op }
            return false
        })
        guard case .kernelCall(let opIndex, var args) = plan.chains[0].instructions[index] else { throw CancellationError() }
        edit(&plan, &args)
        plan.chains[0].instructions[index] = .kernelCall(opIndex: opIndex, args: args)
        file.program.executionPlan[0] = plan
        return (file, index)
    }

    @Test func anOutTensorListOfTheWrongLengthFailsAtLoad() throws {
        let (file, index) = try editedSplit { plan, args in
            guard case .tensorList(let items) = plan.values[Int(args[3])] else { return }
            plan.values[Int(args[3])] = .tensorList(Array(items.prefix(1)))
            plan.values[Int(args[4])] = .tensorList(Array(items.prefix(1)))
        }
        try withTemporaryFolder { folder in
            expectRuntimeError(.invalidArguments, "instruction \(index) (aten::split_with_sizes_copy.out",
                               "has 1 out tensor, but split_with_sizes_copy gives 2 for these arguments") {
                _ = try load(try file.serialized(), in: folder)
            }
        }
    }

    @Test func aReturnListOtherThanTheOutsFailsAtLoad() throws {
        let (file, index) = try editedSplit { plan, args in
            guard case .tensorList(let items) = plan.values[Int(args[3])] else { return }
            plan.values[Int(args[4])] = .tensorList(items.reversed())
        }
        try withTemporaryFolder { folder in
            expectRuntimeError(.invalidArguments, "instruction \(index) (aten::split_with_sizes_copy.out",
                               "the return value", "expected the outs") {
                _ = try load(try file.serialized(), in: folder)
            }
        }
    }

    @Test func anOutTensorInsteadOfAListFailsAtLoad() throws {
        let (file, index) = try editedSplit { plan, args in
            guard case .tensorList(let items) = plan.values[Int(args[3])] else { return }
            args[3] = items[0]
        }
        try withTemporaryFolder { folder in
            expectRuntimeError(.invalidArguments, "instruction \(index) (aten::split_with_sizes_copy.out",
                               "is Tensor, expected a TensorList") {
                _ = try load(try file.serialized(), in: folder)
            }
        }
    }

    // MARK: ExecuTorch

    /// The core shaping ops and a decomposed attention run in ExecuTorch 1.5.1's portable
    /// kernels: integer and copied results equal Kiln's exactly, float ones within 1e-5.
    @Test(arguments: ["core ops", "attention"])
    func executorchRunsKilnsProgram(_ which: String) throws {
        let (graph, compiled) = try Self.compiled(which == "core ops" ? Self.coreOps : Self.attention)
        let inputs = try Self.inputs(graph)
        try withTemporaryFolder { folder in
            let model = folder.appendingPathComponent("model.pte")
            try FileIO.writeAtomically(compiled.bytes, to: model.path)
            var paths: [URL] = []
            for (i, t) in inputs.enumerated() {
                paths.append(folder.appendingPathComponent("input_\(i).npy"))
                try Npy.write(t, to: paths[i].path)
            }
            let out = folder.appendingPathComponent("et")
            guard let (status, output) = try runInExecuTorch(model, inputs: paths, outputDir: out) else {
                print("SKIP: python3 or the ExecuTorch wheel is not available")
                return
            }
            #expect(status == 0, "\(output)")
            guard status == 0 else { return }
            print("ExecuTorch ran the \(which) program: \(output.split(separator: "\n").filter { $0.hasPrefix("output ") }.count) outputs")
            let ours = try load(compiled.bytes, in: folder, name: "kiln.pte").method()(inputs)
            for (i, mine) in ours.enumerated() {
                let theirs = try Npy.read(path: out.appendingPathComponent("output_\(i).npy").path)
                #expect(theirs.dtype == mine.dtype && theirs.shape == mine.shape, "output \(i): \(theirs) vs \(mine)")
                guard theirs.dtype == mine.dtype, theirs.shape == mine.shape else { continue }
                if mine.dtype.isFloatingPoint {
                    #expect(maxRelativeError(mine, theirs) <= 1e-5, "output \(i): \(maxRelativeError(mine, theirs))")
                } else {
                    #expect(bitwiseDifference(mine, theirs) == nil, "output \(i): \(bitwiseDifference(mine, theirs) ?? "")")
                }
            }
        }
    }
}
