import KilnIR
import KilnKernels
import KilnOps
import KilnTensor

/// Evaluates nodes whose tensor operands are all constants and replaces their results by
/// constants holding the values, computed by the same kernels the evaluator runs. Dequantize ops
/// are left alone (``keptCompact``); a permute of a dequantized constant read nowhere else moves
/// onto the quantized constant instead (``permuteQuantizedConstant(_:_:)``).
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

    /// Dequantize ops (``KilnOps/QuantizationOps/dequantize``), never folded: their constant
    /// operands are quantized weights, kept small in the file on purpose (folding would store
    /// them as float again).
    public static var keptCompact: Set<String> { QuantizationOps.dequantize }

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
        let uses = UseCounts(graph)
        try GraphRewriter.rewrite(&graph, pass: Self.name) { rw, node throws(PassError) in
            if node.op.name == "permute_copy", uses[node.operands[0]] == 1,
               let moved = try Self.permuteQuantizedConstant(&rw, node) {
                return .replace([moved])
            }
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

    /// `permute_copy(dequantize(q, ...))` with `q` a constant and the dequantize read only here
    /// (a linear's weight transposed for `addmm`, once quantized) becomes
    /// `dequantize(permuted q, ...)`, the per-channel axis following its dim: the weight stays
    /// int8 in the file and nothing is transposed at run time. Nil when the pattern does not match.
    static func permuteQuantizedConstant(_ rw: inout GraphRewriter, _ node: Node) throws(PassError) -> ValueID? {
        let args = try rw.arguments(of: node)
        guard let dq = rw.producer(of: args.tensor("self")),
              dq.node.op.name == "quantized_decomposed.dequantize_per_tensor"
                || dq.node.op.name == "quantized_decomposed.dequantize_per_channel",
              let inputIndex = dq.node.op.parameterIndex("input"),
              let q = rw.constantData(dq.arguments.tensor("input")), q.isContiguous else { return nil }
        let rank = q.rank
        let dims = args.intList("dims").map { $0 < 0 ? $0 + rank : $0 }
        guard dims.count == rank, Set(dims) == Set(0..<rank) else { return nil }
        var arguments = dq.node.arguments
        if let axisIndex = dq.node.op.parameterIndex("axis") {
            let axis = dq.arguments.int("axis")
            guard let moved = dims.firstIndex(of: axis < 0 ? axis + rank : axis) else { return nil }
            arguments[axisIndex] = .int(moved)
        }
        // The permute_copy kernel on the int8 constant (kernels take their output dtype from their inputs).
        let permuted = try GraphEvaluator.evaluate(node, in: rw.source) { _ in q }[0]
        let name = rw.sourceName(node.operands[0])
        arguments[inputIndex] = .tensor(try rw.constant(permuted, name: rw.freshName(base: "\(name).permuted")))
        return try rw.emit(dq.node.op, arguments: arguments, names: [rw.sourceName(node.results[0])])[0]
    }
}
