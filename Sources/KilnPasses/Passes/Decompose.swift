import KilnIR
import KilnOps
import KilnTensor

/// Rewrites the ops that have no `.pte` operator (linear, matmul, rms_norm, ...) into ATen core
/// ops, so every node of the result names an out-variant the portable kernel libraries have.
///
/// Each op has one rule in ``rules`` (see `DecomposeRules.swift`). Replacement nodes keep the
/// original node's location; the first node a rule emits keeps the original debug handle and
/// the others get fresh handles above every handle in the graph, so plans and profiles still
/// point back at the model. The node that produces the original result keeps its name.
///
/// A node that cannot be decomposed (a `matmul` or `linear` whose operands would need a view with
/// two symbolic sizes) is an error listing every such node, and the graph is left as it was; with
/// ``allowPartial`` those nodes stay as they are.
///
/// ```swift
/// try Decompose().run(&graph)
/// graph.nodes.allSatisfy { $0.op.pte != nil }     // true
/// ```
public struct Decompose: Pass {
    public static let name = "decompose"
    public static let summary = "rewrite non-core ops (linear, matmul, rms_norm, ...) into ATen core ops"

    /// Leave nodes that cannot be decomposed in place instead of failing.
    public var allowPartial: Bool
    /// Ops left whole: before partitioning, the ops a backend can claim whole (`linear`,
    /// `rms_norm`) stay as they are; the portable remainder is decomposed after lowering.
    public var keeping: Set<String>

    public init() { self.init(allowPartial: false) }

    public init(allowPartial: Bool, keeping: Set<String> = []) {
        self.allowPartial = allowPartial
        self.keeping = keeping
    }

    /// What a rule did with one node.
    enum Outcome {
        /// The node's results are these values.
        case replaced([ValueID])
        /// The node cannot be decomposed, for this reason; the rule emitted nothing.
        case unsupported(String)
    }

    /// A rule: the rewriter, the node, and its arguments mapped to the new graph.
    typealias Rule = @Sendable (inout GraphRewriter, Node, OpArguments<ValueID>) throws(PassError) -> Outcome

    public func run(_ graph: inout Graph) throws(PassError) {
        var left: [(node: String, reason: String)] = []
        var result = graph
        try GraphRewriter.rewrite(&result, pass: Self.name) { rw, node throws(PassError) in
            guard node.op.pte == nil, node.delegateIndex == nil, !keeping.contains(node.op.name) else { return .keep }
            guard let rule = Self.rules[node.op.name] else {
                left.append((rw.source.describe(node), "no decomposition is defined for \(node.op.name)"))
                return .keep
            }
            switch try rule(&rw, node, try rw.arguments(of: node)) {
            case .replaced(let values):
                return .replace(values)
            case .unsupported(let reason):
                left.append((rw.source.describe(node), reason))
                return .keep
            }
        }
        if !left.isEmpty && !allowPartial {
            if left.count == 1 {
                throw PassError(.unsupported, "cannot decompose into core ops: \(left[0].reason)",
                                pass: Self.name, subject: left[0].node)
            }
            let list = left.map { "\n  \($0.node): \($0.reason)" }.joined()
            throw PassError(.unsupported, "cannot decompose \(left.count) nodes into core ops:\(list)", pass: Self.name)
        }
        graph = result
    }
}
