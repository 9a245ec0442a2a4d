import KilnIR
import KilnOps
import KilnPasses
import KilnTensor

/// One quantized tensor of a converted graph, for the report.
public struct QuantizedTensor: Sendable {
    /// The value's name in the float graph (`fc1.weight`, `blocks.0.out`).
    public var name: String
    /// The node whose operand or output it is, as messages write nodes.
    public var node: String
    /// `weight`, `activation`, or `dynamic` (qparams chosen at run time).
    public var role: String
    public var spec: String
    /// Empty for dynamic tensors.
    public var qparams: QParams
    /// The value in the float graph, and the converted graph's value holding its
    /// quantized-dequantized form.
    public var sourceValue: ValueID
    public var convertedValue: ValueID
}

/// A converted graph: explicit quantize/dequantize nodes and integer constants.
public struct ConvertedModel: Sendable {
    public var graph: Graph
    public var tensors: [QuantizedTensor]
    /// Float-graph value → the converted graph's value standing for it (the dequantized form of a
    /// quantized output), for every claimed node's output.
    public var outputs: [(source: ValueID, converted: ValueID)]
}

/// Replaces the observers of `prepared` with quantize/dequantize nodes, and folds quantized
/// weights into integer constants.
///
/// - Static activations: `quantize_per_tensor → dequantize_per_tensor` after the value (for an
///   annotated output, every reader sees the dequantized value; for an input spec, the annotated
///   readers do).
/// - Dynamic activations: `choose_qparams_per_token_asymmetric → quantize_per_token →
///   dequantize_per_token` before the reader.
/// - Weights: an int8 constant with its per-channel f32 scales and `dequantize_per_channel`; int4
///   weights as a packed uint8 constant (two per byte) with f32 scales per group and
///   `kiln.dequantize_per_channel_group_int4`. Symmetric weights carry no zero points.
///
/// The quantized nodes keep their annotations and gain `quant_out_scale` / `quant_out_zero_point`.
///
/// - Throws: `.unsupported` naming the node when a spec cannot apply to its operand.
public func convert(_ prepared: PreparedModel) throws(QuantError) -> ConvertedModel {
    var converter = Converter(prepared: prepared)
    var graph = prepared.graph
    do {
        try GraphRewriter.rewrite(&graph, pass: "quantize") { rw, node throws(PassError) in
            try converter.rewrite(&rw, node)
        }
    } catch {
        throw QuantError(error.kind == .unsupported ? .unsupported : .evaluation, error.message, subject: error.subject)
    }
    return ConvertedModel(graph: graph, tensors: converter.tensors,
                          outputs: converter.outputs.map { ($0.source, $0.converted) })
}

private struct Converter {
    let prepared: PreparedModel
    var annotation: QuantizationAnnotation { prepared.annotation }
    var source: Graph { prepared.graph }
    var index: [Int: Int] = [:]
    /// Source value → its dequantized form in the new graph, per kind of quantization.
    var staticCache: [ValueID: ValueID] = [:]
    var dynamicCache: [ValueID: ValueID] = [:]
    var weightCache: [String: ValueID] = [:]
    var tensors: [QuantizedTensor] = []
    var outputs: [(source: ValueID, converted: ValueID)] = []

    init(prepared: PreparedModel) {
        self.prepared = prepared
        for (i, node) in prepared.graph.nodes.enumerated() { index[node.debugHandle] = i }
    }

    mutating func rewrite(_ rw: inout GraphRewriter, _ node: Node) throws(PassError) -> Rewrite {
        guard let i = index[node.debugHandle], let q = annotation.nodes[i] else { return .keep }
        let subject = source.describe(node)
        // 1. Operands with specs read their quantized-dequantized form.
        var substitutions: [ValueID: ValueID] = [:]
        for (k, spec) in q.inputs.sorted(by: { $0.key < $1.key }) {
            let id = node.operands[k]
            if source[id].constantData != nil {
                substitutions[id] = try weight(&rw, id, spec, subject)
            } else if spec.isDynamic {
                substitutions[id] = try dynamic(&rw, id, subject)
            } else if !annotation.hasQuantizedOutput(id) {
                substitutions[id] = try activation(&rw, id, subject)
            }
        }
        let results = try rw.copy(node, substituting: substitutions)
        let copyIndex = rw.graph.nodes.count - 1
        for (key, value) in q.annotations.sorted(by: { $0.key < $1.key }) { rw.annotate(node: copyIndex, key, value) }
        // 2. A quantized output: quantize, dequantize; readers see the dequantized value.
        guard q.output != nil, let result = node.results.first else {
            if let first = node.results.first { outputs.append((first, results[0])) }
            return .replace(results)
        }
        guard let (qparams, spec) = prepared.qparams(of: result) else {
            throw rw.error(.unsupported, "quantize: no observer for the output %\(source[result].name)")
        }
        rw.annotate(node: copyIndex, "quant_out_scale", .float(Double(qparams.scales[0])))
        rw.annotate(node: copyIndex, "quant_out_zero_point", .int(qparams.zeroPoints[0]))
        let dq = try quantizeDequantize(&rw, results[0], name: source[result].name, qparams, spec)
        tensors.append(QuantizedTensor(name: source[result].name, node: subject, role: "activation",
                                       spec: spec.description, qparams: qparams, sourceValue: result, convertedValue: dq))
        outputs.append((result, dq))
        return .replaceResults([dq] + results.dropFirst().map { Optional($0) })
    }

    /// `quantize_per_tensor → dequantize_per_tensor` of new value `value` with `qparams`.
    mutating func quantizeDequantize(_ rw: inout GraphRewriter, _ value: ValueID, name: String, _ qparams: QParams,
                                     _ spec: QuantizationSpec) throws(PassError) -> ValueID {
        let scale = Argument<ValueID>.float(Double(qparams.scales[0])), zeroPoint = Argument<ValueID>.int(qparams.zeroPoints[0])
        let (lo, hi) = (Argument<ValueID>.int(spec.quantMin), Argument<ValueID>.int(spec.quantMax))
        let dtype = Argument<ValueID>.dtype(spec.dtype.storage)
        let q = try rw.emit("quantized_decomposed.quantize_per_tensor", [
            "input": .tensor(value), "scale": scale, "zero_point": zeroPoint, "quant_min": lo, "quant_max": hi, "dtype": dtype,
        ], names: [rw.freshName(base: "\(name).q")])[0]
        return try rw.emit("quantized_decomposed.dequantize_per_tensor", [
            "input": .tensor(q), "scale": scale, "zero_point": zeroPoint, "quant_min": lo, "quant_max": hi, "dtype": dtype,
        ], names: [rw.freshName(base: "\(name).dq")])[0]
    }

    /// The static q/dq form of source value `id` (an input or an unquantized output), made once.
    mutating func activation(_ rw: inout GraphRewriter, _ id: ValueID, _ subject: String) throws(PassError) -> ValueID {
        if let done = staticCache[id] { return done }
        guard let (qparams, spec) = prepared.qparams(of: id) else {
            throw rw.error(.unsupported, "quantize: no observer for %\(source[id].name)")
        }
        let dq = try quantizeDequantize(&rw, try rw.mapped(id), name: source[id].name, qparams, spec)
        tensors.append(QuantizedTensor(name: source[id].name, node: subject, role: "activation",
                                       spec: spec.description, qparams: qparams, sourceValue: id, convertedValue: dq))
        staticCache[id] = dq
        return dq
    }

    /// The dynamic per-token q/dq form of source value `id`, made once.
    mutating func dynamic(_ rw: inout GraphRewriter, _ id: ValueID, _ subject: String) throws(PassError) -> ValueID {
        if let done = dynamicCache[id] { return done }
        let name = source[id].name
        let x = try rw.mapped(id)
        let chosen = try rw.emit("quantized_decomposed.choose_qparams_per_token_asymmetric",
                                 ["input": .tensor(x), "dtype": .dtype(.int8)],
                                 names: [rw.freshName(base: "\(name).scales"), rw.freshName(base: "\(name).zero_points")])
        let q = try rw.emit("quantized_decomposed.quantize_per_token", [
            "input": .tensor(x), "scales": .tensor(chosen[0]), "zero_points": .tensor(chosen[1]),
            "quant_min": .int(-128), "quant_max": .int(127), "dtype": .dtype(.int8),
        ], names: [rw.freshName(base: "\(name).q")])[0]
        let dq = try rw.emit("quantized_decomposed.dequantize_per_token", [
            "input": .tensor(q), "scales": .tensor(chosen[0]), "zero_points": .tensor(chosen[1]),
            "quant_min": .int(-128), "quant_max": .int(127), "dtype": .dtype(.int8), "output_dtype": .dtype(.float32),
        ], names: [rw.freshName(base: "\(name).dq")])[0]
        tensors.append(QuantizedTensor(name: name, node: subject, role: "dynamic",
                                       spec: QuantizationSpec.int8DynamicActivation.description,
                                       qparams: QParams(scales: [], zeroPoints: []), sourceValue: id, convertedValue: dq))
        dynamicCache[id] = dq
        return dq
    }

    /// The folded form of constant `id` under `spec`: integer constant, scales, dequantize node.
    mutating func weight(_ rw: inout GraphRewriter, _ id: ValueID, _ spec: QuantizationSpec,
                         _ subject: String) throws(PassError) -> ValueID {
        let key = "\(id.index) \(spec)"
        if let done = weightCache[key] { return done }
        let name = source[id].name
        guard let data = source[id].constantData, data.dtype == .float32 else {
            throw rw.error(.unsupported, "quantize: weight %\(name) is not an f32 constant")
        }
        let folded: FoldedWeight
        do { folded = try FoldedWeight(data, spec) } catch {
            throw rw.error(.unsupported, "quantize: weight %\(name): \(error)")
        }
        let values = try rw.constant(folded.values, name: rw.freshName(base: "\(name).\(spec.dtype.rawValue)"))
        let scales = try rw.constant(folded.scales, name: rw.freshName(base: "\(name).scales"))
        // Zero points only when some is not 0 (symmetric weights have none).
        var zeroPoints = Argument<ValueID>.none
        if folded.qparams.zeroPoints.contains(where: { $0 != 0 }) {
            let z: Tensor
            do { z = try Tensor(folded.qparams.zeroPoints.map(Int64.init), shape: folded.scales.shape) } catch {
                throw rw.error(.unsupported, "quantize: weight %\(name): \(error)")
            }
            zeroPoints = .tensor(try rw.constant(z, name: rw.freshName(base: "\(name).zero_points")))
        }
        let dqName = rw.freshName(base: "\(name).dq")
        let dq: ValueID
        switch spec.granularity {
        case .perChannel(let axis):
            dq = try rw.emit("quantized_decomposed.dequantize_per_channel", [
                "input": .tensor(values), "scales": .tensor(scales), "zero_points": zeroPoints, "axis": .int(axis),
                "quant_min": .int(spec.quantMin), "quant_max": .int(spec.quantMax), "dtype": .dtype(spec.dtype.storage),
            ], names: [dqName])[0]
        case .perGroup(let size) where spec.dtype == .int4:
            dq = try rw.emit("kiln.dequantize_per_channel_group_int4", [
                "input": .tensor(values), "scales": .tensor(scales), "zero_points": zeroPoints,
                "quant_min": .int(spec.quantMin), "quant_max": .int(spec.quantMax), "group_size": .int(size),
            ], names: [dqName])[0]
        case .perGroup(let size):
            dq = try rw.emit("quantized_decomposed.dequantize_per_channel_group", [
                "input": .tensor(values), "scales": .tensor(scales), "zero_points": zeroPoints,
                "quant_min": .int(spec.quantMin), "quant_max": .int(spec.quantMax), "dtype": .dtype(spec.dtype.storage),
                "group_size": .int(size),
            ], names: [dqName])[0]
        default:
            throw rw.error(.unsupported, "quantize: weight %\(name): \(spec.granularity) weights are not supported")
        }
        tensors.append(QuantizedTensor(name: name, node: subject, role: "weight", spec: spec.description,
                                       qparams: folded.qparams, sourceValue: id, convertedValue: dq))
        weightCache[key] = dq
        return dq
    }
}
