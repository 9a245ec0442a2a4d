import KilnIR
import KilnOps
import KilnPasses
import KilnTensor

/// A minimal post-training quantizer for the end-to-end tests (KilnQuant is not in this
/// build): every compute node of a canonical float graph becomes `dq → op → q` with per-tensor
/// activations calibrated by min/max over sample inputs (int8 affine or int16 symmetric) and
/// symmetric per-channel weights (8- or 4-bit); shape ops and max pooling share their input's
/// parameters, as PT2E's shared specs do.
enum HandQuantizer {
    static let weightParameters: Set<String> = ["weight", "mat2"]
    static let sharing: Set<String> = ["view_copy", "flatten.using_ints", "permute_copy", "max_pool2d", "squeeze_copy.dims",
                                       "unsqueeze_copy", "transpose.int"]

    static func quantize(_ graph: Graph, calibration: [Tensor], activation: DType, linearWeightBits: Int = 8) throws -> Graph {
        // Min and max of every value over the calibration inputs.
        var lo: [ValueID: Float] = [:], hi: [ValueID: Float] = [:]
        for input in calibration {
            let run = try GraphEvaluator(graph).run([input], keepingIntermediates: true)
            var values = run.intermediates
            values[graph.inputs[0]] = input
            for (id, t) in values where t.dtype == .float32 {
                let v = t.scalars(as: Float.self)
                lo[id] = min(lo[id] ?? 0, v.min() ?? 0)
                hi[id] = max(hi[id] ?? 0, v.max() ?? 0)
            }
        }
        func params(_ id: ValueID) -> Ref.Q {
            let (a, b) = (Double(lo[id] ?? 0), Double(hi[id] ?? 0))
            if activation == .int16 {
                return QGraph.q(max(max(-a, b), 1e-6) / 32767, 0, .int16)
            }
            let scale = max(b - a, 1e-6) / 255
            return QGraph.q(scale, Int(max(-128, min(127, (-128 - a / Double(Float(scale))).rounded()))))
        }
        var g = QGraph()
        g.b = GraphBuilder(name: graph.name)
        var quantized: [ValueID: ValueID] = [:]
        var qp: [ValueID: Ref.Q] = [:]
        for id in graph.inputs {
            let x = try g.b.input(graph[id].name, graph.type(of: id))
            qp[id] = params(id)
            quantized[id] = try g.q(x, qp[id]!, activation)
        }
        for node in graph.nodes {
            var arguments: [Argument<ValueID>] = []
            for (i, argument) in node.arguments.enumerated() {
                let name = node.op.parameters[i].name
                switch argument {
                case .tensor(let id):
                    if let t = graph[id].constantData {
                        let bits = node.op.name == "convolution" ? 8 : linearWeightBits
                        arguments.append(.tensor(Self.weightParameters.contains(name)
                            ? try weight(&g, graph[id].name, t, axis: node.op.name == "addmm" ? 1 : 0, bits: bits)
                            : try g.b.constant(graph[id].name, t)))
                    } else {
                        arguments.append(.tensor(try g.dq(quantized[id]!, qp[id]!, activation)))
                    }
                case .tensorList(let ids):
                    var list: [ValueID] = []
                    for id in ids { list.append(try g.dq(quantized[id]!, qp[id]!, activation)) }
                    arguments.append(.tensorList(list))
                default:
                    arguments.append(argument)
                }
            }
            let result = try g.b.append(node.op, arguments: arguments, resultNames: nil, resultTypes: nil, debugHandle: nil,
                                        location: node.location)[0]
            let old = node.results[0]
            qp[old] = Self.sharing.contains(node.op.name) ? qp[node.operands[0]]! : params(old)
            quantized[old] = try g.q(result, qp[old]!, activation)
        }
        var outputs: [ValueID] = []
        for id in graph.outputs { outputs.append(try g.dq(quantized[id]!, qp[id]!, activation)) }
        g.b.output(outputs)
        return try g.b.finish()
    }

    /// A float weight as a symmetric per-channel int8 constant (4-bit values when `bits` is 4).
    static func weight(_ g: inout QGraph, _ name: String, _ t: Tensor, axis: Int, bits: Int) throws -> ValueID {
        let v = t.scalars(as: Float.self)
        let channels = t.shape[axis]
        let inner = t.shape[(axis + 1)...].reduce(1, *)
        let qmax = Float(bits == 4 ? 7 : 127)
        var scales = [Float](repeating: 0, count: channels)
        for (i, x) in v.enumerated() { scales[(i / inner) % channels] = max(scales[(i / inner) % channels], abs(x)) }
        scales = scales.map { max($0, 1e-8) / qmax }
        let ints = v.indices.map { i in Int(max(-qmax, min(qmax, (v[i] * (1 / scales[(i / inner) % channels])).rounded(.toNearestOrEven)))) }
        return try g.weight(name, ints, t.shape, scales: scales.map(Double.init), axis: axis, bits: bits)
    }
}
