import KilnIR
import KilnOps

/// Cancels and merges layout ops: `permute_copy` after `permute_copy` becomes one permutation
/// (none at all when they cancel), `view_copy` after `view_copy` becomes one view, and a
/// permutation or view that changes nothing is removed.
///
/// A removed node's result is replaced by its input, except when the result is a graph output
/// (outputs keep their names). The first node of a merged pair stays in the graph for its other
/// users; run dead-code-elimination afterwards to drop it when it has none.
///
/// ```swift
/// try SimplifyLayout().run(&graph)   // permute([1, 0]) ∘ permute([1, 0]) -> the input itself
/// ```
public struct SimplifyLayout: Pass {
    public static let name = "simplify-layout"
    public static let summary = "cancel inverse permutations, merge chained views and permutations, drop identities"

    public init() {}

    public func run(_ graph: inout Graph) throws(PassError) {
        let outputs = Set(graph.outputs)
        try GraphRewriter.rewrite(&graph, pass: Self.name) { rw, node throws(PassError) in
            switch node.op.name {
            case "permute_copy": return try permute(&rw, node, isOutput: outputs.contains(node.results[0]))
            case "view_copy": return try view(&rw, node, isOutput: outputs.contains(node.results[0]))
            default: return .keep
            }
        }
    }

    private func permute(_ rw: inout GraphRewriter, _ node: Node, isOutput: Bool) throws(PassError) -> Rewrite {
        let args = try rw.arguments(of: node)
        var source = args.tensor("self")
        let rank = rw.type(of: source).rank
        var dims = args.intList("dims").map { $0 < 0 ? $0 + rank : $0 }
        // permute(permute(y, p), q): result dim i is y's dim p[q[i]].
        if let (_, inner, innerArgs) = rw.producer(of: source), inner.op.name == "permute_copy" {
            let p = innerArgs.intList("dims").map { $0 < 0 ? $0 + rank : $0 }
            dims = dims.map { p[$0] }
            source = innerArgs.tensor("self")
        }
        if dims == Array(0..<rank) && !isOutput { return .replace([source]) }
        if source == args.tensor("self") { return .keep }
        return .replace(try rw.emit("permute_copy", ["self": .tensor(source), "dims": .intList(dims)],
                                    names: [rw.sourceName(node.results[0])]))
    }

    private func view(_ rw: inout GraphRewriter, _ node: Node, isOutput: Bool) throws(PassError) -> Rewrite {
        let args = try rw.arguments(of: node)
        var source = args.tensor("self")
        if let (_, inner, innerArgs) = rw.producer(of: source), inner.op.name == "view_copy" {
            source = innerArgs.tensor("self")
        }
        let result = rw.source.type(of: node.results[0])
        if rw.type(of: source) == result && result.shape.allSatisfy({ $0.staticValue != nil }) && !isOutput {
            return .replace([source])
        }
        if source == args.tensor("self") { return .keep }
        return .replace(try rw.emit("view_copy", ["self": .tensor(source), "size": args["size"]],
                                    names: [rw.sourceName(node.results[0])]))
    }
}
