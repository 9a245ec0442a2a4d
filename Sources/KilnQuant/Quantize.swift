import KilnIR
import KilnPasses
import KilnTensor

/// A step of ``quantize(_:scheme:calibration:heldOut:progress:)`` that reports progress.
public enum QuantizationPhase: String, Sendable {
    case calibration = "calibrating"
    case evaluation = "measuring"
}

/// Annotates, prepares, calibrates and converts `graph` with `scheme`, then measures the damage.
///
/// Before annotating, inference batch norms are folded into the convolution before them (as
/// PT2E's prepare does). The returned graph is an ordinary graph: quantize/dequantize nodes,
/// integer constants, and annotations on the quantized nodes (`quantizer`, `quant_pattern`,
/// `quant_in<k>`, `quant_out`, `quant_out_scale`, `quant_out_zero_point`).
///
/// ```swift
/// let scheme = try QuantizationSchemes.parse("int8")
/// let (quantized, report) = try quantize(graph, scheme: scheme, calibration: samples, heldOut: heldOut)
/// print(report.endToEndSQNR ?? 0)
/// ```
///
/// - Parameters:
///   - calibration: one array of input tensors per sample; required when the scheme has static
///     activations.
///   - heldOut: samples not used for calibration, for the end-to-end figures; nil skips them.
///   - progress: called after each sample with the phase, samples done and total.
/// - Throws: ``QuantError``: `.missingCalibration`, `.badSample`, `.unsupported`, `.evaluation`.
public func quantize(_ graph: Graph, scheme: QuantizationScheme, calibration: [[Tensor]], heldOut: [[Tensor]]? = nil,
                     progress: (QuantizationPhase, Int, Int) -> Void = { _, _, _ in })
    throws(QuantError) -> (graph: Graph, report: QuantizationReport) {
    if scheme.needsCalibration && calibration.isEmpty {
        throw QuantError(.missingCalibration,
                         "scheme \(scheme.name) has static activations and needs calibration samples")
    }
    return try quantize(graph, quantizer: scheme.quantizer, name: scheme.name, calibration: calibration,
                        heldOut: heldOut, progress: progress)
}

/// ``quantize(_:scheme:calibration:heldOut:progress:)`` with quantizers instead of a scheme;
/// `name` is what the report calls it.
public func quantize(_ graph: Graph, quantizer: any Quantizer, name: String, calibration: [[Tensor]],
                     heldOut: [[Tensor]]? = nil, progress: (QuantizationPhase, Int, Int) -> Void = { _, _, _ in })
    throws(QuantError) -> (graph: Graph, report: QuantizationReport) {
    // 1. Annotate, prepare, calibrate, convert.
    let annotation = try annotate(graph, quantizer: quantizer)
    var prepared = PreparedModel(annotation)
    if prepared.needsCalibration && calibration.isEmpty {
        throw QuantError(.missingCalibration, "\(name): static activations need calibration samples")
    }
    try prepared.calibrate(calibration) { progress(.calibration, $0, $1) }
    let converted = try convert(prepared)

    // 2. Measure: per tensor and node on the held-out samples (else the calibration ones),
    //    end to end on the held-out samples only.
    let measured = heldOut ?? calibration
    var report = QuantizationReport(
        scheme: name, calibrationSamples: calibration.count, heldOutSamples: heldOut?.count ?? 0,
        measuredOn: measured.isEmpty ? nil : heldOut != nil ? "held-out" : "calibration",
        tensors: [], nodes: [], endToEnd: [],
        skipped: heldOut == nil ? "no held-out samples given (--eval-samples): end-to-end figures skipped" : nil)
    try measure(&report, prepared.graph, converted, samples: measured, endToEnd: heldOut != nil) {
        progress(.evaluation, $0, $1)
    }

    // 3. The float weights the quantized constants replaced are no longer read.
    var result = converted.graph
    do { try DeadCodeElimination().run(&result) } catch {
        throw QuantError(.evaluation, error.description)
    }
    return (result, report)
}

/// Annotates `graph` without calibrating or converting: the graph (batch norms folded) with each
/// claimed node's decisions as annotations, for planners that need the patterns, not the ranges.
///
/// ```swift
/// let annotated = try annotateOnly(graph, scheme: try QuantizationSchemes.parse("int8"))
/// annotated.nodes[0].annotations["quant_pattern"]    // "convolution+relu"
/// ```
public func annotateOnly(_ graph: Graph, scheme: QuantizationScheme) throws(QuantError) -> Graph {
    try annotate(graph, quantizer: scheme.quantizer).annotatedGraph
}

/// Folds batch norms, then runs `quantizer` over the graph.
public func annotate(_ graph: Graph, quantizer: any Quantizer) throws(QuantError) -> QuantizationAnnotation {
    var g = graph
    do {
        try FoldBatchNorm().run(&g)
        try DeadCodeElimination().run(&g)
    } catch {
        throw QuantError(.evaluation, error.description)
    }
    var annotation = QuantizationAnnotation(g)
    try quantizer.annotate(&annotation)
    return annotation
}

private func measure(_ report: inout QuantizationReport, _ float: Graph, _ converted: ConvertedModel,
                     samples: [[Tensor]], endToEnd: Bool, progress: (Int, Int) -> Void) throws(QuantError) {
    let reference = GraphEvaluator(float), quantized = GraphEvaluator(converted.graph)
    var tensorSQNR = Array(repeating: SQNRAccumulator(), count: converted.tensors.count)
    var nodeSQNR = Array(repeating: SQNRAccumulator(), count: converted.outputs.count)
    var outputSQNR = Array(repeating: SQNRAccumulator(), count: float.outputs.count)
    for (n, sample) in samples.enumerated() {
        let r: GraphEvaluator.Evaluation, q: GraphEvaluator.Evaluation
        do {
            r = try reference.run(sample, keepingIntermediates: true)
            q = try quantized.run(sample, keepingIntermediates: true)
        } catch {
            throw QuantError(.badSample, error.description, subject: "sample \(n)")
        }
        /// A float-graph value in this sample: input, constant or node result.
        func floatValue(_ id: ValueID) -> Tensor? {
            if let i = float.inputs.firstIndex(of: id) { return sample[i] }
            return float[id].constantData ?? r.intermediates[id]
        }
        for (i, row) in converted.tensors.enumerated() {
            guard let x = floatValue(row.sourceValue), let y = q.intermediates[row.convertedValue] else { continue }
            tensorSQNR[i].add(reference: x, actual: y)
        }
        for (i, pair) in converted.outputs.enumerated() {
            guard let x = floatValue(pair.source), let y = q.intermediates[pair.converted] else { continue }
            nodeSQNR[i].add(reference: x, actual: y)
        }
        if endToEnd {
            for i in 0..<float.outputs.count { outputSQNR[i].add(reference: r.outputs[i], actual: q.outputs[i]) }
        }
        progress(n + 1, samples.count)
    }
    report.tensors = zip(converted.tensors, tensorSQNR).map { row, acc in
        QuantizationReport.TensorRow(name: row.name, node: row.node, role: row.role, spec: row.spec,
                                     scales: row.qparams.scales, zeroPoints: row.qparams.zeroPoints, sqnr: acc.sqnr)
    }
    let annotations = converted.graph.nodes
    report.nodes = zip(converted.outputs, nodeSQNR).map { pair, acc in
        let node = float.definingNode(of: pair.source)
        let pattern = node.flatMap { n in annotations.first { $0.debugHandle == n.debugHandle } }
            .flatMap { n -> String? in if case .string(let s) = n.annotations["quant_pattern"] { s } else { nil } }
        return QuantizationReport.NodeRow(node: node.map { float.describe($0) } ?? "%\(float[pair.source].name)",
                                          pattern: pattern ?? "?", sqnr: acc.sqnr)
    }
    if endToEnd {
        report.endToEnd = float.outputs.enumerated().map { i, id in
            QuantizationReport.OutputFigures(name: float[id].name, sqnr: outputSQNR[i].sqnr,
                                             maxAbsError: outputSQNR[i].maxAbsError)
        }
    }
}
