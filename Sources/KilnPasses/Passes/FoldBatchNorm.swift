import KilnIR
import KilnOps
import KilnTensor

/// Folds an inference batch norm into the convolution or matrix product before it.
///
/// `bn(conv(x, w, b))` with every parameter constant becomes `conv(x, w', b')`, where per output
/// channel `s = gamma / sqrt(var + eps)`, `w' = w * s` and `b' = (b - mean) * s + beta` (a missing
/// bias is zero, a missing gamma one, a missing beta zero). The same holds for `addmm(b, x, W)`
/// and `mm(x, W)` followed by a batch norm over their columns (a 2-D `[N, C]` batch norm), which
/// scale `W`'s columns. The arithmetic runs in Double and rounds once to float32.
///
/// Applies only when the product's result feeds the batch norm alone, the batch norm's mean and
/// invstd results are unused, everything is float32, and (for convolution) it is not transposed.
/// Anything else is left as it is. The folded node keeps the product's name, debug handle and
/// location; the batch norm's result becomes the folded node's result. Run dead-code-elimination
/// afterwards to drop the unused original constants.
///
/// ```swift
/// try FoldBatchNorm().run(&graph)
/// ```
public struct FoldBatchNorm: Pass {
    public static let name = "fold-batch-norm"
    public static let summary = "fold inference batch norm into the preceding convolution, addmm or mm"

    static let batchNorms: Set<String> = ["_native_batch_norm_legit_no_training", "batch_norm"]

    public init() {}

    public func run(_ graph: inout Graph) throws(PassError) {
        let uses = UseCounts(graph)
        // Product result → the batch norm node folding into it.
        var folds: [ValueID: Node] = [:]
        for node in graph.nodes where Self.batchNorms.contains(node.op.name) {
            guard case .tensor(let input) = node.arguments[0], uses[input] == 1,
                  node.results.dropFirst().allSatisfy({ uses[$0] == 0 }),
                  case .result(let producer, _) = graph[input].definition,
                  ["convolution", "addmm", "mm"].contains(graph.nodes[producer].op.name) else { continue }
            folds[input] = node
        }
        guard !folds.isEmpty else { return }
        var folded: [ValueID: ValueID] = [:]
        try GraphRewriter.rewrite(&graph, pass: Self.name) { rw, node throws(PassError) in
            if let bn = node.results.first.flatMap({ folds[$0] }) {
                guard let result = try fold(&rw, product: node, batchNorm: bn) else { return .keep }
                folded[node.results[0]] = result
                return .replace([result])
            }
            if Self.batchNorms.contains(node.op.name), case .tensor(let input) = node.arguments[0],
               let result = folded[input] {
                return .replaceResults([result] + [ValueID?](repeating: nil, count: node.results.count - 1))
            }
            return .keep
        }
    }

    /// The folded product, or nil when something is not constant or not float32.
    private func fold(_ rw: inout GraphRewriter, product: Node, batchNorm bnNode: Node) throws(PassError) -> ValueID? {
        let bn = try BatchNormParameters(rw, bnNode)
        guard let bn else { return nil }
        let args = try rw.arguments(of: product)
        let name = rw.sourceName(product.results[0])
        switch product.op.name {
        case "convolution":
            guard !args.bool("transposed"), let w = float32(rw, args.tensor("weight")),
                  w.shape.first == bn.channels else { return nil }
            let bias = args.optionalTensor("bias")
            let b = bias.flatMap { float32(rw, $0) }
            if bias != nil && b == nil { return nil }
            let perChannel = w.elementCount / max(bn.channels, 1)
            let weight = try scaled(w, name: "\(name).weight") { i in bn.scale[i / perChannel] }
            let newBias = try bn.foldedBias(b)
            let wID = try rw.constant(weight, name: rw.freshName(base: "\(name).folded_weight"))
            let bID = try rw.constant(newBias, name: rw.freshName(base: "\(name).folded_bias"))
            return try rw.emit("convolution", [
                "input": args["input"], "weight": .tensor(wID), "bias": .tensor(bID), "stride": args["stride"],
                "padding": args["padding"], "dilation": args["dilation"], "transposed": args["transposed"],
                "output_padding": args["output_padding"], "groups": args["groups"],
            ], names: [name])[0]
        case "addmm", "mm":
            guard let w = float32(rw, args.tensor("mat2")), w.rank == 2, w.shape[1] == bn.channels else { return nil }
            var b: Tensor?
            if product.op.name == "addmm" {
                // Only a bias broadcast along rows ([C] or [1, C]), with the default beta and alpha.
                guard let given = float32(rw, args.tensor("self")), given.elementCount == bn.channels,
                      given.shape.last == bn.channels, args.scalar("beta").value == 1,
                      args.scalar("alpha").value == 1 else { return nil }
                b = given
            }
            let columns = bn.channels
            let weight = try scaled(w, name: "\(name).mat2") { i in bn.scale[i % columns] }
            let newBias = try bn.foldedBias(b)
            let wID = try rw.constant(weight, name: rw.freshName(base: "\(name).folded_weight"))
            let bID = try rw.constant(newBias, name: rw.freshName(base: "\(name).folded_bias"))
            let x = product.op.name == "addmm" ? args["mat1"] : args["self"]
            return try rw.emit("addmm", ["self": .tensor(bID), "mat1": x, "mat2": .tensor(wID)], names: [name])[0]
        default:
            return nil
        }
    }

    /// `t` with element `i` multiplied by `factor(i)`, in Double, rounded once.
    private func scaled(_ t: Tensor, name: String, _ factor: (Int) -> Double) throws(PassError) -> Tensor {
        let values = t.scalars(as: Float.self)
        var out = [Float](repeating: 0, count: values.count)
        for i in values.indices { out[i] = Float(Double(values[i]) * factor(i)) }
        do { return try Tensor(out, shape: t.shape) } catch { throw PassError(.rewrite, "\(name): \(error)", pass: Self.name) }
    }

    private func float32(_ rw: GraphRewriter, _ id: ValueID) -> Tensor? {
        guard let t = rw.constantData(id), t.dtype == .float32 else { return nil }
        return t
    }

    /// A batch norm's constant parameters, per channel, in Double.
    private struct BatchNormParameters {
        var channels: Int
        /// gamma / sqrt(var + eps)
        var scale: [Double]
        var mean: [Double]
        var beta: [Double]

        /// Reads the batch norm in the source graph (its input is not rewritten yet).
        init?(_ rw: GraphRewriter, _ node: Node) throws(PassError) {
            let args: OpArguments<ValueID>
            do { args = try OpArguments.validated(node.op, node.arguments) } catch {
                throw rw.error(.rewrite, error.description)
            }
            let input = rw.source.type(of: args.tensor("input"))
            guard input.dtype == .float32, input.rank >= 2, let c = input.shape[1].staticValue else { return nil }
            func vector(_ name: String, default value: Double?) -> [Double]? {
                guard let id = args.optionalTensor(name) else { return value.map { [Double](repeating: $0, count: c) } }
                guard let t = rw.source[id].constantData, t.dtype == .float32, t.elementCount == c else { return nil }
                return t.scalars(as: Float.self).map(Double.init)
            }
            guard let mean = vector("running_mean", default: nil), let variance = vector("running_var", default: nil),
                  let gamma = vector("weight", default: 1), let beta = vector("bias", default: 0),
                  let eps = args.optionalFloat("eps") else { return nil }
            channels = c
            self.mean = mean
            self.beta = beta
            scale = (0..<c).map { gamma[$0] / (variance[$0] + eps).squareRoot() }
        }

        /// `(b - mean) * scale + beta`, as a float32 `[C]` tensor.
        func foldedBias(_ b: Tensor?) throws(PassError) -> Tensor {
            let bias = b?.scalars(as: Float.self).map(Double.init) ?? [Double](repeating: 0, count: channels)
            let values = (0..<channels).map { Float((bias[$0] - mean[$0]) * scale[$0] + beta[$0]) }
            do { return try Tensor(values, shape: [channels]) } catch {
                throw PassError(.rewrite, "folded bias: \(error)", pass: FoldBatchNorm.name)
            }
        }
    }
}
