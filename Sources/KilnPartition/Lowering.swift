import KilnIR
import KilnOps
import KilnTensor

/// Turns a plan's partitions into delegates: each partition's nodes become a standalone
/// subgraph, its backend's compiler lowers it to a payload, and one delegate-call node takes
/// the partition's place in the graph.
///
/// ```swift
/// let plan = Partitioner(backends: [compiler.descriptor]).plan(graph)
/// let lowered = try Lowering.lower(plan, compilers: ["xnnpack": compiler])
/// lowered.delegates.count        // plan.partitions.count
/// ```
public enum Lowering {
    /// The subgraph of `partition`: its inputs, the constants only it uses, its nodes (with
    /// their names, debug handles, locations and annotations) and its outputs.
    /// - Throws: ``PartitionError`` `.graph` when the nodes do not type-check on their own.
    public static func subgraph(of partition: DelegationPlan.Partition, in graph: Graph) throws(PartitionError) -> Graph {
        let inputSet = Set(partition.inputs)
        var b = GraphBuilder(name: "\(graph.name)_\(partition.backend)_\(partition.id)")
        var map: [ValueID: ValueID] = [:]
        do {
            for s in graph.symbols { b.symbol(s.name, range: s.range) }
            for id in partition.inputs { map[id] = try b.input(graph[id].name, graph.type(of: id)) }
            for id in graph.constants where !inputSet.contains(id) {
                let used = partition.nodes.contains { graph.nodes[$0].operands.contains(id) }
                if used, let data = graph[id].constantData { map[id] = try b.constant(graph[id].name, data) }
            }
            for n in partition.nodes {
                let node = graph.nodes[n]
                var missing: ValueID?
                let arguments = node.arguments.map { a in
                    a.map { id -> ValueID in
                        if let m = map[id] { return m }
                        missing = id
                        return id
                    }
                }
                if let missing {
                    throw PartitionError(.graph, "partition \(partition.id) reads %\(graph[missing].name), which is neither "
                                         + "its input nor computed inside it", subject: graph.describe(node))
                }
                let results = try b.append(node.op, arguments: arguments, resultNames: node.results.map { graph[$0].name },
                                           resultTypes: node.results.map(graph.type(of:)), debugHandle: node.debugHandle,
                                           location: node.location)
                if !node.annotations.isEmpty { b.setAnnotations(node.annotations, ofNode: b.graph.nodes.count - 1) }
                for (old, new) in zip(node.results, results) { map[old] = new }
            }
            b.output(partition.outputs.compactMap { map[$0] })
            return try b.finish()
        } catch let e as PartitionError {
            throw e
        } catch {
            throw PartitionError(.graph, "cannot build the subgraph of partition \(partition.id) (\(partition.backend)): \(error)")
        }
    }

    /// Lowers every partition of `plan` with the compiler of its backend and returns the graph
    /// with delegate calls in their place.
    ///
    /// - Parameters:
    ///   - compilers: by backend name; every backend with a partition needs one.
    ///   - compileSpecs: per backend name, the specs passed to `preprocess` and stored.
    /// - Throws: ``PartitionError``: `.noCompiler` for a backend without a compiler,
    ///   `.preprocess` naming the backend and partition when its compiler fails, `.graph` when
    ///   the graph cannot be rebuilt.
    public static func lower(_ plan: DelegationPlan, compilers: [String: any BackendCompiler],
                             compileSpecs: [String: [LoweredDelegate.CompileSpec]] = [:]) throws(PartitionError) -> Graph {
        let graph = plan.graph
        var delegates: [LoweredDelegate] = []
        for partition in plan.partitions {
            guard let compiler = compilers[partition.backend] else {
                throw PartitionError(.noCompiler, "\(partition.backend): no compiler in this build", subject: "partition \(partition.id)")
            }
            let sub = try subgraph(of: partition, in: graph)
            let specs = compileSpecs[partition.backend] ?? []
            let payload: DelegatePayload
            do {
                payload = try compiler.preprocess(Partition(id: partition.id, backend: partition.backend, graph: sub),
                                                  compileSpecs: specs)
            } catch {
                throw PartitionError(.preprocess, "\(error)", subject: "\(partition.backend) partition \(partition.id)")
            }
            delegates.append(LoweredDelegate(backendID: partition.backendID, payload: payload.bytes, compileSpecs: specs,
                                             namedData: payload.namedData, subgraph: sub))
        }
        return try rebuild(plan, delegates: delegates)
    }

    /// The graph with each partition replaced by a call to its delegate, items (portable nodes
    /// and partitions) in a topological order that follows the original one.
    static func rebuild(_ plan: DelegationPlan, delegates: [LoweredDelegate]) throws(PartitionError) -> Graph {
        let graph = plan.graph
        var partitionOf = [Int?](repeating: nil, count: graph.nodes.count)
        for p in plan.partitions { for n in p.nodes { partitionOf[n] = p.id } }

        // Items: each portable node, and each partition; item dependencies through values.
        enum Item: Hashable { case node(Int), partition(Int) }
        func item(_ n: Int) -> Item { partitionOf[n].map { .partition($0) } ?? .node(n) }
        var items: [Item] = []
        var position: [Item: Int] = [:]
        for n in graph.nodes.indices where position[item(n)] == nil {
            position[item(n)] = items.count
            items.append(item(n))
        }
        var dependencies = [Set<Int>](repeating: [], count: items.count)
        for n in graph.nodes.indices {
            let me = position[item(n)]!
            for id in graph.nodes[n].operands {
                if case .result(let p, _) = graph[id].definition, position[item(p)]! != me {
                    dependencies[me].insert(position[item(p)]!)
                }
            }
        }
        // Kahn's algorithm, always taking the earliest ready item.
        var emitted = [Bool](repeating: false, count: items.count)
        var ordered: [Int] = []
        while ordered.count < items.count {
            guard let next = items.indices.first(where: { !emitted[$0] && dependencies[$0].allSatisfy { emitted[$0] } }) else {
                throw PartitionError(.graph, "the partitions form a cycle; the plan is not valid for this graph")
            }
            emitted[next] = true
            ordered.append(next)
        }

        var b = GraphBuilder(name: graph.name)
        var map: [ValueID: ValueID] = [:]
        /// The rebuilt value of `id`; a value never defined in the new graph is an error, not an
        /// old-graph id passed on.
        func mapped(_ id: ValueID) throws(PartitionError) -> ValueID {
            guard let new = map[id] else {
                throw PartitionError(.graph, "cannot rebuild the graph with its delegates: %\(graph[id].name) has no "
                                     + "definition before its first use (a constant without data, or a plan that does "
                                     + "not match the graph)")
            }
            return new
        }
        do {
            for s in graph.symbols { b.symbol(s.name, range: s.range) }
            for id in graph.inputs { map[id] = try b.input(graph[id].name, graph.type(of: id)) }
            // A constant stays in the graph when a portable node reads it or a delegate takes it
            // as an input; the others moved into the partition that uses them.
            let delegateInputs = Set(plan.partitions.flatMap(\.inputs))
            for id in graph.constants where delegateInputs.contains(id) || isUsedOutsidePartitions(id, graph, partitionOf) {
                if let data = graph[id].constantData { map[id] = try b.constant(graph[id].name, data) }
            }
            var nextHandle = graph.nextDebugHandle
            for index in ordered {
                switch items[index] {
                case .node(let n):
                    let node = graph.nodes[n]
                    let arguments = try node.arguments.map { argument in try argument.map { id in try mapped(id) } }
                    let results = try b.append(node.op, arguments: arguments, resultNames: node.results.map { graph[$0].name },
                                               resultTypes: node.results.map(graph.type(of:)), debugHandle: node.debugHandle,
                                               location: node.location)
                    if !node.annotations.isEmpty { b.setAnnotations(node.annotations, ofNode: b.graph.nodes.count - 1) }
                    for (old, new) in zip(node.results, results) { map[old] = new }
                case .partition(let p):
                    let partition = plan.partitions[p]
                    let index = b.addDelegate(delegates[p])
                    let types = partition.outputs.map(graph.type(of:))
                    let results = try b.append(
                        .delegateCall(results: types),
                        arguments: [.tensorList(try partition.inputs.map { id throws(PartitionError) in try mapped(id) }),
                                    .int(index)],
                        resultNames: partition.outputs.map { graph[$0].name }, resultTypes: types,
                        debugHandle: nextHandle, location: SourceLocation("\(partition.backend) partition \(partition.id)"))
                    nextHandle += 1
                    b.setAnnotations(["backend": .string(partition.backend), "partition": .int(partition.id),
                                      "nodes": .int(partition.nodes.count)], ofNode: b.graph.nodes.count - 1)
                    for (old, new) in zip(partition.outputs, results) { map[old] = new }
                }
            }
            b.output(try graph.outputs.map { id throws(PartitionError) in try mapped(id) })
            return try b.finish()
        } catch let error as PartitionError {
            throw error
        } catch {
            throw PartitionError(.graph, "cannot rebuild the graph with its delegates: \(error)")
        }
    }

    private static func isUsedOutsidePartitions(_ id: ValueID, _ graph: Graph, _ partitionOf: [Int?]) -> Bool {
        graph.nodes.indices.contains { partitionOf[$0] == nil && graph.nodes[$0].operands.contains(id) }
    }
}
