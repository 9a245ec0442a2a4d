import KilnIR
import KilnKernels
import KilnOps
import KilnTensor

/// Runs a ``KilnIR/Graph`` on the portable kernels of ``KilnKernels/KernelRegistry``: the
/// reference answer for a model, what calibration observes, and what constant folding computes.
///
/// Inputs are checked against the graph's input types (count, dtype, rank, static dims, and each
/// symbol bound consistently and within its range); every node's outputs are allocated through
/// its op's shape rule and filled by its kernel. Values are released after their last use unless
/// intermediates are requested. The graph must be verified (``KilnIR/KIRFile`` and
/// ``KilnIR/GraphBuilder/finish()`` verify what they return).
///
/// ```swift
/// let graph = try KIRFile.read(path: "mlp.kir")
/// let result = try GraphEvaluator(graph).run([try Npy.read(path: "input.npy")])
/// result.outputs[0].shape     // [1, 10]
/// ```
public struct GraphEvaluator: Sendable {
    /// The graph being evaluated.
    public let graph: Graph
    /// Finds the kernel for an op name; ``KilnKernels/KernelRegistry`` unless told otherwise.
    public let kernels: KernelLookup
    /// The threads kernels split their work across (`kiln eval --threads`); results do not
    /// depend on it.
    public let threads: ThreadPool

    /// Finds the kernel for an op (by its table name), or nil when there is none.
    public typealias KernelLookup = @Sendable (String) -> KernelEntry?

    /// What one evaluation produced.
    public struct Evaluation: Sendable {
        /// The graph's outputs, in order.
        public var outputs: [Tensor]
        /// Every node result, keyed by its value; empty unless intermediates were requested.
        public var intermediates: [ValueID: Tensor]
        /// The size each symbol took, from the inputs' shapes.
        public var symbols: [String: Int]
    }

    /// An evaluator for `graph` that runs the kernels `kernels` finds, on `threads`.
    public init(_ graph: Graph, kernels: @escaping KernelLookup = { KernelRegistry.entry(for: $0) },
                threads: ThreadPool = .serial) {
        self.graph = graph
        self.kernels = kernels
        self.threads = threads
    }

    /// Evaluates the graph on `inputs` (one tensor per graph input, in order).
    ///
    /// - Parameter keepingIntermediates: keep every node result in ``Evaluation/intermediates``
    ///   instead of releasing it after its last use.
    /// - Throws: ``PassError`` naming the input at fault (`.inputCount`, `.inputDType`,
    ///   `.inputShape`) or the node (`.missingKernel`, `.kernel`).
    public func run(_ inputs: [Tensor], keepingIntermediates: Bool = false) throws(PassError) -> Evaluation {
        let symbols = try bind(inputs)
        var values = [Tensor?](repeating: nil, count: graph.values.count)
        for (id, tensor) in zip(graph.inputs, inputs) { values[id.index] = tensor }
        for id in graph.constants { values[id.index] = graph[id].constantData }

        // The index of the last node reading each value; outputs are never released.
        var lastUse = [Int](repeating: -1, count: graph.values.count)
        for (i, node) in graph.nodes.enumerated() {
            for id in node.operands { lastUse[id.index] = i }
        }
        for id in graph.outputs { lastUse[id.index] = Int.max }

        var intermediates: [ValueID: Tensor] = [:]
        for (i, node) in graph.nodes.enumerated() {
            let results = try Self.evaluate(node, in: graph, kernels: kernels, threads: threads) { id in values[id.index] }
            for (id, tensor) in zip(node.results, results) {
                try check(tensor, against: id, of: node, symbols: symbols)
                if keepingIntermediates { intermediates[id] = tensor }
                if lastUse[id.index] > i { values[id.index] = tensor }
            }
            if !keepingIntermediates {
                for id in node.operands where lastUse[id.index] == i { values[id.index] = nil }
            }
        }
        var outputs: [Tensor] = []
        for id in graph.outputs {
            guard let t = values[id.index] else {
                throw PassError(.rewrite, "output %\(graph[id].name) was never computed", subject: "graph @\(graph.name)")
            }
            outputs.append(t)
        }
        return Evaluation(outputs: outputs, intermediates: intermediates, symbols: symbols)
    }

    /// Checks `inputs` against the graph's input types and returns each symbol's size.
    ///
    /// A dim that is exactly one symbol binds it (within its range, the same size everywhere);
    /// other symbolic dims (`2*seq`) are then checked against the bound sizes.
    /// - Throws: ``PassError`` naming the input: `.inputCount`, `.inputDType` or `.inputShape`.
    public func bind(_ inputs: [Tensor]) throws(PassError) -> [String: Int] {
        guard inputs.count == graph.inputs.count else {
            let expected = graph.inputs.map { "%\(graph[$0].name): \(graph[$0].type)" }.joined(separator: ", ")
            throw PassError(.inputCount, "graph @\(graph.name) takes \(graph.inputs.count) input"
                            + "\(graph.inputs.count == 1 ? "" : "s") (\(expected)), \(inputs.count) given")
        }
        var symbols: [String: Int] = [:]
        var boundAt: [String: String] = [:]
        // Direct bindings first, so every compound dim can be checked afterwards.
        for (id, tensor) in zip(graph.inputs, inputs) {
            let v = graph[id]
            let subject = "input %\(v.name)"
            func fail(_ kind: PassError.Kind, _ message: String) -> PassError {
                PassError(kind, message, subject: subject)
            }
            guard tensor.dtype == v.type.dtype else {
                throw fail(.inputDType, "expected \(v.type.dtype) (\(v.type)), got \(tensor.dtype)")
            }
            guard tensor.rank == v.type.rank else {
                throw fail(.inputShape, "expected rank \(v.type.rank) (\(v.type)), got shape \(tensor.shape)")
            }
            guard tensor.isContiguous else {
                throw fail(.inputShape, "has dim order \(tensor.dimOrder); the evaluator takes row-major tensors")
            }
            for (axis, (dim, size)) in zip(v.type.shape, tensor.shape).enumerated() {
                if let expected = dim.staticValue {
                    guard size == expected else {
                        throw fail(.inputShape, "dim \(axis) is \(size), expected \(expected) (\(v.type))")
                    }
                } else if let symbol = dim.symbols.first, dim.symbols.count == 1, dim == Dim(symbol) {
                    guard symbol.range.contains(size) else {
                        throw fail(.inputShape, "dim \(axis) is \(size), outside the range of \(symbol.name) "
                                   + "(\(symbol.range.lowerBound)...\(symbol.range.upperBound))")
                    }
                    if let earlier = symbols[symbol.name], earlier != size {
                        throw fail(.inputShape, "dim \(axis) is \(size), but \(symbol.name) is \(earlier) "
                                   + "from \(boundAt[symbol.name] ?? "an earlier dim")")
                    }
                    symbols[symbol.name] = size
                    boundAt[symbol.name] = boundAt[symbol.name] ?? "\(subject) dim \(axis)"
                }
            }
        }
        for (id, tensor) in zip(graph.inputs, inputs) {
            let v = graph[id]
            for (axis, (dim, size)) in zip(v.type.shape, tensor.shape).enumerated() where dim.isSymbolic {
                guard let expected = dim.evaluate(symbols) else {
                    let unbound = dim.symbols.filter { symbols[$0.name] == nil }.map(\.name)
                    throw PassError(.inputShape, "dim \(axis) is \(dim), and no input dim is \(unbound.joined(separator: " or ")) "
                                    + "alone to give its size", subject: "input %\(v.name)")
                }
                guard size == expected else {
                    throw PassError(.inputShape, "dim \(axis) is \(size), expected \(dim) = \(expected)",
                                    subject: "input %\(v.name)")
                }
            }
        }
        return symbols
    }

    /// Runs one node's kernel (found by `kernels`) on its operands (`operand` gives each
    /// operand's tensor), on `threads`.
    ///
    /// - Throws: ``PassError`` naming the node: `.missingKernel` when no kernel is registered for
    ///   its op, `.kernel` when the kernel or the op's rules reject the operands.
    public static func evaluate(_ node: Node, in graph: Graph,
                                kernels: @escaping KernelLookup = { KernelRegistry.entry(for: $0) },
                                threads: ThreadPool = .serial,
                                operand: (ValueID) -> Tensor?) throws(PassError) -> [Tensor] {
        let subject = graph.describe(node)
        if let index = node.delegateIndex {
            // A lowered delegate: the reference answer is its subgraph's, on the portable kernels.
            guard index >= 0, index < graph.delegates.count else {
                throw PassError(.rewrite, "calls delegate \(index), but the graph has \(graph.delegates.count)", subject: subject)
            }
            var inputs: [Tensor] = []
            for id in node.operands {
                guard let t = operand(id) else {
                    throw PassError(.rewrite, "operand %\(graph[id].name) has no value", subject: subject)
                }
                inputs.append(t)
            }
            let sub = GraphEvaluator(graph.delegates[index].subgraph, kernels: kernels, threads: threads)
            return try sub.run(inputs).outputs
        }
        guard let entry = kernels(node.op.name) else {
            throw PassError(.missingKernel, "no portable kernel is registered for op '\(node.op.name)'", subject: subject)
        }
        // A per-node tensor list; each distinct operand appears once.
        var inputs: [Tensor] = []
        var slot: [ValueID: Int] = [:]
        var missing: ValueID?
        let arguments = node.arguments.map { argument in
            argument.map { id -> Int in
                if let s = slot[id] { return s }
                guard let t = operand(id) else {
                    missing = id
                    return 0
                }
                slot[id] = inputs.count
                inputs.append(t)
                return inputs.count - 1
            }
        }
        if let missing {
            let name = missing.index >= 0 && missing.index < graph.values.count ? "%" + graph[missing].name : "\(missing)"
            throw PassError(.rewrite, "operand \(name) has no value", subject: subject)
        }
        let call: KernelCall
        do {
            let validated = try OpArguments<Int>.validated(node.op, arguments)
            call = KernelCall(arguments: validated, inputs: inputs,
                              outputs: try KernelCall.allocateOutputs(validated, inputs: inputs), threadPool: threads)
        } catch let e as OpError {
            throw PassError(.kernel, e.description, subject: subject)
        } catch let e as KernelError {
            throw PassError(.kernel, e.description, subject: subject)
        } catch {
            throw PassError(.kernel, "\(error)", subject: subject)
        }
        do {
            try entry.kernel(call)
        } catch {
            throw PassError(.kernel, "kernel \(entry.name) failed: \(error.message)", subject: subject)
        }
        return call.outputs
    }

    /// A result must have the type the graph gives it, with the symbols at their bound sizes.
    private func check(_ tensor: Tensor, against id: ValueID, of node: Node, symbols: [String: Int]) throws(PassError) {
        let type = graph[id].type
        let expected = type.shape.map { $0.evaluate(symbols) }
        guard tensor.dtype == type.dtype, expected.count == tensor.rank,
              zip(expected, tensor.shape).allSatisfy({ $0 == $1 }) else {
            let bindings = symbols.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let at = bindings.isEmpty ? "" : " at \(bindings.joined(separator: ", "))"
            throw PassError(.kernel, "result %\(graph[id].name) came out \(tensor.dtype)\(tensor.shape), "
                            + "the graph types it \(type)\(at)", subject: graph.describe(node))
        }
    }
}
