import KilnIR

/// Removes nodes none of whose results reach an output, and constants nothing uses any more.
///
/// Every op in the table is pure, so a node is live exactly when one of its results is an
/// output or an operand of a live node. Inputs are never removed (they are the signature), and
/// a node with one live result stays whole.
///
/// ```swift
/// try DeadCodeElimination().run(&graph)
/// ```
public struct DeadCodeElimination: Pass {
    public static let name = "dead-code-elimination"
    public static let summary = "remove nodes whose results are unused and constants nothing uses"

    public init() {}

    public func run(_ graph: inout Graph) throws(PassError) {
        // Walk backwards from the outputs: a node is live when one of its results is.
        var live = Set(graph.outputs)
        for node in graph.nodes.reversed() where node.results.contains(where: live.contains) {
            live.formUnion(node.operands)
        }
        try GraphRewriter.rewrite(&graph, pass: Self.name, keepingConstant: live.contains) { _, node in
            node.results.contains(where: live.contains) ? .keep : .erase
        }
    }
}
