import KilnIR
import KilnOps

/// The ops the GPU backend lowers, by KilnIR op name, and how: each entry appends the node's
/// dispatches (or none, for a view that aliases its input). `descriptor.json` lists exactly
/// these ops; a test checks that every entry lowers and runs.
extension GPUDispatchBuilder {
    /// Every op with a lowering.
    static let loweredOps: Set<String> = GPUMemoryPlan.aliasOps.union([
        "linear", "addmm", "mm", "bmm", "matmul", "convolution",
        "max_pool2d", "avg_pool2d", "_adaptive_avg_pool2d", "adaptive_avg_pool2d",
        "_softmax", "softmax.int", "_log_softmax", "log_softmax.int", "rms_norm", "layer_norm", "native_layer_norm",
        "relu", "silu", "gelu", "sigmoid", "tanh", "neg", "hardtanh", "clamp",
        "add.Tensor", "sub.Tensor", "mul.Tensor", "div.Tensor", "add.Scalar", "sub.Scalar", "mul.Scalar", "div.Scalar",
        "permute_copy", "transpose.int", "slice_copy.Tensor", "cat",
    ])

    /// unary.comp's op codes.
    static let unaryCodes: [String: UInt32] = ["relu": 0, "silu": 1, "sigmoid": 4, "tanh": 5, "neg": 6]
    /// binary.comp's op codes, by the op's base name.
    static let binaryCodes: [String: UInt32] = ["add": 0, "sub": 1, "mul": 2, "div": 3]

    /// Appends the dispatches of one node whose op is in ``loweredOps``.
    private mutating func lowerOp(_ node: Node, _ a: OpArguments<ValueID>) throws(GPUCompilerError) {
        let name = node.op.name
        let base = String(name.prefix { $0 != "." })
        switch name {
        // Matrix products (matmul.comp).
        case "linear": try linear(node, a)
        case "addmm": try addmm(node, a)
        case "mm", "bmm": try matmul(node, a.tensor("self"), a.tensor("mat2"))
        case "matmul": try matmul(node, a.tensor("self"), a.tensor("other"))
        // Convolution (conv2d.comp, depthwise_conv2d.comp, 1x1 through matmul.comp) and pooling.
        case "convolution": try convolution(node, a)
        case "max_pool2d": try pool(node, a, mode: 0)
        case "avg_pool2d": try pool(node, a, mode: 1)
        case "_adaptive_avg_pool2d", "adaptive_avg_pool2d": try pool(node, a, mode: 2)
        // Row-wise reductions (softmax.comp, norm.comp).
        case "_softmax", "softmax.int": try softmax(node, a, log: false)
        case "_log_softmax", "log_softmax.int": try softmax(node, a, log: true)
        case "rms_norm": try norm(node, a, rms: true)
        case "layer_norm", "native_layer_norm": try norm(node, a, rms: false)
        // Elementwise (unary.comp, binary.comp).
        case "gelu": try gelu(node, a)
        case "hardtanh": try clamp(node, min: a.scalar("min_val").value, max: a.scalar("max_val").value)
        case "clamp": try clamp(node, min: optionalScalar(a["min"]) ?? -.infinity, max: optionalScalar(a["max"]) ?? .infinity)
        case "add.Tensor", "sub.Tensor", "mul.Tensor", "div.Tensor": try binary(node, a, op: Self.binaryCodes[base] ?? 0)
        case "add.Scalar", "sub.Scalar", "mul.Scalar", "div.Scalar": try scalarArithmetic(node, a, op: Self.binaryCodes[base] ?? 0)
        // Layout (copy.comp; views alias their input and need no dispatch).
        case "permute_copy": try permute(node, a.tensor("self"), a.intList("dims"))
        case "transpose.int": try transpose(node, a)
        case "slice_copy.Tensor": try slice(node, a)
        case "cat": try cat(node, a)
        default:
            if let code = Self.unaryCodes[name] {
                try unary(n: count(node.results[0]), src: offset(node.operands[0]), dst: offset(node.results[0]), op: code)
            } else if !GPUMemoryPlan.aliasOps.contains(name) {
                throw error(.unsupportedOp, "no GPU lowering for op '\(name)'")
            }
        }
    }

    /// Appends the dispatches of `node`.
    /// - Throws: ``GPUCompilerError`` naming the node: `.unsupportedOp` when no lowering exists,
    ///   `.unsupportedOperand` for a non-float32 value or a rank over 4.
    mutating func lower(_ node: Node) throws(GPUCompilerError) {
        subject = graph.describe(node)
        guard Self.loweredOps.contains(node.op.name) else {
            throw error(.unsupportedOp, "no GPU lowering for op '\(node.op.name)' (the GPU backend lowers: "
                        + Self.loweredOps.sorted().joined(separator: ", ") + ")")
        }
        for v in node.operands + node.results {
            let t = graph.type(of: v)
            guard t.dtype == .float32 else {
                throw error(.unsupportedOperand, "%\(graph[v].name) is \(t.dtype); the GPU backend computes float32")
            }
            guard t.shape.count <= 4 else {
                throw error(.unsupportedOperand, "%\(graph[v].name) has rank \(t.shape.count); the GPU backend takes rank 4 at most")
            }
            _ = try shape(v)
        }
        let args: OpArguments<ValueID>
        do {
            args = try OpArguments<ValueID>.validated(node.op, node.arguments)
        } catch {
            throw self.error(.unsupportedOperand, "\(error)")
        }
        try lowerOp(node, args)
    }

    // MARK: - Argument helpers

    func count(_ v: ValueID) throws(GPUCompilerError) -> Int { try shape(v).reduce(1, *) }

    func optionalScalar(_ argument: Argument<ValueID>) -> Double? {
        switch argument {
        case .int(let v): return Double(v)
        case .float(let v): return v
        default: return nil
        }
    }

    /// `dim` normalized to `0..<rank`.
    func normalized(_ dim: Int, rank: Int) throws(GPUCompilerError) -> Int {
        let d = dim < 0 ? dim + max(rank, 1) : dim
        guard d >= 0, d < max(rank, 1) else { throw error(.unsupportedOperand, "dim \(dim) is out of range for rank \(rank)") }
        return d
    }
}
