import KilnOps
import KilnTensor

/// Builds a ``Graph`` one value at a time, inferring each node's result types through the op
/// table as it goes, so a mistake is reported at the call that made it.
///
/// ```swift
/// var b = GraphBuilder(name: "forward")
/// let x = try b.input("x", TensorType(.float32, static: [1, 256]))
/// let w = try b.constant("w", try Tensor(zeros: .float32, shape: [10, 256]))
/// let y = try b.call("linear", [x, w, nil], location: "fc")[0]
/// b.output(y)
/// let graph = try b.finish()          // verified
/// ```
public struct GraphBuilder {
    public private(set) var graph: Graph
    private var usedNames: Set<String> = []
    private var nextName = 0
    private var nextHandle = 0

    public init(name: String) {
        graph = Graph(name: name)
    }

    /// Declares a bounded symbol for use in input shapes.
    @discardableResult
    public mutating func symbol(_ name: String, range: ClosedRange<Int>) -> Symbol {
        let s = Symbol(name, range: range)
        graph.symbols.append(s)
        return s
    }

    /// Adds a graph input.
    public mutating func input(_ name: String, _ type: TensorType) throws(IRError) -> ValueID {
        if let bad = type.shape.first(where: { $0.lowerBound < 0 }) {
            throw IRError(.negativeDim, "input %\(name) has dimension \(bad), which can be negative", subject: "input %\(name)")
        }
        let id = ValueID(graph.values.count)
        graph.values.append(Value(name: try claim(name), type: type, definition: .input))
        graph.inputs.append(id)
        return id
    }

    /// Adds a constant holding `tensor` (which may borrow from a mapped file).
    public mutating func constant(_ name: String, _ tensor: Tensor) throws(IRError) -> ValueID {
        let type = TensorType(tensor.dtype, static: tensor.shape)
        let id = ValueID(graph.values.count)
        graph.values.append(Value(name: try claim(name), type: type, definition: .constant(tensor)))
        graph.constants.append(id)
        return id
    }

    /// Applies `op`: `tensors` fill its tensor parameters in order (nil for an absent optional
    /// tensor), `attributes` name the rest; unnamed parameters take their defaults.
    /// - Returns: the node's results.
    /// - Throws: ``IRError`` naming the op and what was wrong (unknown op, bad arguments, type rule).
    @discardableResult
    public mutating func call(_ op: String, _ tensors: [ValueID?] = [],
                              _ attributes: KeyValuePairs<String, Argument<ValueID>> = [:],
                              names: [String]? = nil, location: String? = nil) throws(IRError) -> [ValueID] {
        guard let schema = OpTable.schema(named: op) else {
            throw IRError(.unknownOp, "unknown op '\(op)'\(OpSuggestion.hint(for: op))")
        }
        let positional: [Argument<ValueID>] = tensors.map { $0.map(Argument.tensor) ?? .none }
        let arguments: [Argument<ValueID>]
        do {
            arguments = try ArgumentBinding.bind(schema, positional: positional,
                                                 keywords: attributes.map { ($0.key, $0.value) })
        } catch {
            throw IRError(error.kind, error.message)
        }
        return try append(schema, arguments: arguments, resultNames: names, resultTypes: nil,
                          debugHandle: nil, location: location.map(SourceLocation.init))
    }

    /// Appends a node with fully bound arguments. Result types are inferred; when
    /// `resultTypes` is given it must match what was inferred.
    public mutating func append(_ schema: OpSchema, arguments: [Argument<ValueID>], resultNames: [String]?,
                                resultTypes: [TensorType]?, debugHandle: Int?,
                                location: SourceLocation?) throws(IRError) -> [ValueID] {
        let handle = debugHandle ?? nextHandle
        let subject = "\(schema.name) (#\(handle)\(location.map { ", loc(\"\($0.text)\")" } ?? ""))"
        // Types of the operands; every operand must already exist.
        var typed: [Argument<TensorType>] = []
        for a in arguments {
            var missing: ValueID?
            let t = a.map { id -> TensorType in
                guard id.index >= 0, id.index < graph.values.count else {
                    missing = id
                    return TensorType(.float32, [])
                }
                return graph.values[id.index].type
            }
            if let missing {
                throw IRError(.undefinedValue, "operand \(missing) is not defined", subject: subject)
            }
            typed.append(t)
        }
        let inferred: [TensorType]
        do {
            inferred = try schema.inferTypes(typed)
        } catch {
            throw IRError(error.argument == nil && arguments.count != schema.parameters.count ? .arity : .opRule,
                          error.description, subject: subject)
        }
        if let resultTypes {
            guard resultTypes.count == inferred.count else {
                throw IRError(.resultCount, "\(schema.name) has \(inferred.count) result\(inferred.count == 1 ? "" : "s"), \(resultTypes.count) types given",
                              subject: subject)
            }
            for (i, (declared, actual)) in zip(resultTypes, inferred).enumerated() where declared != actual {
                throw IRError(.resultType, "result \(i) is declared \(declared), but \(schema.name) gives \(actual)",
                              subject: subject)
            }
        }
        if let resultNames {
            guard resultNames.count == inferred.count else {
                throw IRError(.resultCount, "\(schema.name) has \(inferred.count) result\(inferred.count == 1 ? "" : "s"), \(resultNames.count) names given",
                              subject: subject)
            }
            // Checked before any is claimed, so a failed call leaves the builder as it was.
            var seen = Set<String>()
            for name in resultNames where usedNames.contains(name) || !seen.insert(name).inserted {
                throw IRError(.duplicateName, "value %\(name) is defined more than once", subject: subject)
            }
        }
        nextHandle = Swift.max(nextHandle, handle < Int.max ? handle + 1 : handle)  // no overflow from file contents
        let nodeIndex = graph.nodes.count
        var results: [ValueID] = []
        for (i, type) in inferred.enumerated() {
            let name = try claim(resultNames?[i])
            let id = ValueID(graph.values.count)
            graph.values.append(Value(name: name, type: type, definition: .result(node: nodeIndex, result: i)))
            results.append(id)
        }
        graph.nodes.append(Node(op: schema, arguments: arguments, results: results, debugHandle: handle,
                                location: location))
        return results
    }

    /// Adds a lowered delegate for ``OpSchema/delegateCall(results:)`` nodes to call.
    /// - Returns: its index in ``Graph/delegates`` (the call's `delegate` argument).
    public mutating func addDelegate(_ delegate: LoweredDelegate) -> Int {
        graph.delegates.append(delegate)
        return graph.delegates.count - 1
    }

    /// Gives node `index` another debug handle (for rewrites that decide, after building a node,
    /// which one inherits the handle of the node it replaces).
    public mutating func setAnnotations(_ annotations: [String: Annotation], ofNode index: Int) {
        graph.nodes[index].annotations = annotations
    }

    public mutating func setDebugHandle(_ handle: Int, ofNode index: Int) {
        graph.nodes[index].debugHandle = handle
        if handle < Int.max { nextHandle = Swift.max(nextHandle, handle + 1) }
    }

    /// Marks values as the graph's outputs, in order.
    public mutating func output(_ values: ValueID...) {
        graph.outputs += values
    }

    /// Marks values as the graph's outputs, in order.
    public mutating func output(_ values: [ValueID]) {
        graph.outputs += values
    }

    /// Verifies and returns the graph.
    public func finish() throws(IRError) -> Graph {
        try Verifier.verify(graph)
        return graph
    }

    /// Reserves `name` (or the next free number when nil); a taken name is an error.
    private mutating func claim(_ name: String?) throws(IRError) -> String {
        if let name {
            guard usedNames.insert(name).inserted else {
                throw IRError(.duplicateName, "value %\(name) is defined more than once")
            }
            return name
        }
        while usedNames.contains(String(nextName)) { nextName += 1 }
        let fresh = String(nextName)
        usedNames.insert(fresh)
        return fresh
    }
}

/// "Did you mean" hints for unknown op names.
enum OpSuggestion {
    static func hint(for name: String) -> String {
        let base = name.split(separator: ".").first.map(String.init) ?? name
        let close = OpTable.names.filter { $0 == base || $0.hasPrefix(base + ".") || $0.hasPrefix(name) }
        if close.isEmpty { return " (`kiln ops` lists the ops)" }
        return "; did you mean \(close.prefix(4).map { "'\($0)'" }.joined(separator: " or "))?"
    }
}
