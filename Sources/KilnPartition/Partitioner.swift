import KilnIR
import KilnTensor

/// Splits a graph across backends, reading only their descriptors.
///
/// Backend by backend, in the order given, it claims maximal connected groups of the units
/// the backend accepts (a unit is a compute node with its quantize/dequantize nodes, so a
/// quantized pattern goes whole or not at all), merging a unit into a neighbouring group only
/// when the graph stays acyclic once each group becomes one delegate call. A group made only
/// of shape ops (a lone reshape) stays on the portable kernels: a delegate call would cost more
/// than it saves. For every node a backend did not take it records the first constraint that
/// failed, in words.
///
/// With `auto`, each unit prefers the backend the cost model says is fastest for it, and the
/// backends claim in order of how many units prefer them; units whose preferred backend left
/// them are offered to the others.
///
/// ```swift
/// let plan = try Partitioner(backends: [xnnpack]).plan(graph)
/// plan.partitions.count      // 1
/// ```
public struct Partitioner: Sendable {
    public var backends: [BackendDescriptor]
    public var isAuto: Bool

    /// Ops that only move or relabel data: a group of nothing else is not worth a delegate call.
    public static let shapeOps: Set<String> = [
        "view_copy", "reshape", "flatten.using_ints", "unsqueeze_copy", "unsqueeze", "squeeze_copy.dims", "squeeze.dims",
        "squeeze.dim", "expand_copy", "expand", "dim_order_ops._clone_dim_order", "permute_copy", "transpose.int",
        "slice_copy.Tensor", "select_copy.int", "select.int", "cat",
    ]

    public init(backends: [BackendDescriptor], auto: Bool = false) {
        self.backends = backends
        self.isAuto = auto
    }

    /// Plans `graph` (which must verify).
    public func plan(_ graph: Graph) -> DelegationPlan {
        let capability = Capability(graph)
        let units = capability.units()
        var unitOf = [Int](repeating: 0, count: graph.nodes.count)
        for (u, unit) in units.enumerated() { for m in unit.members { unitOf[m] = u } }

        // The unit graph: an edge u → v when a member of u produces a value a member of v reads.
        var successors = [Set<Int>](repeating: [], count: units.count)
        var predecessors = [Set<Int>](repeating: [], count: units.count)
        for (v, unit) in units.enumerated() {
            for m in unit.members {
                for id in graph.nodes[m].operands {
                    guard let p = capability.producer[id] else { continue }
                    let u = unitOf[p]
                    if u != v {
                        successors[u].insert(v)
                        predecessors[v].insert(u)
                    }
                }
            }
        }

        // Verdicts: per unit, per backend, nil (accepted) or the reason.
        let rejections: [[String?]] = units.map { unit in backends.map { capability.rejection(of: unit, by: $0) } }
        let work: [NodeWork] = units.map { NodeWork(graph.nodes[$0.anchor], in: graph) }
        func unitMicroseconds(_ u: Int, _ b: Int) -> Double {
            let dtype = units[u].form?.activation ?? graph.nodes[units[u].anchor].results.first.map { graph.type(of: $0).dtype } ?? .float32
            return work[u].microseconds(on: backends[b].cost, dtype: dtype)
        }

        // The claiming order, and for auto each unit's preferred backend.
        var order = Array(backends.indices)
        var preferred = [Int?](repeating: nil, count: units.count)
        if isAuto {
            var totals = [Double](repeating: 0, count: backends.count)
            for u in units.indices {
                let accepting = backends.indices.filter { rejections[u][$0] == nil }
                guard let best = accepting.min(by: { unitMicroseconds(u, $0) < unitMicroseconds(u, $1) }) else { continue }
                preferred[u] = best
                for b in accepting { totals[b] += unitMicroseconds(u, b) }
            }
            // Backends preferred by more units claim first; then the cheaper estimate.
            var wins = [Int](repeating: 0, count: backends.count)
            for p in preferred { if let p { wins[p] += 1 } }
            order.sort { wins[$0] != wins[$1] ? wins[$0] > wins[$1] : totals[$0] == totals[$1] ? $0 < $1 : totals[$0] < totals[$1] }
        }

        var group = [Int?](repeating: nil, count: units.count)   // group key: the first unit's index
        var groupBackend: [Int: Int] = [:]
        var lateReasons: [Int: [Int: String]] = [:]              // unit → backend → reason (min-size rule)
        let rounds = isAuto ? [true, false] : [false]
        for onlyPreferred in rounds {
            for b in order {
                let candidates = units.indices.filter { u in
                    group[u] == nil && rejections[u][b] == nil && (!onlyPreferred || preferred[u] == b)
                }
                guard !candidates.isEmpty else { continue }
                var grouping = Grouping(successors: successors, predecessors: predecessors, assigned: group)
                for u in candidates { grouping.place(u) }
                for (key, members) in grouping.groups {
                    let worthIt = members.contains { !Self.shapeOps.contains(graph.nodes[units[$0].anchor].op.name) }
                    guard worthIt else {
                        let ops = Set(members.map { graph.nodes[units[$0].anchor].op.name }).sorted().joined(separator: ", ")
                        for u in members {
                            lateReasons[u, default: [:]][b] = "a partition of only \(ops) would not pay for a delegate call"
                        }
                        continue
                    }
                    for u in members { group[u] = key }
                    groupBackend[key] = b
                }
            }
        }

        // Partitions in graph order of their first node, numbered from 0.
        var nodesOf: [Int: [Int]] = [:]
        for (u, unit) in units.enumerated() { if let g = group[u] { nodesOf[g, default: []] += unit.members } }
        let keys = nodesOf.keys.sorted { nodesOf[$0]!.min()! < nodesOf[$1]!.min()! }
        var partitionOfGroup: [Int: Int] = [:]
        var partitions: [DelegationPlan.Partition] = []
        for key in keys {
            let nodes = nodesOf[key]!.sorted()
            let b = groupBackend[key]!
            let members = Set(nodes)
            let (inputs, outputs) = Self.boundary(of: members, in: graph, users: capability.users)
            let unitsInGroup = units.indices.filter { group[$0] == key }
            let estimate = unitsInGroup.reduce(backends[b].cost.callOverheadMicroseconds) { $0 + unitMicroseconds($1, b) }
            partitionOfGroup[key] = partitions.count
            partitions.append(.init(id: partitions.count, backend: backends[b].name, backendID: backends[b].id, nodes: nodes,
                                    inputs: inputs, outputs: outputs, estimatedMicroseconds: estimate))
        }

        var placements: [DelegationPlan.Placement] = []
        for i in graph.nodes.indices {
            let u = unitOf[i]
            var reasons: [DelegationPlan.Reason] = []
            for b in order {
                if let r = rejections[u][b] {
                    reasons.append(.init(backend: backends[b].name, reason: r))
                } else if let r = lateReasons[u]?[b], group[u] == nil {
                    reasons.append(.init(backend: backends[b].name, reason: r))
                } else if group[u] == nil, isAuto, let p = preferred[u], p != b {
                    reasons.append(.init(backend: backends[b].name, reason: "\(backends[p].name) is estimated faster"))
                }
            }
            let key = group[u]
            placements.append(.init(node: i, backend: key.map { backends[groupBackend[$0]!].name },
                                    partition: key.flatMap { partitionOfGroup[$0] }, reasons: reasons))
        }
        return DelegationPlan(graph: graph, backends: order.map { backends[$0].name }, isAuto: isAuto,
                              partitions: partitions, placements: placements)
    }

    /// The values a set of nodes reads from outside, and those read outside it or returned.
    static func boundary(of members: Set<Int>, in graph: Graph, users: [ValueID: [Int]]) -> ([ValueID], [ValueID]) {
        var inputs: [ValueID] = []
        var seen = Set<ValueID>()
        var outputs: [ValueID] = []
        let returned = Set(graph.outputs)
        for n in members.sorted() {
            for id in graph.nodes[n].operands where !seen.contains(id) {
                if case .result(let p, _) = graph[id].definition, members.contains(p) { continue }
                if case .constant = graph[id].definition, (users[id] ?? []).allSatisfy(members.contains) { continue }
                seen.insert(id)
                inputs.append(id)
            }
            for id in graph.nodes[n].results where returned.contains(id) || (users[id] ?? []).contains(where: { !members.contains($0) }) {
                outputs.append(id)
            }
        }
        return (inputs, outputs)
    }
}

/// Grows groups of candidate units for one backend, keeping the unit graph acyclic once each
/// group (and each group claimed before) is contracted to one node.
struct Grouping {
    let successors: [Set<Int>]
    let predecessors: [Set<Int>]
    /// Each unit's group: earlier backends' groups, then this backend's as they grow.
    var assigned: [Int?]
    /// This backend's groups by key (the first unit placed).
    var groups: [Int: [Int]] = [:]

    init(successors: [Set<Int>], predecessors: [Set<Int>], assigned: [Int?]) {
        self.successors = successors
        self.predecessors = predecessors
        self.assigned = assigned
    }

    /// Places candidate `u` (candidates come in graph order): it joins each neighbouring group
    /// of this backend that it can join without a cycle, merging them; else it starts one.
    mutating func place(_ u: Int) {
        var key: Int?
        let neighbours = (predecessors[u].union(successors[u])).compactMap { assigned[$0] }.filter { groups[$0] != nil }
        for g in Set(neighbours).sorted() {
            if let k = key {
                guard k != g, !createsCycle(merging: groups[k]! + groups[g]!) else { continue }
                for m in groups[g]! { assigned[m] = k }
                groups[k]! += groups.removeValue(forKey: g)!
            } else if !createsCycle(merging: groups[g]! + [u]) {
                key = g
                assigned[u] = g
                groups[g]!.append(u)
            }
        }
        if key == nil {
            assigned[u] = u
            groups[u] = [u]
        }
    }

    /// True when contracting `members` to one node would close a cycle: some path leaves the
    /// set and comes back to it (through other units or contracted groups).
    func createsCycle(merging members: [Int]) -> Bool {
        let inside = Set(members)
        var seenGroups = Set<Int>()
        var seenUnits = Set<Int>()
        var work: [Int] = inside.flatMap { successors[$0] }.filter { !inside.contains($0) }
        while let x = work.popLast() {
            if inside.contains(x) { return true }
            guard seenUnits.insert(x).inserted else { continue }
            // Entering a contracted group lets the path leave from any of its members.
            var group: [Int] = [x]
            if let g = assigned[x], seenGroups.insert(g).inserted {
                group = assignedMembers(g)
                for m in group { seenUnits.insert(m) }
            }
            for m in group { work += successors[m] }
        }
        return false
    }

    /// The units in group `g` (an earlier backend's or this one's).
    private func assignedMembers(_ g: Int) -> [Int] {
        assigned.indices.filter { assigned[$0] == g }
    }
}
