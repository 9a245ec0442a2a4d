import KilnIR
import KilnOps
import KilnTensor

/// Records the calls a Swift model makes on ``TracedTensor``s into a ``KilnIR/GraphBuilder``,
/// one node per call, each type-checked by the op table as it is recorded.
///
/// ``capture(_:inputs:name:)`` makes one per capture; user code never sees it. The first call
/// that fails is kept (with the Swift `file:line` it came from) and the calls after it record
/// nothing, so model code reads like PyTorch or MLX (`relu(fc1(x))`, no `try`), and `capture`
/// throws that first error.
final class Tracer {
    private(set) var builder: GraphBuilder
    /// The first failure; nothing is recorded after it.
    private(set) var firstError: CaptureError?
    /// Module path of every parameter reachable from the captured model (`layers.3.wq.weight`).
    private let parameterPaths: [ObjectIdentifier: String]
    /// The constant each parameter became, on first use.
    private var constants: [ObjectIdentifier: ValueID] = [:]
    /// Call sites of the built-in layers being traced, innermost last.
    private var scopes: [String] = []
    /// Where the most recent node came from.
    private var lastLocation: String?

    init(name: String, parameterPaths: [ObjectIdentifier: String]) {
        builder = GraphBuilder(name: name)
        self.parameterPaths = parameterPaths
    }

    /// Where an operator call (`+`, `*`: Swift operators cannot take `#line`) is said to come from:
    /// the innermost built-in layer's call site, else the previous node's.
    var operatorLocation: String? { scopes.last ?? lastLocation ?? rootLocation }
    /// The call site of `capture` itself.
    var rootLocation: String?

    /// Where a call made at `file:line` (a `#fileID`) is recorded: that line in the user's code;
    /// for a call from KilnCapture's own layers, the call site of the layer (its internals are not
    /// the user's code), so every node carries the innermost line of user code.
    func location(_ file: String, _ line: Int) -> String {
        if let scope = scopes.last, file.hasPrefix("KilnCapture/") { return scope }
        return sourceLocation(file, line)
    }

    /// Runs `body` with `location` as the call site of the operators inside it.
    func scoped<R>(_ location: String?, _ body: () -> R) -> R {
        guard let location else { return body() }
        scopes.append(location)
        defer { scopes.removeLast() }
        return body()
    }

    /// Keeps `error` unless an earlier one is kept already.
    func fail(_ error: CaptureError) {
        if firstError == nil { firstError = error }
    }

    /// Adds a graph input.
    func input(_ name: String, _ type: TensorType) throws(CaptureError) -> TracedTensor {
        do {
            return TracedTensor(tracer: self, id: try builder.input(name, type), type: type)
        } catch {
            throw CaptureError(.spec, "input '\(name)': \(error.message)")
        }
    }

    /// Declares a bounded symbol.
    func symbol(_ name: String, range: ClosedRange<Int>) -> Symbol {
        builder.symbol(name, range: range)
    }

    /// The parameter as a value of this trace: a constant named by its module path, made on first use.
    func value(of parameter: ModuleParameter, at location: String?) -> TracedTensor {
        let key = ObjectIdentifier(parameter)
        let type = TensorType(parameter.value.dtype, static: parameter.value.shape)
        if let id = constants[key] { return TracedTensor(tracer: self, id: id, type: type) }
        guard firstError == nil else { return TracedTensor(tracer: self, id: nil, type: type) }
        guard let path = parameterPaths[key] else {
            fail(CaptureError(.trace, "a \(type) parameter is used that the captured model does not own; "
                              + "keep it in a stored property of a Module reachable from the model",
                              location: location))
            return TracedTensor(tracer: self, id: nil, type: type)
        }
        do {
            let id = try builder.constant(path, parameter.value)
            constants[key] = id
            return TracedTensor(tracer: self, id: id, type: type)
        } catch {
            fail(CaptureError(.trace, "parameter '\(path)': \(error.message)", location: location))
            return TracedTensor(tracer: self, id: nil, type: type)
        }
    }

    /// Records `op` applied to `operands` (its tensor parameters in order, nil for an absent
    /// optional one) and `attributes`; `listed` are the tensors inside a tensor-list attribute.
    /// - Returns: the node's results, or stand-ins typed like the first operand when this call
    ///   or an earlier one failed.
    func record(_ op: String, _ operands: [TracedTensor?], _ attributes: KeyValuePairs<String, Argument<ValueID>> = [:],
                listed: [TracedTensor] = [], results: Int = 1, at location: String?) -> [TracedTensor] {
        let all = operands.compactMap { $0 } + listed
        let fallback = all.first?.type ?? TensorType(.float32, [])
        let poisoned = [TracedTensor](repeating: TracedTensor(tracer: self, id: nil, type: fallback), count: results)
        if let stranger = all.first(where: { $0.tracer !== self }) {
            fail(CaptureError(.trace, "\(op): operand \(stranger.type) belongs to another capture", location: location))
            return poisoned
        }
        guard firstError == nil, all.allSatisfy({ $0.id != nil }) else { return poisoned }
        do {
            let ids = try builder.call(op, operands.map { $0?.id }, attributes, location: location)
            lastLocation = location ?? lastLocation
            return ids.map { TracedTensor(tracer: self, id: $0, type: builder.graph.type(of: $0)) }
        } catch {
            // Each operand under its parameter name: `input f32[1, 512], weight f32[10, 256]`.
            let names = OpTable.schema(named: op)?.parameters.filter(\.kind.isTensorLike).map(\.name) ?? []
            var described: [String] = []
            for (i, operand) in operands.enumerated() {
                guard let operand else { continue }
                described.append(i < names.count ? "\(names[i]) \(operand.type)" : "\(operand.type)")
            }
            if !listed.isEmpty { described.append("tensors [\(listed.map { "\($0.type)" }.joined(separator: ", "))]") }
            let types = described.joined(separator: ", ")
            let detail = error.kind == .opRule ? error.message : "\(op): \(error.message)"
            // An op rule that fails is about the operands; anything else is a misuse of the op.
            fail(CaptureError(error.kind == .opRule ? .shape : .trace, "\(detail) (operands: \(types))", location: location))
            return poisoned
        }
    }

    /// Marks `outputs` and returns the verified graph, or the first error.
    func finish(_ outputs: [TracedTensor]) throws(CaptureError) -> Graph {
        if let firstError { throw firstError }
        guard !outputs.isEmpty else { throw CaptureError(.trace, "the model returned no tensor") }
        var ids: [ValueID] = []
        for t in outputs {
            guard t.tracer === self, let id = t.id else {
                throw CaptureError(.trace, "an output \(t.type) does not come from this capture")
            }
            ids.append(id)
        }
        var b = builder
        b.output(ids)
        do {
            return try b.finish()
        } catch {
            throw CaptureError(.trace, "the captured graph is invalid: \(error)")
        }
    }
}

/// `Model.swift:12` for a `#fileID` (`Module/Model.swift`) and `#line`.
func sourceLocation(_ fileID: String, _ line: Int) -> String {
    let name = fileID.split(separator: "/").last.map(String.init) ?? fileID
    return "\(name):\(line)"
}
