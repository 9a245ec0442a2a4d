import KilnIR
import KilnKernels
import KilnTensor

/// Evaluates nodes whose tensor operands are all constants and replaces their results by
/// constants holding the values, computed by the same kernels the evaluator runs. Dequantize ops
/// are left alone (``keptCompact``).
///
/// Folding runs in graph order, so a chain of such nodes folds in one run. A folded result
/// becomes a constant with the result's name. Nodes are left alone when their op has no kernel,
/// when their results together exceed ``maxBytes``, or when the kernel rejects the operands
/// (the runtime would report that).
///
/// Ops with no tensor operand (`full`, `arange`) depend only on static sizes: they fold when
/// their result is at most ``maxCreationBytes``, so shape arithmetic built from them (a causal
/// mask from `arange` and a comparison, positions for rotary embeddings) propagates into
/// constants, while a large `zeros` stays a node instead of growing the file. The constants folding leaves unused stay until
/// ``DeadCodeElimination`` removes them.
///
/// ```swift
/// try ConstantFolding(maxBytes: 1 << 20).run(&graph)
/// ```
public struct ConstantFolding: Pass {
    public static let name = "constant-folding"
    public static let summary = "evaluate nodes whose operands are all constants into new constants"

    /// Dequantize ops, never folded: their constant operands are quantized weights, kept small
    /// in the file on purpose (folding would store them as float again).
    public static let keptCompact: Set<String> = [
        "quantized_decomposed.dequantize_per_tensor", "quantized_decomposed.dequantize_per_tensor.tensor",
        "quantized_decomposed.dequantize_per_channel", "quantized_decomposed.dequantize_per_channel_group",
        "quantized_decomposed.dequantize_per_token", "kiln.dequantize_per_channel_group_int4",
    ]

    /// The largest total size, in bytes, of one node's results that is folded.
    public var maxBytes: Int
    /// The largest result, in bytes, of an op with no tensor operand that is folded.
    public var maxCreationBytes: Int

    public init() { self.init(maxBytes: 64 << 20) }

    public init(maxBytes: Int, maxCreationBytes: Int = 64 << 10) {
        self.maxBytes = maxBytes
        self.maxCreationBytes = maxCreationBytes
    }

    public func run(_ graph: inout Graph) throws(PassError) {
        try GraphRewriter.rewrite(&graph, pass: Self.name) { rw, node throws(PassError) in
            guard KernelRegistry.entry(for: node.op.name) != nil, !Self.keptCompact.contains(node.op.name) else {
                return .keep
            }
            let limit = node.operands.isEmpty ? min(maxBytes, maxCreationBytes) : maxBytes
            var operands: [ValueID: Tensor] = [:]
            for id in node.operands {
                // op(constants...) -> constant; anything else stays.
                guard let data = rw.constantData(try rw.mapped(id)) else { return .keep }
                operands[id] = data
            }
            var bytes = 0
            for id in node.results {
                let type = rw.source.type(of: id)
                guard let shape = type.staticShape, let size = try? Shape.byteCount(shape, dtype: type.dtype) else {
                    return .keep
                }
                bytes += size
                guard bytes <= limit else { return .keep }
            }
            guard let results = try? GraphEvaluator.evaluate(node, in: rw.source, operand: { operands[$0] }) else {
                return .keep
            }
            var constants: [ValueID] = []
            for (id, tensor) in zip(node.results, results) {
                constants.append(try rw.constant(tensor, name: rw.sourceName(id)))
            }
            return .replace(constants)
        }
    }
}
