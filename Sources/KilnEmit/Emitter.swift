import KilnIR
import KilnOps
import KilnPTE
import KilnTensor

/// Writes a graph of ATen core ops as a `.pte` program, following ExecuTorch's emitter
/// (`exir/emit/_emitter.py`) so the file loads in ExecuTorch's runtime as well as Kiln's.
///
/// One ExecutionPlan named after the graph, with one Chain whose inputs and outputs are the
/// plan's and whose instructions are one KernelCall per node, in node order (a DelegateCall for
/// a node that calls a lowered delegate):
///
/// - **values**: the graph inputs' Tensor EValues, then the constants', then for each node the
///   EValues its arguments need (in parameter order; see `EValueTable`), its results' Tensor
///   EValues, and, for a node with several results, a TensorList of them.
/// - **KernelCall args**: one EValue index per op parameter, in schema order (less a `dtype` the
///   out tensor carries, see `KernelCallForm`, as ATen's out variants have none); then one out
///   tensor per result; then the return value, which is the out tensor again for one result and
///   the TensorList of the outs for several. ExecuTorch's generated kernel wrappers take
///   parameters + outs + 1 arguments and reject any other count. An op returning `Tensor[]`
///   (`split_with_sizes_copy`) has one out argument, a TensorList of its results, and returns
///   another TensorList of them.
/// - **operators**: each distinct `OpSchema.pte` (name, overload), in order of first use.
/// - **constants**: Tensor EValues with `data_buffer_idx` indexing
///   `program.constant_segment.offsets` (entry 0 reserved); their bytes are segment 0, each
///   tensor at a multiple of ``constantAlignment``; identical bytes are stored once.
/// - **planned tensors** (inputs and node results): `allocation_info` in memory id 1 at the
///   ``MemoryPlan`` offset; `non_const_buffer_sizes` is `[0, arenaSize]`. Sizes are at the
///   symbols' upper bounds, with DYNAMIC_BOUND when a dim is symbolic; dim order is contiguous.
/// - **delegates**: each lowered delegate is a `BackendDelegate` (its backend id and compile
///   specs) whose payload is a segment of its own after the constant segment; its named data
///   are further segments, listed in `program.named_data`. A DelegateCall's args are the
///   delegate's input EValues, then its output tensors.
/// - **debug handles**: ExecuTorch keeps them outside the program (ETRecord); Kiln puts them in
///   the chain's `stacktrace`, one FrameList per instruction holding one Frame with `name` = the
///   node's op (as written in `.kir`), `lineno` = its debug handle and `context` = its location.
///
/// The output depends only on the graph: the same graph gives the same `PTEFile`, field for field.
///
/// ```swift
/// try Decompose().run(&graph)
/// let file = try PTEEmitter().emit(graph)
/// let bytes = try file.serialized()
/// ```
public struct PTEEmitter: Sendable {
    /// Plans the arena when ``emit(_:)`` is not given a plan.
    public var planner: MemoryPlanner
    /// Constant tensors start at multiples of this many bytes in the constant segment.
    public var constantAlignment: Int
    /// Check the memory plan (``MemoryPlan/check(_:)``) before emitting; on in debug builds.
    public var checksPlan: Bool

    public init(planner: MemoryPlanner = MemoryPlanner(), constantAlignment: Int = PTEFile.constantTensorAlignment,
                checksPlan: Bool = _isDebugAssertConfiguration()) {
        self.planner = planner
        self.constantAlignment = constantAlignment
        self.checksPlan = checksPlan
    }

    /// Plans `graph`'s memory and emits it.
    /// - Throws: ``EmitError``: `.notDecomposed` for a node whose op has no `.pte` operator
    ///   (run the `decompose` pass first), `.tooLarge` or `.unsupported` for a value the format
    ///   cannot hold.
    public func emit(_ graph: Graph) throws(EmitError) -> PTEFile {
        try Self.requireCoreOps(graph)
        return try emit(graph, plan: try planner.plan(graph))
    }

    /// Emits `graph` with its planned tensors where `plan` puts them.
    /// - Throws: as ``emit(_:)``, and `.invalidPlan` when ``checksPlan`` is on and the plan fails its check.
    public func emit(_ graph: Graph, plan: MemoryPlan) throws(EmitError) -> PTEFile {
        try Self.requireCoreOps(graph)
        if checksPlan { try plan.check(graph) }

        var table = EValueTable()
        var planned: [Int32] = []
        for id in graph.inputs {
            planned.append(try table.appendTensor(id, try plannedTensor(id, in: graph, plan: plan)))
        }

        var segment = ConstantSegment(alignment: constantAlignment,
                                      reserving: Self.constantCapacity(graph, alignment: constantAlignment))
        for id in graph.constants {
            guard let data = graph[id].constantData else { continue }
            let entry = data.withUnsafeRawBytes { segment.add($0) }
            let tensor = try pteTensor(graph.type(of: id), name: graph[id].name, dimOrder: data.dimOrder,
                                       dataBufferIdx: entry, offset: nil)
            _ = try table.appendTensor(id, tensor)
        }

        var operators: [PTE.Operator] = []
        var operatorIndex: [PTEOperator: Int32] = [:]
        var instructions: [PTE.Instruction] = []
        var stacktrace: [PTE.FrameList] = []
        var delegates: [PTE.BackendDelegate] = []
        var payloadSegments: [[UInt8]] = []
        var namedData: [PTE.NamedData] = []
        var delegateIndexOf: [Int: Int32] = [:]
        for node in graph.nodes {
            let subject = graph.describe(node)
            if let index = node.delegateIndex {
                // DelegateCall: the delegate's inputs, then its outputs (ExecuTorch's emitter).
                let delegate = graph.delegates[index]
                let delegateIndex: Int32
                if let known = delegateIndexOf[index] {
                    delegateIndex = known
                } else {
                    delegateIndex = Int32(delegates.count)
                    delegateIndexOf[index] = delegateIndex
                    payloadSegments.append(delegate.payload)
                    delegates.append(PTE.BackendDelegate(
                        id: delegate.backendID,
                        processed: PTE.BackendDelegateDataReference(location: .segment, index: UInt32(payloadSegments.count)),
                        compileSpecs: delegate.compileSpecs.map { PTE.CompileSpec(key: $0.key, value: $0.value) }))
                    for blob in delegate.namedData {
                        payloadSegments.append(blob.bytes)
                        namedData.append(PTE.NamedData(key: blob.key, segmentIndex: UInt32(payloadSegments.count)))
                    }
                }
                var args: [Int32] = []
                for argument in node.arguments.prefix(1) {
                    guard case .tensorList(let inputs) = argument else { continue }
                    for id in inputs { args.append(try table.append(.tensor(id), subject: subject)) }
                }
                for id in node.results {
                    args.append(try table.appendTensor(id, try plannedTensor(id, in: graph, plan: plan)))
                }
                instructions.append(.delegateCall(delegateIndex: delegateIndex, args: args))
                stacktrace.append(try frames(node, subject: subject))
                continue
            }
            let pte = node.op.pte!  // requireCoreOps checked it
            let opIndex: Int32
            if let known = operatorIndex[pte] {
                opIndex = known
            } else {
                opIndex = Int32(operators.count)
                operatorIndex[pte] = opIndex
                operators.append(PTE.Operator(name: pte.name, overload: pte.overload))
            }
            var args: [Int32] = []
            for (parameter, argument) in zip(node.op.parameters, node.arguments) where parameter.form == .argument {
                args.append(try table.append(argument, subject: subject))
            }
            var outs: [Int32] = []
            for id in node.results {
                outs.append(try table.appendTensor(id, try plannedTensor(id, in: graph, plan: plan)))
            }
            if node.op.returnsTensorList {
                // `-> Tensor[]` (`Tensor(a!)[] out`): one out TensorList, and the return value
                // another TensorList of the same tensors, as ExecuTorch's emitter writes them.
                args.append(try table.append(.tensorList(outs)))
                args.append(try table.append(.tensorList(outs)))
            } else {
                args += outs
                args.append(outs.count == 1 ? outs[0] : try table.append(.tensorList(outs)))
            }
            instructions.append(.kernelCall(opIndex: opIndex, args: args))
            stacktrace.append(try frames(node, subject: subject))
        }

        let inputs = planned
        var outputs: [Int32] = []
        for id in graph.outputs {
            guard let index = table.tensors[id] else {
                throw EmitError(.unsupported, "output %\(graph[id].name) is not defined", subject: "graph @\(graph.name)")
            }
            outputs.append(index)
        }
        let chain = PTE.Chain(inputs: inputs, outputs: outputs, instructions: instructions, stacktrace: stacktrace)
        let executionPlan = PTE.ExecutionPlan(
            name: graph.name, values: table.values, inputs: inputs, outputs: outputs, chains: [chain],
            operators: operators, delegates: delegates, nonConstBufferSizes: [0, Int64(plan.arenaSize)])
        let program = PTE.Program(
            executionPlan: [executionPlan],
            constantSegment: PTE.SubsegmentOffsets(segmentIndex: 0, offsets: segment.offsets),
            namedData: namedData)
        var file = PTEFile(program: program, segments: [segment.bytes] + payloadSegments)
        do { try file.layOutSegments() } catch {
            throw EmitError(.serialization, "cannot lay out the segments: \(error)")
        }
        return file
    }

    /// The stack trace entry of `node`: one frame with its op, debug handle and location.
    private func frames(_ node: Node, subject: String) throws(EmitError) -> PTE.FrameList {
        guard let handle = Int32(exactly: node.debugHandle) else {
            throw EmitError(.tooLarge, "debug handle \(node.debugHandle) does not fit the .pte's 32-bit line number",
                            subject: subject)
        }
        return PTE.FrameList(items: [PTE.Frame(lineno: handle, name: node.op.name, context: node.location?.text)])
    }

    /// Throws `.notDecomposed` naming the first node without a `.pte` operator (and how many
    /// others there are); delegate calls are emitted as DelegateCalls.
    static func requireCoreOps(_ graph: Graph) throws(EmitError) {
        let missing = graph.nodes.filter { $0.op.pte == nil && $0.delegateIndex == nil }
        guard let first = missing.first else { return }
        let others = missing.count > 1 ? " (and \(missing.count - 1) other node\(missing.count == 2 ? "" : "s"))" : ""
        throw EmitError(.notDecomposed,
                        "\(first.op.name) has no .pte operator\(others); run the decompose pass first "
                            + "(`kiln compile` does, `--passes decompose` in `kiln check`)",
                        subject: graph.describe(first))
    }

    /// The Tensor EValue of planned value `id`.
    private func plannedTensor(_ id: ValueID, in graph: Graph, plan: MemoryPlan) throws(EmitError) -> PTE.Tensor {
        guard let offset = plan.offsets[id] else {
            throw EmitError(.invalidPlan, "the memory plan has no offset for this value", subject: "%\(graph[id].name)")
        }
        return try pteTensor(graph.type(of: id), name: graph[id].name, offset: offset)
    }

    /// An upper bound on the constant segment's size, so its storage is allocated once.
    private static func constantCapacity(_ graph: Graph, alignment: Int) -> Int {
        graph.constants.reduce(0) { total, id in
            total + (graph[id].constantData.map { $0.byteCount + alignment } ?? 0)
        }
    }
}
