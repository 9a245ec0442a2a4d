import KilnIR

/// "8da4w": linear layers with 8-bit dynamic per-token activations and 4-bit symmetric weights,
/// one scale per `groupSize` weights of a row (torchao's `Int8DynActInt4WeightQuantizer`).
///
/// Takes `linear` nodes whose weight is a constant `[out, in]` with `in` a multiple of the group
/// size; their outputs stay float. The weights are folded into packed 4-bit constants (two per
/// byte) with f32 scales.
///
/// ```swift
/// let q = Int8DynActInt4WeightQuantizer(groupSize: 128, filter: NodeFilter(excludingNames: ["lm_head"]))
/// ```
public struct Int8DynActInt4WeightQuantizer: Quantizer {
    /// Weights per scale: 32, 64 or 128.
    public var groupSize: Int
    public var filter: NodeFilter

    public var name: String { "8da4w-g\(groupSize)" }

    public init(groupSize: Int = 128, filter: NodeFilter = NodeFilter()) {
        self.groupSize = groupSize
        self.filter = filter
    }

    public func annotate(_ a: inout QuantizationAnnotation) throws(QuantError) {
        let graph = a.graph
        for (i, node) in graph.nodes.enumerated() where node.op.name == "linear" && !a.isClaimed(i) {
            guard filter.admits(node, in: graph), isConstant(node.operands, 1, graph),
                  graph.type(of: node.operands[0]).dtype == .float32 else { continue }
            let weight = graph.type(of: node.operands[1])
            guard let shape = weight.staticShape, shape.count == 2, shape[1] % groupSize == 0,
                  weight.dtype == .float32 else { continue }
            a.claim([i], NodeQuantization(quantizer: name, pattern: "linear",
                                          inputs: [0: .int8DynamicActivation, 1: .int4GroupWeight(groupSize: groupSize)]))
        }
    }
}
