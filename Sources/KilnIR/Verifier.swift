import KilnOps
import KilnTensor

/// Checks that a graph is well formed: SSA (each value defined once, before use), names valid
/// and unique, every node's arguments match its op (arity, kinds, the op's shape/dtype/attribute
/// rule) and its results carry exactly the inferred types, constants hold data of their type,
/// shapes use only declared symbols, debug handles are unique, and something is returned.
///
/// Every message names the node (`%3 = convolution (#5, loc("conv1"))`) or value at fault and
/// what was expected. Passes run it after every pass in debug builds and tests.
public enum Verifier {
    /// Throws the first problem found.
    public static func verify(_ graph: Graph) throws(IRError) {
        if let first = diagnose(graph).first { throw first }
    }

    /// Every problem found, in graph order.
    public static func diagnose(_ graph: Graph) -> [IRError] {
        var errors: [IRError] = []
        func fail(_ kind: IRError.Kind, _ message: String, _ subject: String? = nil) {
            errors.append(IRError(kind, message, subject: subject))
        }

        // Symbols: valid ranges, unique names.
        var symbols: [String: Symbol] = [:]
        for s in graph.symbols {
            if s.range.lowerBound < 0 {
                fail(.symbolRange, "symbol \(s.name) has range \(s.range.lowerBound)...\(s.range.upperBound); sizes cannot be negative")
            }
            if !isValidName(s.name) { fail(.invalidName, "symbol name '\(s.name)' is not a valid identifier") }
            if symbols.updateValue(s, forKey: s.name) != nil { fail(.duplicateSymbol, "symbol \(s.name) is declared twice") }
        }
        func checkSymbols(_ type: TensorType, _ subject: String) {
            for s in type.shape.flatMap(\.symbols) where symbols[s.name] != s {
                if let declared = symbols[s.name] {
                    fail(.symbolRange, "uses symbol \(s.name) with range \(s.range), declared \(declared.range)", subject)
                } else {
                    fail(.unknownSymbol, "uses symbol \(s.name), which the graph does not declare", subject)
                }
            }
        }

        // Values are defined in this order; `defined` grows as we walk.
        var defined = Set<ValueID>()
        var names = Set<String>()
        func define(_ id: ValueID, _ subject: String) -> Bool {
            guard id.index >= 0, id.index < graph.values.count else {
                fail(.undefinedValue, "refers to \(id), which is not in the value table", subject)
                return false
            }
            let v = graph[id]
            if !isValidName(v.name) { fail(.invalidName, "value name '\(v.name)' is not a valid identifier", subject) }
            if !names.insert(v.name).inserted { fail(.duplicateName, "value %\(v.name) is defined more than once", subject) }
            if !defined.insert(id).inserted { fail(.duplicateName, "value %\(v.name) is defined by two definitions", subject) }
            checkSymbols(v.type, subject)
            if let bad = v.type.shape.first(where: { $0.lowerBound < 0 }) {
                fail(.negativeDim, "%\(v.name) has dimension \(bad), which can be negative", subject)
            }
            return true
        }

        for id in graph.inputs where define(id, "input %\(name(graph, id))") {
            if case .input = graph[id].definition {} else {
                fail(.undefinedValue, "is listed as an input but is not defined as one", "input %\(graph[id].name)")
            }
        }
        for id in graph.constants where define(id, "constant %\(name(graph, id))") {
            let v = graph[id]
            guard let data = v.constantData else {
                fail(.constantData, "is listed as a constant but holds no data", "constant %\(v.name)")
                continue
            }
            guard let shape = v.type.staticShape else {
                fail(.dynamicConstant, "has symbolic shape \(v.type); constants must be static", "constant %\(v.name)")
                continue
            }
            if data.dtype != v.type.dtype || data.shape != shape {
                fail(.constantData, "holds \(data.dtype)\(data.shape) but is declared \(v.type)", "constant %\(v.name)")
            }
        }

        var handles: [Int: String] = [:]
        for (index, node) in graph.nodes.enumerated() {
            let subject = graph.describe(node)
            if let other = handles.updateValue(subject, forKey: node.debugHandle) {
                fail(.duplicateHandle, "debug handle #\(node.debugHandle) is also used by \(other)", subject)
            }
            // Operands: defined earlier.
            var operandsOK = true
            for id in node.operands where !defined.contains(id) {
                operandsOK = false
                let what = id.index >= 0 && id.index < graph.values.count ? "%\(graph[id].name)" : "\(id)"
                fail(.undefinedValue, "uses \(what) before it is defined", subject)
            }
            // Results: defined here, by this node.
            for (r, id) in node.results.enumerated() where define(id, subject) {
                if case .result(let n, let i) = graph[id].definition, n == index, i == r { continue }
                fail(.undefinedValue, "result %\(graph[id].name) does not record this node as its definition", subject)
            }
            guard operandsOK else { continue }
            if node.op.name == OpSchema.delegateCallName {
                checkDelegateCall(node, in: graph, subject: subject, fail: fail)
                continue
            }
            let typed = node.arguments.map { $0.map { graph.type(of: $0) } }
            do {
                let inferred = try node.op.inferTypes(typed)
                guard inferred.count == node.results.count else {
                    fail(.resultCount, "\(node.op.name) has \(inferred.count) result\(inferred.count == 1 ? "" : "s"), the node has \(node.results.count)", subject)
                    continue
                }
                for (i, (id, type)) in zip(node.results, inferred).enumerated()
                where id.index >= 0 && id.index < graph.values.count && graph[id].type != type {
                    fail(.resultType, "result \(i) is typed \(graph[id].type), but \(node.op.name) gives \(type)", subject)
                }
            } catch {
                let isArity = error.argument == nil && node.arguments.count != node.op.parameters.count
                fail(isArity ? .arity : .opRule, error.description, subject)
            }
        }

        if graph.outputs.isEmpty { fail(.noOutputs, "graph @\(graph.name) returns nothing") }
        for id in graph.outputs where !defined.contains(id) {
            fail(.undefinedValue, "returns \(id.index >= 0 && id.index < graph.values.count ? "%" + graph[id].name : "\(id)"), which is not defined",
                 "graph @\(graph.name)")
        }
        return errors
    }

    /// A delegate call names a delegate of the graph, and its inputs and results have the types
    /// of that delegate's subgraph's inputs and outputs.
    private static func checkDelegateCall(_ node: Node, in graph: Graph, subject: String,
                                          fail: (IRError.Kind, String, String?) -> Void) {
        guard let index = node.delegateIndex, node.arguments.count == 2, case .tensorList(let inputs) = node.arguments[0] else {
            fail(.arity, "\(OpSchema.delegateCallName) takes (inputs: Tensor[], delegate: int)", subject)
            return
        }
        guard index >= 0, index < graph.delegates.count else {
            fail(.opRule, "calls delegate \(index), but the graph has \(graph.delegates.count)", subject)
            return
        }
        let sub = graph.delegates[index].subgraph
        let expectedIn = sub.inputs.map(sub.type(of:)), expectedOut = sub.outputs.map(sub.type(of:))
        let givenIn = inputs.map(graph.type(of:)), givenOut = node.results.map(graph.type(of:))
        if givenIn != expectedIn {
            fail(.opRule, "passes \(givenIn) to delegate \(index), whose subgraph takes \(expectedIn)", subject)
        }
        if givenOut != expectedOut {
            fail(.resultType, "results are typed \(givenOut), delegate \(index) returns \(expectedOut)", subject)
        }
    }

    /// Names are `[A-Za-z0-9_.]+`: what the text form can write after `%`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E
        }
    }

    private static func name(_ graph: Graph, _ id: ValueID) -> String {
        id.index >= 0 && id.index < graph.values.count ? graph[id].name : "\(id)"
    }
}
