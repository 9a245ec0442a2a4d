import KilnIR

/// Annotates a graph: which nodes are quantized, with which specs, in which fused patterns.
///
/// A quantizer looks at ``QuantizationAnnotation/graph``, skips nodes another quantizer already
/// claimed, and claims the patterns it takes with ``QuantizationAnnotation/claim(_:_:)``. Given
/// several quantizers, ``ComposedQuantizer`` runs them in order: the first annotates what it
/// takes and the next sees the rest (as PT2E's `ComposableQuantizer`).
///
/// ```swift
/// struct ReluOnly: Quantizer {
///     let name = "relu-only"
///     func annotate(_ a: inout QuantizationAnnotation) throws(QuantError) {
///         for (i, node) in a.graph.nodes.enumerated() where node.op.name == "relu" && !a.isClaimed(i) {
///             a.claim([i], NodeQuantization(quantizer: name, pattern: "relu", output: .spec(.int8Activation())))
///         }
///     }
/// }
/// ```
public protocol Quantizer: Sendable {
    /// A kebab-case name, recorded on every node it claims (`xnnpack-int8`).
    var name: String { get }
    /// Claims nodes of `annotation.graph` that no earlier quantizer claimed.
    func annotate(_ annotation: inout QuantizationAnnotation) throws(QuantError)
}

/// Several quantizers in priority order: each sees only the nodes the ones before it left.
public struct ComposedQuantizer: Quantizer {
    public var quantizers: [any Quantizer]
    public var name: String { quantizers.map(\.name).joined(separator: "+") }

    public init(_ quantizers: [any Quantizer]) { self.quantizers = quantizers }

    public func annotate(_ annotation: inout QuantizationAnnotation) throws(QuantError) {
        for q in quantizers { try q.annotate(&annotation) }
    }
}

/// A graph and what quantizers decided for its nodes so far.
public struct QuantizationAnnotation: Sendable {
    /// The graph being annotated (unchanged while quantizers run).
    public let graph: Graph
    /// Node index → its quantization.
    public private(set) var nodes: [Int: NodeQuantization] = [:]
    /// Value → indices of the nodes that read it.
    public let users: [ValueID: [Int]]

    public init(_ graph: Graph) {
        self.graph = graph
        var users: [ValueID: [Int]] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for id in Set(node.operands) { users[id, default: []].append(i) }
        }
        self.users = users
    }

    /// Whether a quantizer already claimed node `index`.
    public func isClaimed(_ index: Int) -> Bool { nodes[index] != nil }

    /// Claims the nodes of one pattern: the first gets `quantization`'s input specs, the last its
    /// output, every one its quantizer and pattern name.
    public mutating func claim(_ pattern: [Int], _ quantization: NodeQuantization) {
        guard let first = pattern.first, let last = pattern.last else { return }
        for i in pattern {
            var q = NodeQuantization(quantizer: quantization.quantizer, pattern: quantization.pattern)
            if i == first { q.inputs = quantization.inputs }
            if i == last { q.output = quantization.output }
            nodes[i] = q
        }
    }

    /// Whether value `id` leaves a claimed node with an output quantization (so it is quantized
    /// wherever it is read).
    public func hasQuantizedOutput(_ id: ValueID) -> Bool {
        guard case .result(let n, 0) = graph[id].definition else { return false }
        return nodes[n]?.output != nil
    }

    /// The chain of single-use nodes starting at `start`: `start` itself, then for each set in
    /// `followers` the only user of the previous node's result, when its op is in the set (sets
    /// are optional steps: a mismatch skips to the next set).
    ///
    /// `chain(from: conv, [batchNorms, activations])` gives `[conv]`, `[conv, bn]`,
    /// `[conv, relu]` or `[conv, bn, relu]`.
    public func chain(from start: Int, _ followers: [Set<String>]) -> [Int] {
        var pattern = [start]
        for ops in followers {
            let last = graph.nodes[pattern[pattern.count - 1]]
            guard let result = last.results.first, !graph.outputs.contains(result),
                  let readers = users[result], readers.count == 1, !isClaimed(readers[0]),
                  ops.contains(graph.nodes[readers[0]].op.name),
                  graph.nodes[readers[0]].operands.first == result else { continue }
            pattern.append(readers[0])
        }
        return pattern
    }

    /// The graph with each claimed node's decisions as annotations: `quantizer`, `quant_pattern`,
    /// `quant_in<k>` (operand k's spec) and `quant_out`; other nodes as they were.
    public var annotatedGraph: Graph {
        var g = graph
        for (i, q) in nodes {
            g.nodes[i].annotations.merge(q.annotations) { _, new in new }
        }
        return g
    }
}

extension NodeQuantization {
    /// The node's annotations: `quantizer`, `quant_pattern`, `quant_in<k>`, `quant_out`.
    public var annotations: [String: Annotation] {
        var a: [String: Annotation] = ["quantizer": .string(quantizer), "quant_pattern": .string(pattern)]
        for (k, spec) in inputs { a["quant_in\(k)"] = .string(spec.description) }
        if let output { a["quant_out"] = .string(output.description) }
        return a
    }
}

/// Which nodes a quantizer may take: by op name and by node name.
///
/// A node's names are its location (`loc("lm_head")`) and its first result's name; a pattern is
/// a glob where `*` matches any run of characters. Exclusions win over inclusions.
///
/// ```swift
/// let keepHeadFloat = NodeFilter(excludingNames: ["lm_head*"])
/// let linearsOnly = NodeFilter(ops: ["linear"])
/// ```
public struct NodeFilter: Sendable, Hashable {
    /// Op names a quantizer may take; nil for every op it knows.
    public var ops: Set<String>?
    /// Node-name globs a quantizer must leave alone (they stay in float).
    public var excludedNames: [String]

    public init(ops: Set<String>? = nil, excludingNames excludedNames: [String] = []) {
        self.ops = ops
        self.excludedNames = excludedNames
    }

    /// Whether node `node` of `graph` may be taken.
    public func admits(_ node: Node, in graph: Graph) -> Bool {
        if let ops, !ops.contains(node.op.name) { return false }
        var names = node.results.prefix(1).map { graph[$0].name }
        if let loc = node.location { names.append(loc.text) }
        return !excludedNames.contains { pattern in names.contains { glob(pattern, matches: $0) } }
    }
}

/// `*` matches any run of characters, everything else itself.
func glob(_ pattern: String, matches text: String) -> Bool {
    let p = Array(pattern), t = Array(text)
    var (pi, ti) = (0, 0)
    var star: Int?, resume = 0
    while ti < t.count {
        if pi < p.count, p[pi] == "*" {
            star = pi
            resume = ti
            pi += 1
        } else if pi < p.count, p[pi] == t[ti] {
            pi += 1
            ti += 1
        } else if let s = star {
            pi = s + 1
            resume += 1
            ti = resume
        } else {
            return false
        }
    }
    while pi < p.count, p[pi] == "*" { pi += 1 }
    return pi == p.count
}
