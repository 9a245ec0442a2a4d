import KilnIR
import KilnOps
import KilnTensor

/// Rough work figures for one node, from its types alone (symbolic dims at their upper bound):
/// arithmetic operations and bytes read and written. The cost model turns them into time with
/// a descriptor's figures; they rank backends, they do not predict latency to the microsecond.
struct NodeWork {
    var operations: Double
    var bytes: Double

    init(_ node: Node, in graph: Graph) {
        func elements(_ id: ValueID) -> Double {
            // In Double: a huge (or symbolic-at-its-bound) shape must not overflow an Int.
            graph.type(of: id).upperBoundShape.reduce(1.0) { $0 * Double($1) }
        }
        func tensor(_ name: String) -> ValueID? {
            guard let i = node.op.parameterIndex(name), case .tensor(let id) = node.arguments[i] else { return nil }
            return id
        }
        let out = node.results.first.map(elements) ?? 0
        bytes = (node.operands + node.results).reduce(0) { total, id in
            total + elements(id) * Double(graph.type(of: id).dtype.byteSize)
        }
        switch node.op.name {
        case "linear":
            let k = tensor("input").map { Double(graph.type(of: $0).upperBoundShape.last ?? 1) } ?? 1
            operations = 2 * out * k
        case "addmm", "mm", "bmm", "matmul":
            let a = tensor(node.op.name == "addmm" ? "mat1" : node.op.name == "matmul" ? "self" : "self")
            let k = a.map { Double(graph.type(of: $0).upperBoundShape.last ?? 1) } ?? 1
            operations = 2 * out * k
        case "convolution", "conv2d":
            let w = tensor("weight").map { graph.type(of: $0).upperBoundShape } ?? []
            operations = 2 * out * w.dropFirst().reduce(1.0) { $0 * Double($1) }
        case "scaled_dot_product_attention":
            let q = tensor("query").map { graph.type(of: $0).upperBoundShape } ?? []
            let k = tensor("key").map { graph.type(of: $0).upperBoundShape } ?? []
            operations = 4 * out * Double(k.count >= 2 ? k[k.count - 2] : 1) + q.reduce(1.0) { $0 * Double($1) }
        case "native_layer_norm", "layer_norm", "rms_norm", "_softmax", "softmax.int", "_log_softmax":
            operations = 5 * out
        default:
            operations = out
        }
    }

    /// Microseconds on a backend with `cost`, computing in `dtype`.
    func microseconds(on cost: BackendDescriptor.CostModel, dtype: DType) -> Double {
        let rate = cost.opsPerSecond[dtype] ?? cost.opsPerSecond.values.min() ?? 1
        return (operations / rate + bytes / cost.bytesPerSecond) * 1e6
    }
}
