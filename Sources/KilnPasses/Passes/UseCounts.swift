import KilnIR

/// How many times each value of a graph is read: as a node operand or as a graph output.
struct UseCounts {
    private var counts: [ValueID: Int] = [:]

    init(_ graph: Graph) {
        for node in graph.nodes {
            for id in node.operands { counts[id, default: 0] += 1 }
        }
        for id in graph.outputs { counts[id, default: 0] += 1 }
    }

    subscript(_ id: ValueID) -> Int { counts[id] ?? 0 }
}
