import KilnIR
import KilnOps

/// Marks activations that a backend can fuse into the convolution or matrix product before
/// them, without changing what the graph computes.
///
/// When `relu`, `hardtanh` or `clamp` reads the result of `convolution`, `addmm`, `mm`, `bmm` or
/// `linear` and nothing else reads that result, the product gets the annotations
/// `fused_activation` (the activation's op name) and `output_min` / `output_max` (the clamp
/// bounds; an unbounded side is left out), and the activation gets `fused_into` (the product's
/// debug handle). The portable runtime still runs both nodes; a backend that clamps its output
/// (XNNPACK's output_min/max) can take the pair as one.
///
/// ```swift
/// try MarkActivationFusion().run(&graph)
/// // %y = convolution(...) : f32[1, 8, 4, 4] #3 {fused_activation = "relu", output_min = 0.0}
/// ```
public struct MarkActivationFusion: Pass {
    public static let name = "mark-activation-fusion"
    public static let summary = "annotate conv/linear -> relu/hardtanh/clamp pairs a backend can fuse"

    static let producers: Set<String> = ["convolution", "addmm", "mm", "bmm", "linear"]

    public init() {}

    public func run(_ graph: inout Graph) throws(PassError) {
        let uses = UseCounts(graph)
        try GraphRewriter.rewrite(&graph, pass: Self.name) { rw, node throws(PassError) in
            guard let bounds = try Self.bounds(rw, node), case .tensor(let input) = node.arguments[0], uses[input] == 1,
                  case .result(let index, _) = rw.source[input].definition,
                  Self.producers.contains(rw.source.nodes[index].op.name),
                  let (producer, product, _) = rw.producer(of: try rw.mapped(input)) else { return .keep }
            rw.annotate(node: producer, "fused_activation", .string(node.op.name))
            if let low = bounds.min { rw.annotate(node: producer, "output_min", .float(low)) }
            if let high = bounds.max { rw.annotate(node: producer, "output_max", .float(high)) }
            let results = try rw.copy(node)
            if let (activation, _, _) = rw.producer(of: results[0]) {
                rw.annotate(node: activation, "fused_into", .int(product.debugHandle))
            }
            return .replace(results)
        }
    }

    /// The clamp bounds of an activation node, or nil for another op.
    private static func bounds(_ rw: GraphRewriter, _ node: Node) throws(PassError) -> (min: Double?, max: Double?)? {
        switch node.op.name {
        case "relu":
            return (0, nil)
        case "hardtanh":
            let args = try rw.arguments(of: node)
            return (args.float("min_val"), args.float("max_val"))
        case "clamp":
            let args = try rw.arguments(of: node)
            let (low, high) = (args.optionalFloat("min"), args.optionalFloat("max"))
            return low == nil && high == nil ? nil : (low, high)
        default:
            return nil
        }
    }
}
