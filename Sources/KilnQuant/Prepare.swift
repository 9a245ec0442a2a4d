import KilnIR
import KilnPasses
import KilnTensor

/// An annotated graph with an observer on every tensor whose qparams calibration decides: the
/// output of each pattern with a static spec, each static input that no quantized output feeds,
/// and the groups that must share qparams (a pooling's or cat's output with its inputs) under one
/// observer that sees them all.
///
/// PT2E inserts observer modules into the graph; here they sit beside it, keyed by value, so the
/// graph stays one that the evaluator and every pass read as it is.
///
/// ```swift
/// var prepared = try PreparedModel(annotation)
/// try prepared.calibrate(samples)               // [[Tensor]]: one array of inputs per sample
/// let qparams = prepared.qparams(of: value)
/// ```
public struct PreparedModel: Sendable {
    public let annotation: QuantizationAnnotation
    public var graph: Graph { annotation.graph }
    /// Value → the representative of the group it shares qparams with.
    private var parent: [ValueID: ValueID] = [:]
    /// Representative → its spec (static) and observer.
    private var specs: [ValueID: QuantizationSpec] = [:]
    private var observers: [ValueID: any Observer] = [:]
    /// Representative → fixed qparams (and the dtype they are for).
    private var fixed: [ValueID: (QParams, QuantizationSpec)] = [:]
    /// Samples seen by ``calibrate(_:progress:)``.
    public private(set) var samplesSeen = 0

    /// Prepares `annotation`: one observer per group of values that share qparams.
    public init(_ annotation: QuantizationAnnotation) {
        self.annotation = annotation
        let graph = annotation.graph
        // 1. Static specs on outputs and on inputs no quantized output feeds.
        for index in annotation.nodes.keys.sorted() {
            let q = annotation.nodes[index]!, node = graph.nodes[index]
            for (k, spec) in q.inputs where !spec.isDynamic {
                let id = node.operands[k]
                guard graph[id].constantData == nil, !annotation.hasQuantizedOutput(id) else { continue }
                add(id, spec)
            }
            guard let output = q.output, let result = node.results.first else { continue }
            switch output {
            case .spec(let spec): add(result, spec)
            case .fixed(let scale, let zp, let dtype):
                let spec = QuantizationSpec(dtype: dtype, symmetric: false, granularity: .perTensor)
                parent[result] = result
                fixed[result] = (QParams(scales: [Float(scale)], zeroPoints: [zp]), spec)
            case .shared:
                break
            }
        }
        // 2. Shared outputs join their inputs' groups (in graph order, so chains resolve).
        for index in annotation.nodes.keys.sorted() {
            guard case .shared = annotation.nodes[index]!.output else { continue }
            let node = graph.nodes[index]
            guard let result = node.results.first, let first = node.operands.first, parent[first] != nil else { continue }
            parent[result] = result
            for id in node.operands where parent[id] != nil { union(id, result) }
            union(first, result)
        }
    }

    private mutating func add(_ id: ValueID, _ spec: QuantizationSpec) {
        guard parent[id] == nil else { return }
        parent[id] = id
        specs[id] = spec
        observers[id] = makeObserver(for: spec)
    }

    private func root(_ id: ValueID) -> ValueID? {
        guard var r = parent[id] else { return nil }
        while let p = parent[r], p != r { r = p }
        return r
    }

    /// Joins the groups of `a` and `b`; the group keeps `a`'s spec (fixed qparams win).
    private mutating func union(_ a: ValueID, _ b: ValueID) {
        guard let ra = root(a), let rb = root(b), ra != rb else { return }
        if fixed[rb] != nil && fixed[ra] == nil {
            parent[ra] = rb
        } else {
            parent[rb] = ra
            specs[rb] = nil
            observers[rb] = nil
            fixed[rb] = nil
        }
    }

    /// Whether some value's qparams come from calibration (not all fixed).
    public var needsCalibration: Bool { !observers.isEmpty }

    /// Every value whose qparams calibration decides or that has fixed qparams, in value order.
    public var observedValues: [ValueID] { parent.keys.sorted() }

    /// Runs the graph evaluator over `samples` (one array of input tensors per sample) and shows
    /// each observer its values; `progress` is called after each sample with (done, total).
    /// - Throws: `.badSample` naming the sample whose inputs do not fit the graph.
    public mutating func calibrate(_ samples: [[Tensor]],
                                   progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws(QuantError) {
        let evaluator = GraphEvaluator(graph)
        let watched = observedValues.compactMap { id in root(id).flatMap { observers[$0] != nil ? (id, $0) : nil } }
        for (n, sample) in samples.enumerated() {
            let evaluation: GraphEvaluator.Evaluation
            do { evaluation = try evaluator.run(sample, keepingIntermediates: true) } catch {
                throw QuantError(.badSample, error.description, subject: "calibration sample \(n)")
            }
            for (id, r) in watched {
                let tensor: Tensor?
                if let i = graph.inputs.firstIndex(of: id) { tensor = sample[i] } else { tensor = evaluation.intermediates[id] }
                guard let tensor, tensor.dtype == .float32 else { continue }
                // Contiguous: the evaluator binds only row-major inputs, and its results are row-major.
                observers[r]!.observe(tensor)
            }
            samplesSeen += 1
            progress(n + 1, samples.count)
        }
    }

    /// The qparams and spec of value `id`'s group, or nil when it is not observed.
    public func qparams(of id: ValueID) -> (QParams, QuantizationSpec)? {
        guard let r = root(id) else { return nil }
        if let f = fixed[r] { return f }
        guard let spec = specs[r], let observer = observers[r] else { return nil }
        return (observer.qparams(for: spec), spec)
    }
}
