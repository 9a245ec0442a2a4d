import KilnIR
import KilnOps
import KilnTensor

/// What a rewrite rule does with one node of the source graph.
public enum Rewrite: Sendable {
    /// Copy the node unchanged (its operands mapped to the new graph).
    case keep
    /// Drop the node. Its results must not be used by anything that follows.
    case erase
    /// The node's results become these values of the new graph (same count, same types).
    case replace([ValueID])
    /// As ``replace(_:)``, with nil for results nothing uses (a later use is an error).
    case replaceResults([ValueID?])
}

/// The one mechanism every pass rewrites graphs with: the source graph is rebuilt node by node
/// through ``KilnIR/GraphBuilder``, so every node added is type-checked as it is added, and a
/// value map sends each source value to its replacement.
///
/// A rule sees each source node in order and answers ``Rewrite/keep``, ``Rewrite/erase``, or
/// ``Rewrite/replace(_:)`` with values it built through ``emit(_:_:names:)``,
/// ``copy(_:)`` or ``constant(_:name:)``. Inputs keep their names and order; constants keep
/// theirs (those `keepingConstant` lets through); outputs are mapped.
///
/// Naming and identity:
/// - Values keep their names. New values get fresh names derived from the first result of the
///   node being rewritten (`%y.1`, `%y.2`, ...), never a name the source graph uses; a rule may
///   instead give a replacement the name of the source value it replaces (`names:`).
/// - New nodes keep the location of the node being rewritten. The node that produces its (first)
///   result keeps its debug handle, so plans and profiles still point at the model's node after
///   helpers such as a weight transpose are folded away; the others get fresh handles, above every
///   handle of the source graph.
///
/// ```swift
/// try GraphRewriter.rewrite(&graph, pass: "example") { rw, node throws(PassError) in
///     guard node.op.name == "reshape" else { return .keep }
///     let args = try rw.arguments(of: node)          // operands as new-graph values
///     // reshape(x, shape) -> view_copy(x, shape)
///     return .replace(try rw.emit("view_copy", ["self": args["self"], "size": args["shape"]],
///                                 names: [rw.sourceName(node.results[0])]))
/// }
/// ```
public struct GraphRewriter {
    /// The graph being rewritten.
    public let source: Graph
    private let pass: String
    private var builder: GraphBuilder
    /// Source value → new value.
    private var map: [ValueID: ValueID] = [:]
    private let sourceNames: Set<String>
    private var claimed: Set<String> = []
    /// Every source node's debug handle (fresh handles avoid them).
    private let sourceHandles: Set<Int>
    /// Handles given to nodes of the new graph.
    private var usedHandles: Set<Int> = []
    private var nextHandle: Int
    /// The source node being rewritten, while its rule runs.
    private var origin: Node? {
        didSet { originFirstNode = builder.graph.nodes.count }
    }
    /// The index of the first node emitted for `origin`.
    private var originFirstNode = 0
    private var nextSuffix: [String: Int] = [:]

    /// Rewrites `graph` with `rule`, applied to every node in order; `graph` changes only when
    /// the whole rewrite succeeds. Constants for which `keepingConstant` is false are left out
    /// (a node still using one is an error).
    ///
    /// - Throws: ``PassError`` from the rule, or `.rewrite` naming the node when a replacement
    ///   does not fit (wrong count or type, an erased value still in use).
    public static func rewrite(_ graph: inout Graph, pass: String,
                               keepingConstant: (ValueID) -> Bool = { _ in true },
                               _ rule: (inout GraphRewriter, Node) throws(PassError) -> Rewrite) throws(PassError) {
        var rw = try GraphRewriter(graph, pass: pass, keepingConstant: keepingConstant)
        for node in graph.nodes {
            rw.origin = node
            switch try rule(&rw, node) {
            case .keep:
                _ = try rw.copy(node)
            case .erase:
                break
            case .replace(let values):
                try rw.replace(node.results, with: values)
            case .replaceResults(let values):
                guard values.count == node.results.count else {
                    throw rw.error(.rewrite, "replaced \(node.results.count) results with \(values.count) values")
                }
                let kept = zip(node.results, values).compactMap { old, new in new.map { (old, $0) } }
                try rw.replace(kept.map(\.0), with: kept.map(\.1))
            }
            rw.origin = nil
        }
        graph = try rw.finish()
    }

    private init(_ source: Graph, pass: String, keepingConstant: (ValueID) -> Bool) throws(PassError) {
        self.source = source
        self.pass = pass
        sourceNames = Set(source.values.map(\.name))
        nextHandle = source.nextDebugHandle
        sourceHandles = Set(source.nodes.map(\.debugHandle))
        builder = GraphBuilder(name: source.name)
        for s in source.symbols { builder.symbol(s.name, range: s.range) }
        for d in source.delegates { _ = builder.addDelegate(d) }
        for id in source.inputs {
            let v = source[id]
            map[id] = try wrap { (b: inout GraphBuilder) throws(IRError) in try b.input(v.name, v.type) }
            claimed.insert(v.name)
        }
        for id in source.constants where keepingConstant(id) {
            let v = source[id]
            guard let data = v.constantData else { continue }
            map[id] = try wrap { (b: inout GraphBuilder) throws(IRError) in try b.constant(v.name, data) }
            claimed.insert(v.name)
        }
    }

    // MARK: Reading

    /// The new graph so far.
    public var graph: Graph { builder.graph }

    /// The new value standing for source value `id`.
    /// - Throws: `.rewrite` when the value was erased or left out.
    public func mapped(_ id: ValueID) throws(PassError) -> ValueID {
        guard let new = map[id] else {
            let name = id.index >= 0 && id.index < source.values.count ? "%" + source[id].name : "\(id)"
            throw error(.rewrite, "\(name) was removed, but is still used")
        }
        return new
    }

    /// The node's arguments with its operands mapped to new values, accessible by name.
    public func arguments(of node: Node) throws(PassError) -> OpArguments<ValueID> {
        var mappedArguments: [Argument<ValueID>] = []
        for a in node.arguments {
            switch a {
            case .tensor(let id): mappedArguments.append(.tensor(try mapped(id)))
            case .tensorList(let ids):
                var list: [ValueID] = []
                for id in ids { list.append(try mapped(id)) }
                mappedArguments.append(.tensorList(list))
            default: mappedArguments.append(a)  // no tensor inside
            }
        }
        do {
            return try OpArguments.validated(node.op, mappedArguments)
        } catch {
            throw self.error(.rewrite, error.description)
        }
    }

    /// The type of a value of the new graph.
    public func type(of id: ValueID) -> TensorType { builder.graph.type(of: id) }

    /// The data of a value of the new graph when it is a constant.
    public func constantData(_ id: ValueID) -> Tensor? { builder.graph[id].constantData }

    /// The name of a value of the source graph.
    public func sourceName(_ id: ValueID) -> String { source[id].name }

    // MARK: Building

    /// Copies `node` with its operands mapped, keeping its names, debug handle and location.
    /// - Returns: the copy's results.
    public mutating func copy(_ node: Node) throws(PassError) -> [ValueID] {
        try copy(node, substituting: [:])
    }

    /// Copies `node` as ``copy(_:)`` does, except that operands named in `substitutions` (source
    /// value → new-graph value) read the given value instead of their mapped one: how quantization
    /// makes a node read the dequantized form of an operand.
    public mutating func copy(_ node: Node, substituting substitutions: [ValueID: ValueID]) throws(PassError) -> [ValueID] {
        var arguments = try self.arguments(of: node).values
        if !substitutions.isEmpty {
            for (i, (source, mapped)) in zip(node.arguments, arguments).enumerated() {
                switch (source, mapped) {
                case (.tensor(let id), .tensor):
                    if let new = substitutions[id] { arguments[i] = .tensor(new) }
                case (.tensorList(let ids), .tensorList(let list)):
                    arguments[i] = .tensorList(zip(ids, list).map { substitutions[$0] ?? $1 })
                default:
                    break
                }
            }
        }
        let names = node.results.map { source[$0].name }
        let types = node.results.map { source.type(of: $0) }
        let results = try wrap { (b: inout GraphBuilder) throws(IRError) in
            try b.append(node.op, arguments: arguments, resultNames: names, resultTypes: types,
                         debugHandle: node.debugHandle, location: node.location)
        }
        claimed.formUnion(names)
        usedHandles.insert(node.debugHandle)
        for (old, new) in zip(node.results, results) { map[old] = new }
        if !node.annotations.isEmpty { builder.setAnnotations(node.annotations, ofNode: builder.graph.nodes.count - 1) }
        return results
    }

    /// The node of the new graph that produces `id` (a new-graph value), with its index and its
    /// arguments (already new-graph values), or nil for an input or constant.
    public func producer(of id: ValueID) -> (index: Int, node: Node, arguments: OpArguments<ValueID>)? {
        guard case .result(let index, _) = builder.graph[id].definition else { return nil }
        let node = builder.graph.nodes[index]
        // The builder validated these arguments when it added the node.
        guard let arguments = try? OpArguments.validated(node.op, node.arguments) else { return nil }
        return (index, node, arguments)
    }

    /// Sets annotation `key` on node `index` of the new graph (see ``producer(of:)``).
    public mutating func annotate(node index: Int, _ key: String, _ value: Annotation) {
        var annotations = builder.graph.nodes[index].annotations
        annotations[key] = value
        builder.setAnnotations(annotations, ofNode: index)
    }

    /// Adds a node of `op`; `arguments` name its parameters (new-graph values), the others take
    /// their defaults. It gets the location of the node being rewritten, a fresh debug handle (the
    /// node that ends up producing the rewritten node's result inherits its handle), and `names`
    /// or fresh names.
    /// - Returns: the node's results.
    /// - Throws: `.rewrite` when the op is unknown, a parameter is missing or unknown, or the op's
    ///   type rule rejects the arguments.
    @discardableResult
    public mutating func emit(_ op: String, _ arguments: KeyValuePairs<String, Argument<ValueID>>,
                              names: [String]? = nil) throws(PassError) -> [ValueID] {
        guard let schema = OpTable.schema(named: op) else { throw error(.rewrite, "unknown op '\(op)'") }
        var given: [String: Argument<ValueID>] = [:]
        for (name, value) in arguments {
            guard schema.parameterIndex(name) != nil else {
                throw error(.rewrite, "\(op) has no parameter '\(name)' (\(schema.signature))")
            }
            given[name] = value
        }
        var bound: [Argument<ValueID>] = []
        for p in schema.parameters {
            if let value = given[p.name] {
                bound.append(value)
            } else if let d = p.defaultValue {
                bound.append(d.widened())
            } else {
                throw error(.rewrite, "\(op) needs argument '\(p.name)' (\(schema.signature))")
            }
        }
        return try emit(schema, arguments: bound, names: names)
    }

    /// Adds a node of `schema` with one argument per parameter, in order (new-graph values), as
    /// ``emit(_:_:names:)`` does: for a node rebuilt from another's arguments.
    @discardableResult
    public mutating func emit(_ schema: OpSchema, arguments bound: [Argument<ValueID>],
                              names: [String]? = nil) throws(PassError) -> [ValueID] {
        var resultNames = names ?? []
        // A `Tensor[]` op's type rule says how many results it has (when it rejects the
        // arguments, appending below reports why).
        let count = schema.resultCount
            ?? (try? schema.inferTypes(bound.map { $0.map { type(of: $0) } }).count) ?? resultNames.count
        while resultNames.count < count { resultNames.append(freshName()) }
        for name in resultNames where claimed.contains(name) {
            throw error(.rewrite, "value %\(name) is already defined")
        }
        let handle = freshHandle()
        let location = origin?.location
        let results = try wrap { (b: inout GraphBuilder) throws(IRError) in
            try b.append(schema, arguments: bound, resultNames: resultNames, resultTypes: nil,
                         debugHandle: handle, location: location)
        }
        claimed.formUnion(resultNames)
        return results
    }

    /// Adds a constant holding `tensor`, called `name` or a fresh name.
    public mutating func constant(_ tensor: Tensor, name: String? = nil) throws(PassError) -> ValueID {
        let chosen = name ?? freshName()
        guard !claimed.contains(chosen) else { throw error(.rewrite, "value %\(chosen) is already defined") }
        let id = try wrap { (b: inout GraphBuilder) throws(IRError) in try b.constant(chosen, tensor) }
        claimed.insert(chosen)
        return id
    }

    /// A name no source value and no new value has: `base` itself when `base` is given and free,
    /// else `base.1`, `base.2`, ...; without `base`, the first result of the node being rewritten
    /// is the base.
    public mutating func freshName(base: String? = nil) -> String {
        func taken(_ name: String) -> Bool { sourceNames.contains(name) || claimed.contains(name) }
        if let base, !taken(base) { return base }
        let stem = base ?? origin?.results.first.map { source[$0].name } ?? "v"
        var n = nextSuffix[stem, default: 1]
        while taken("\(stem).\(n)") { n += 1 }
        nextSuffix[stem] = n + 1
        return "\(stem).\(n)"
    }

    /// An error about the node being rewritten.
    public func error(_ kind: PassError.Kind, _ message: String) -> PassError {
        PassError(kind, message, pass: pass, subject: origin.map { source.describe($0) })
    }

    // MARK: Internals

    /// A handle no source node and no new node has.
    private mutating func freshHandle() -> Int {
        while usedHandles.contains(nextHandle) || sourceHandles.contains(nextHandle) { nextHandle += 1 }
        usedHandles.insert(nextHandle)
        return nextHandle
    }

    private mutating func replace(_ old: [ValueID], with new: [ValueID]) throws(PassError) {
        guard old.count == new.count else {
            throw error(.rewrite, "replaced \(old.count) result\(old.count == 1 ? "" : "s") with \(new.count) values")
        }
        for (o, n) in zip(old, new) {
            let (was, now) = (source.type(of: o), type(of: n))
            guard was == now else {
                throw error(.rewrite, "replacement of %\(source[o].name) is \(now), expected \(was)")
            }
            map[o] = n
        }
        // The node now producing the first result inherits the rewritten node's debug handle.
        if let origin, let first = new.first, !usedHandles.contains(origin.debugHandle),
           case .result(let index, _) = builder.graph[first].definition, index >= originFirstNode {
            builder.setDebugHandle(origin.debugHandle, ofNode: index)
            usedHandles.insert(origin.debugHandle)
        }
    }

    private mutating func finish() throws(PassError) -> Graph {
        origin = nil
        var outputs: [ValueID] = []
        for id in source.outputs {
            guard let new = map[id] else {
                throw PassError(.rewrite, "output %\(source[id].name) was removed", pass: pass,
                                subject: "graph @\(source.name)")
            }
            outputs.append(new)
        }
        builder.output(outputs)
        return builder.graph
    }

    /// Runs a builder step, turning its error into a ``PassError`` about the node being rewritten.
    private mutating func wrap<R>(_ step: (inout GraphBuilder) throws(IRError) -> R) throws(PassError) -> R {
        do {
            return try step(&builder)
        } catch {
            throw self.error(.rewrite, error.subject.map { "\($0): \(error.message)" } ?? error.message)
        }
    }
}
