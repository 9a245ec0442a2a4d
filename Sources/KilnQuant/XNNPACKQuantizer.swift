import KilnIR
import KilnTensor

/// XNNPACK-style symmetric int8 quantization: int8 weights per output channel (symmetric,
/// -127...127), int8 activations per tensor (affine, calibrated), or dynamic per-token activations.
///
/// Static patterns, each with one output quantizer: `convolution [→ batch_norm] [→ relu | hardtanh
/// | clamp]`, `linear [→ relu | hardtanh | clamp]`, `add.Tensor | mul.Tensor [→ relu]` (not with
/// a constant holding ±inf or NaN, such as an attention mask); pooling, reshapes and `cat` share
/// their input's qparams; `sigmoid` and `softmax` get the fixed [0, 1) qparams (softmax's input
/// stays float) and `tanh` the fixed [-1, 1] ones. Dynamic: `linear` only, with its input quantized
/// per token at run time and its output left in float. Biases stay float; a weight that is not a
/// constant leaves its pattern unclaimed.
///
/// ```swift
/// let quantizer = XNNPACKQuantizer(dynamic: false, filter: NodeFilter(excludingNames: ["lm_head*"]))
/// var annotation = QuantizationAnnotation(graph)
/// try quantizer.annotate(&annotation)
/// ```
public struct XNNPACKQuantizer: Quantizer {
    /// Per-token activations chosen at run time instead of calibrated per-tensor ones.
    public var dynamic: Bool
    public var filter: NodeFilter
    /// The activation spec of the static form (its observer is the calibration's choice).
    public var activation: QuantizationSpec
    /// Whether relu/hardtanh/clamp after a conv, linear or add joins its pattern (one output
    /// quantizer after the activation, as XNNPACK fuses it); when false each activation is its
    /// own `dq → relu → q` sharing its input's qparams (for backends that requantize every op).
    public var fusesActivations: Bool

    public var name: String { dynamic ? "xnnpack-int8-dynamic" : "xnnpack-int8" }

    public init(dynamic: Bool = false, filter: NodeFilter = NodeFilter(),
                activation: QuantizationSpec = .int8Activation(), fusesActivations: Bool = true) {
        self.dynamic = dynamic
        self.filter = filter
        self.activation = activation
        self.fusesActivations = fusesActivations
    }

    static let batchNorms: Set<String> = ["batch_norm", "_native_batch_norm_legit_no_training"]
    static let activations: Set<String> = ["relu", "hardtanh", "clamp"]
    static let sharing: Set<String> = ["adaptive_avg_pool2d", "avg_pool2d", "max_pool2d", "max_pool2d_with_indices",
                                       "flatten.using_ints", "view_copy", "reshape", "permute_copy", "transpose.int",
                                       "squeeze_copy.dim", "unsqueeze_copy", "slice_copy.Tensor", "cat"]
    static let unitOutputs: Set<String> = ["sigmoid", "softmax.int", "_softmax"]

    public func annotate(_ a: inout QuantizationAnnotation) throws(QuantError) {
        let graph = a.graph
        let fused: Set<String> = fusesActivations ? Self.activations : []
        let sharing = fusesActivations ? Self.sharing : Self.sharing.union(Self.activations)
        for (i, node) in graph.nodes.enumerated() where !a.isClaimed(i) && filter.admits(node, in: graph) {
            let op = node.op.name
            let ops = node.operands
            let floatInput = ops.first.map { graph.type(of: $0).dtype == .float32 } ?? false
            guard floatInput else { continue }
            switch op {
            case "linear" where isConstant(ops, 1, graph):
                let pattern = dynamic ? [i] : a.chain(from: i, [fused])
                a.claim(pattern, NodeQuantization(
                    quantizer: name, pattern: patternName(pattern, graph),
                    inputs: [0: dynamic ? .int8DynamicActivation : activation, 1: .int8Weight()],
                    output: dynamic ? nil : .spec(activation)))
            case "convolution" where !dynamic && isConstant(ops, 1, graph) && !isTransposed(node):
                let pattern = a.chain(from: i, [Self.batchNorms, fused])
                a.claim(pattern, NodeQuantization(quantizer: name, pattern: patternName(pattern, graph),
                                                  inputs: [0: activation, 1: .int8Weight()], output: .spec(activation)))
            case "add.Tensor", "mul.Tensor":
                // Not in dynamic mode; not with a constant holding ±inf or NaN (an attention
                // mask): integers cannot hold it, and a clamped mask lets softmax see masked keys.
                guard !dynamic, !ops.contains(where: { hasNonFinite(graph[$0].constantData) }) else { continue }
                let pattern = a.chain(from: i, [fused.intersection(["relu"])])
                var inputs: [Int: QuantizationSpec] = [:]
                // Constant operands (masks, tables) stay float.
                for (k, id) in ops.enumerated() where graph[id].constantData == nil { inputs[k] = activation }
                a.claim(pattern, NodeQuantization(quantizer: name, pattern: patternName(pattern, graph),
                                                  inputs: inputs, output: .spec(activation)))
            case _ where !dynamic && sharing.contains(op):
                // Shares its input's qparams, when that input is itself quantized.
                guard ops.allSatisfy({ a.hasQuantizedOutput($0) }) else { continue }
                a.claim([i], NodeQuantization(quantizer: name, pattern: op, output: .shared(input: 0)))
            case _ where !dynamic && (Self.unitOutputs.contains(op) || op == "tanh"):
                // Softmax inputs stay float: attention scores carry masks (-inf) and a range no
                // per-tensor step fits; its output has the fixed [0, 1) qparams.
                let softmax = op != "sigmoid" && op != "tanh"
                a.claim([i], NodeQuantization(quantizer: name, pattern: op, inputs: softmax ? [:] : [0: activation],
                                              output: op == "tanh" ? .signedUnitInterval : .unitInterval))
            default:
                continue
            }
        }
    }
}

/// Whether `tensor` (a constant, or nil) holds an infinite or NaN float.
func hasNonFinite(_ tensor: Tensor?) -> Bool {
    guard let tensor, tensor.dtype.isFloatingPoint else { return false }
    return tensor.floatValues().contains { !$0.isFinite }
}

/// Whether operand `k` is a constant.
func isConstant(_ operands: [ValueID], _ k: Int, _ graph: Graph) -> Bool {
    k < operands.count && graph[operands[k]].constantData != nil
}

private func isTransposed(_ node: Node) -> Bool {
    guard let i = node.op.parameterIndex("transposed"), i < node.arguments.count,
          case .bool(let t) = node.arguments[i] else { return false }
    return t
}

/// `convolution+batch_norm+relu`.
func patternName(_ pattern: [Int], _ graph: Graph) -> String {
    pattern.map { graph.nodes[$0].op.name }.joined(separator: "+")
}
