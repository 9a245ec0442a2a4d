import KilnIR

/// What runs where, and why not: the partitioner's answer for one graph and a list of
/// backends, as a value. Render it with ``table()``, ``json()`` or ``dot()``.
///
/// ```swift
/// let plan = try Partitioner(backends: [xnnpack, npu]).plan(graph)
/// print(plan.table())
/// plan.fallbacks.map(\.reasons)     // why each node on portable stayed there, per backend
/// ```
public struct DelegationPlan: Sendable {
    /// One delegated subgraph.
    public struct Partition: Sendable, Equatable {
        public var id: Int
        /// The backend's name (`xnnpack`) and delegate id (`KilnXNNPACK`).
        public var backend: String
        public var backendID: String
        /// Indices into the graph's nodes, in graph order.
        public var nodes: [Int]
        /// Values the partition reads from outside (inputs, other nodes' results, shared
        /// constants) and values read outside it (or returned), in graph order.
        public var inputs: [ValueID]
        public var outputs: [ValueID]
        /// The cost model's estimate of one call, the call overhead included.
        public var estimatedMicroseconds: Double
    }

    /// Why a backend did not take a node: the first constraint it failed, in words.
    public struct Reason: Sendable, Equatable {
        public var backend: String
        public var reason: String
    }

    /// Where one node runs.
    public struct Placement: Sendable, Equatable {
        /// Index into the graph's nodes.
        public var node: Int
        /// The backend's name, or nil for the portable kernels.
        public var backend: String?
        /// The partition it belongs to.
        public var partition: Int?
        /// Per backend that did not take it, in the order the backends claimed.
        public var reasons: [Reason]
    }

    /// The graph the plan is for (nodes are referred to by index into it).
    public var graph: Graph
    /// The backends considered, in the order they claimed (for `auto`, cheapest first).
    public var backends: [String]
    /// True when `auto` chose the order and a preferred backend per unit from the cost figures.
    public var isAuto: Bool
    public var partitions: [Partition]
    /// One entry per node of ``graph``, in graph order.
    public var placements: [Placement]

    /// The plan with only partition `id` delegated (as partition 0) and its outputs added to the
    /// graph's outputs: what `kiln compare` runs to check one partition's boundary values.
    public func isolating(_ id: Int) -> DelegationPlan {
        var single = self
        let p = partitions[id]
        single.graph.outputs += p.outputs
        var only = p
        only.id = 0
        single.partitions = [only]
        single.placements = placements.map { placement in
            var q = placement
            if q.partition != id { q.partition = nil; q.backend = nil } else { q.partition = 0 }
            return q
        }
        return single
    }

    /// Nodes left on the portable kernels.
    public var fallbacks: [Placement] { placements.filter { $0.backend == nil } }

    /// How many nodes each backend took (`portable` for the rest).
    public var nodeCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for p in placements { counts[p.backend ?? "portable", default: 0] += 1 }
        return counts
    }
}
