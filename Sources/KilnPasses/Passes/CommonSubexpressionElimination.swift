import KilnIR
import KilnOps
import KilnTensor

/// Replaces a node by an earlier one computing the same op on the same arguments.
///
/// Two nodes match when their ops are equal and so are their arguments: the same operand values
/// (after earlier replacements, so chains collapse in one run) and equal attributes. Floats
/// compare by bit pattern, so `-0.0` never matches `0.0` and a NaN matches only a NaN with the
/// same bits. The earlier node is kept with its names, debug handle and location; uses of the
/// later node's results move to it. Constants with equal data are not merged.
///
/// ```swift
/// try CommonSubexpressionElimination().run(&graph)
/// ```
public struct CommonSubexpressionElimination: Pass {
    public static let name = "common-subexpression-elimination"
    public static let summary = "reuse the result of an earlier node with the same op and arguments"

    public init() {}

    public func run(_ graph: inout Graph) throws(PassError) {
        var seen: [Key: [ValueID]] = [:]
        try GraphRewriter.rewrite(&graph, pass: Self.name) { rw, node throws(PassError) in
            let key = Key(op: node.op.name, arguments: try rw.arguments(of: node).values.map(KeyArgument.init))
            // %b = op(args) after %a = op(args) -> %a
            if let earlier = seen[key] { return .replace(earlier) }
            let results = try rw.copy(node)
            seen[key] = results
            return .replace(results)
        }
    }

    /// An op and its arguments, compared as written.
    private struct Key: Hashable {
        var op: String
        var arguments: [KeyArgument]
    }

    /// An argument with floats as bit patterns, so equality is exact and hashing consistent.
    private enum KeyArgument: Hashable {
        case argument(Argument<ValueID>)
        case float(bits: UInt64)

        init(_ a: Argument<ValueID>) {
            if case .float(let v) = a { self = .float(bits: v.bitPattern) } else { self = .argument(a) }
        }
    }
}
