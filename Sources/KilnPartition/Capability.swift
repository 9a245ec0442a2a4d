import KilnIR
import KilnOps
import KilnTensor

/// The partitioner's unit of placement: one compute node (the anchor) with the quantize and
/// dequantize nodes that belong to it, so a `dq → op → q` pattern goes to a backend whole or
/// not at all. A quantization node no compute node owns (a dequantize shared by two consumers,
/// a quantize of a model input) is a unit of its own.
struct PlacementUnit {
    /// The node the backend must accept: the compute node, or the lone quantization node.
    var anchor: Int
    /// Every node of the unit (the anchor included), in graph order.
    var members: [Int]
    /// How the anchor is quantized, when it sits in a quantized pattern.
    var form: QuantizedForm?
}

/// Forms units and answers, for one backend and one unit, "yes" or "no, because ...".
struct Capability {
    let graph: Graph
    /// The nodes reading each value.
    let users: [ValueID: [Int]]
    /// The node defining each node result.
    let producer: [ValueID: Int]

    init(_ graph: Graph) {
        self.graph = graph
        var users: [ValueID: [Int]] = [:]
        var producer: [ValueID: Int] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for id in Set(node.operands) { users[id, default: []].append(i) }
            for id in node.results { producer[id] = i }
        }
        self.users = users
        self.producer = producer
    }

    /// Quantization ops (``KilnOps/QuantizationOps``): they travel with the compute node they serve.
    static func isQuantization(_ op: String) -> Bool { QuantizationOps.all.contains(op) }

    static func isQuantize(_ op: String) -> Bool { QuantizationOps.quantize.contains(op) }

    static func isDequantize(_ op: String) -> Bool { QuantizationOps.dequantize.contains(op) }

    // MARK: Units

    /// Every node in exactly one unit: first each compute node takes the quantize nodes fed by
    /// its results, then walks back through quantization nodes used only inside its unit.
    func units() -> [PlacementUnit] {
        var owner = [Int?](repeating: nil, count: graph.nodes.count)
        var members: [Int: [Int]] = [:]
        let anchors = graph.nodes.indices.filter { !Self.isQuantization(graph.nodes[$0].op.name) }
        for a in anchors {
            owner[a] = a
            members[a] = [a]
            for id in graph.nodes[a].results {
                for u in users[id] ?? [] where owner[u] == nil && Self.isQuantize(graph.nodes[u].op.name)
                    && graph.nodes[u].operands.first == id {
                    owner[u] = a
                    members[a]!.append(u)
                }
            }
        }
        for a in anchors {
            var work = graph.nodes[a].operands
            while let id = work.popLast() {
                guard let p = producer[id], owner[p] == nil, Self.isQuantization(graph.nodes[p].op.name) else { continue }
                let readers = graph.nodes[p].results.flatMap { users[$0] ?? [] }
                guard !readers.isEmpty, readers.allSatisfy({ owner[$0] == a }),
                      !graph.outputs.contains(where: graph.nodes[p].results.contains) else { continue }
                owner[p] = a
                members[a]!.append(p)
                work += graph.nodes[p].operands
            }
        }
        var units: [PlacementUnit] = []
        for i in graph.nodes.indices {
            if let a = owner[i], a == i {
                units.append(PlacementUnit(anchor: a, members: members[a]!.sorted(), form: form(of: a)))
            } else if owner[i] == nil {
                units.append(PlacementUnit(anchor: i, members: [i], form: nil))
            }
        }
        return units
    }

    /// The quantized form of compute node `index`: its activations' dtype from the dequantize
    /// nodes feeding it (or the quantize node after it), its weight's bits and granularity from
    /// a dequantize of a constant. Nil when nothing around it is quantized.
    func form(of index: Int) -> QuantizedForm? {
        let node = graph.nodes[index]
        var activation: DType?
        var dynamic = false
        var weightBits: Int?
        var granularity: QuantizedForm.Granularity?
        for id in node.operands {
            guard let p = producer[id], Self.isDequantize(graph.nodes[p].op.name) else { continue }
            let dq = graph.nodes[p]
            let input = dq.operands[0]
            let range = quantRange(dq)
            if derivesFromConstant(input) {
                weightBits = range.map { $0.upperBound - $0.lowerBound < 16 ? 4 : 8 } ?? 8
                granularity = dq.op.name.contains("per_channel_group") ? .perGroup
                    : dq.op.name.contains("per_channel") ? .perChannel : .perTensor
            } else {
                activation = activation ?? graph.type(of: input).dtype
                if dq.op.name.contains("per_token") || dq.op.name.hasSuffix(".tensor") && !scaleIsConstant(dq) {
                    dynamic = true
                }
            }
        }
        for id in node.results {
            for u in users[id] ?? [] where Self.isQuantize(graph.nodes[u].op.name) {
                activation = activation ?? graph.type(of: graph.nodes[u].results[0]).dtype
            }
        }
        guard let activation else { return nil }
        return QuantizedForm(activation: activation, dynamic: dynamic, weightBits: weightBits, weightGranularity: granularity)
    }

    /// quant_min...quant_max of a quantize or dequantize node.
    private func quantRange(_ node: Node) -> ClosedRange<Int>? {
        guard let lo = node.op.parameterIndex("quant_min"), let hi = node.op.parameterIndex("quant_max"),
              case .int(let a) = node.arguments[lo], case .int(let b) = node.arguments[hi], a <= b else { return nil }
        return a...b
    }

    private func scaleIsConstant(_ node: Node) -> Bool {
        guard node.arguments.count > 1, case .tensor(let s) = node.arguments[1] else { return true }
        return derivesFromConstant(s)
    }

    /// True for a constant, or a value computed from constants alone (an unpack of packed weights).
    func derivesFromConstant(_ id: ValueID) -> Bool {
        var work = [id]
        var seen = Set<ValueID>()
        while let v = work.popLast() {
            guard seen.insert(v).inserted else { continue }
            switch graph[v].definition {
            case .constant: continue
            case .input: return false
            case .result(let n, _): work += graph.nodes[n].operands
            }
        }
        return true
    }

    // MARK: Checks

    /// Nil when `backend` accepts the unit, else the first constraint that failed, in words
    /// (without the backend's name).
    func rejection(of unit: PlacementUnit, by backend: BackendDescriptor) -> String? {
        let node = graph.nodes[unit.anchor]
        let op = node.op.name
        guard let support = backend.support(for: op) else {
            return node.delegateIndex != nil ? "already a delegate" : "\(op) is not in the descriptor"
        }
        if let form = unit.form {
            guard !support.quantized.isEmpty else {
                return "input is quantized (\(form)); \(op) runs only unquantized (\(names(support.dtypes)))"
            }
            guard support.quantized.contains(form) else {
                return "\(op) quantized as \(form) is not supported; it takes \(support.quantized.map(\.description).joined(separator: ", "))"
            }
        } else {
            let dtype = node.results.first.map { graph.type(of: $0).dtype } ?? .float32
            if !support.dtypes.contains(dtype) {
                if support.dtypes.isEmpty {
                    let acts = Set(support.quantized.map(\.activation)).sorted { $0.byteSize < $1.byteSize }
                    return "input is \(shortName(dtype)); needs \(acts.map(\.longName).joined(separator: " or "))"
                }
                return "\(op) on \(dtype.longName) is not supported; it takes \(names(support.dtypes))"
            }
        }
        // max_rank bounds every tensor; min_rank the data input and the results (not a bias).
        let main = Set(node.operands.prefix(1) + node.results)
        for id in node.operands + node.results {
            let type = graph.type(of: id)
            if let max = support.limits.maxRank, type.rank > max { return "rank \(type.rank) > \(max) (%\(graph[id].name))" }
            if let min = support.limits.minRank, type.rank < min, main.contains(id) {
                return "rank \(type.rank) < \(min) (%\(graph[id].name))"
            }
            if support.limits.staticShapes == true, type.staticShape == nil {
                return "%\(graph[id].name) has dynamic shape \(type); needs static shapes"
            }
            if let max = support.limits.maxElements {
                guard let count = try? Shape.elementCount(type.upperBoundShape), count <= max else {
                    return "%\(graph[id].name) (\(type)) has more than \(max) elements"
                }
            }
        }
        for name in support.constantOperands {
            guard let i = node.op.parameterIndex(name), case .tensor(let id) = node.arguments[i] else { continue }
            if !derivesFromConstant(id) { return "\(name) %\(graph[id].name) is computed at run time; needs a constant" }
        }
        for limit in support.attributes {
            if let reason = check(limit, node) { return reason }
        }
        return nil
    }

    /// The attribute's values as integers: the parameter's, or for `kernel_size` on an op with
    /// a weight, the weight's spatial dims.
    private func check(_ limit: BackendDescriptor.AttributeLimit, _ node: Node) -> String? {
        var values: [Int] = []
        if let i = node.op.parameterIndex(limit.name) {
            switch node.arguments[i] {
            case .int(let v): values = [v]
            case .bool(let b): values = [b ? 1 : 0]
            case .intList(let list): values = list
            default: return nil
            }
        } else if limit.name == "kernel_size", let w = node.op.parameterIndex("weight"), case .tensor(let id) = node.arguments[w] {
            values = Array(graph.type(of: id).upperBoundShape.dropFirst(2))
        }
        let what = "\(node.op.name).\(limit.name)"
        for v in values {
            if let max = limit.max, v > max { return "\(limit.name) \(v) > \(max) (\(what))" }
            if let min = limit.min, v < min { return "\(limit.name) \(v) < \(min) (\(what))" }
            if let allowed = limit.values, !allowed.contains(v) {
                let isBool = node.op.parameterIndex(limit.name).map { node.op.parameters[$0].kind == .bool } ?? false
                let show: (Int) -> String = { isBool ? ($0 != 0 ? "true" : "false") : String($0) }
                return "\(limit.name) = \(show(v)); needs \(allowed.map(show).joined(separator: " or ")) (\(what))"
            }
        }
        return nil
    }

    private func names(_ dtypes: [DType]) -> String {
        dtypes.map(\.longName).joined(separator: ", ")
    }

    /// `fp32`, `fp16`, `bf16`, else the long name.
    private func shortName(_ d: DType) -> String {
        switch d {
        case .float32: return "fp32"
        case .float16: return "fp16"
        case .bfloat16: return "bf16"
        default: return d.longName
        }
    }
}
