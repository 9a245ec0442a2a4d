import KilnIR
import KilnOps
import KilnPasses
import KilnTensor

extension ONNXOps {
    static let shaping: [String: Rule] = [
        "Shape": { g, n in
            let shape = try g.staticShape(try n.input(0), "Shape")
            let r = shape.count
            var start = n.int("start", 0)
            var end = n.int("end", r)
            start = min(max(start < 0 ? start + r : start, 0), r)
            end = min(max(end < 0 ? end + r : end, 0), r)
            return [GraphImport.int64s(start < end ? Array(shape[start..<end]) : [])]
        },
        "Constant": { g, n in
            if let t = try n.tensor("value", directory: g.directory) { return [.constant(t)] }
            if n.has("value_float") { return [.constant(try Tensor([Float(n.float("value_float", 0))], shape: []))] }
            if let v = n.floats("value_floats") { return [.constant(try Tensor(v.map { Float($0) }, shape: [v.count]))] }
            if n.has("value_int") { return [.constant(try Tensor([Int64(n.int("value_int", 0))], shape: []))] }
            if let v = n.ints("value_ints") { return [GraphImport.int64s(v)] }
            throw n.fail(.unsupportedUse, "only value, value_float(s) and value_int(s) Constants are supported")
        },
        "ConstantOfShape": { g, n in
            let size = try n.ints(0, "shape") ?? []
            let value = try n.tensor("value", directory: g.directory) ?? (try Tensor([Float(0)], shape: [1]))
            guard value.elementCount == 1 else { throw n.fail(.invalidAttribute, "attribute 'value' must hold one element") }
            let fill: Argument<ValueID> = value.dtype.isFloatingPoint ? .float(Double(value.floatValues()[0]))
                : .int(Int(value.floatValues()[0]))
            if value.dtype == .int64 {
                return try g.call("full", [], ["size": .intList(size), "fill_value": .int(Int(value.scalars(as: Int64.self)[0])),
                                               "dtype": .dtype(.int64)], location: n.location)
            }
            return try g.call("full", [], ["size": .intList(size), "fill_value": fill, "dtype": .dtype(value.dtype)],
                              location: n.location)
        },
        "Reshape": { g, n in
            let x = try n.input(0)
            guard var shape = n.opset < 5 ? n.ints("shape") : try n.ints(1, "shape") else {
                throw n.fail(.invalidAttribute, "the shape is required")
            }
            if n.int("allowzero", 0) == 0, shape.contains(0) {
                let input = try g.staticShape(x, "Reshape with a 0 in its shape")
                for i in shape.indices where shape[i] == 0 {
                    guard i < input.count else { throw n.fail(.invalidAttribute, "shape \(shape): 0 at \(i) is past the input's rank") }
                    shape[i] = input[i]
                }
            }
            return try g.call("reshape", [x], ["shape": .intList(shape)], location: n.location)
        },
        "Flatten": { g, n in
            let x = try n.input(0)
            let shape = try g.staticShape(x, "Flatten")
            var axis = n.int("axis", 1)
            if axis < 0 { axis += shape.count }
            guard axis >= 0, axis <= shape.count else { throw n.fail(.invalidAttribute, "axis \(axis) is out of range") }
            let outer = try product(shape[..<axis])
            let inner = try product(shape[axis...])
            return try g.call("reshape", [x], ["shape": .intList([outer, inner])], location: n.location)
        },
        "Transpose": { g, n in
            let x = try n.input(0)
            let rank = g.type(of: x).rank
            let perm = n.ints("perm") ?? Array((0..<rank).reversed())
            return try g.call("permute_copy", [x], ["dims": .intList(perm)], location: n.location)
        },
        "Squeeze": { g, n in
            let x = try n.input(0)
            let type = g.type(of: x)
            var axes = n.opset < 13 ? n.ints("axes") : try n.ints(1, "axes")
            if axes == nil || axes == [] {
                axes = type.shape.indices.filter { type.shape[$0].isOne }
            }
            return try g.call("squeeze.dims", [x], ["dim": .intList(axes ?? [])], location: n.location)
        },
        "Unsqueeze": { g, n in
            var x = try n.input(0)
            guard let axes = n.opset < 13 ? n.ints("axes") : try n.ints(1, "axes") else {
                throw n.fail(.invalidAttribute, "axes are required")
            }
            let outRank = g.type(of: x).rank + axes.count
            var normalized: [Int] = []
            for a in axes { normalized.append(try normalizeAxis(a, rank: outRank, "axis")) }
            for a in normalized.sorted() {
                x = try g.call("unsqueeze", [x], ["dim": .int(a)], location: n.location)[0]
            }
            return [x]
        },
        "Concat": { g, n in
            let axis = try n.requiredInt("axis")
            let present = n.inputs.compactMap { $0 }
            let constants = present.compactMap { v -> Tensor? in
                if case .constant(let t) = v { return t }
                return nil
            }
            if constants.count == present.count {
                // Every part is known: fold.
                return try g.foldList("cat", constants, ["dim": .int(axis)])
            }
            var parts: [ValueID] = []
            for v in present { parts.append(try g.materialize(v)) }
            return try g.callList("cat", parts, ["dim": .int(axis)], location: n.location)
        },
        "Split": { g, n in
            let x = try n.input(0)
            let type = g.type(of: x)
            let axis = try normalizeAxis(n.int("axis", 0), rank: type.rank)
            var sizes = n.opset < 13 ? n.ints("split") : try n.ints(1, "split")
            if sizes == nil || sizes == [] {
                guard let dim = type.shape[axis].staticValue else { throw n.fail(.unsupportedUse, "Split of a free dim") }
                let count = n.has("num_outputs") ? n.int("num_outputs", 1) : n.proto.output.count
                guard count > 0 else { throw n.fail(.invalidAttribute, "no outputs to split into") }
                let piece = (dim + count - 1) / count
                sizes = (0..<count).map { max(0, min(piece, dim - $0 * piece)) }
            }
            return try g.call("split_with_sizes", [x], ["split_sizes": .intList(sizes ?? []), "dim": .int(axis)],
                              location: n.location)
        },
        "Slice": { g, n in
            var x = try n.input(0)
            let rank = g.type(of: x).rank
            let starts: [Int]
            let ends: [Int]
            var axes: [Int]?
            var steps: [Int]?
            if n.opset < 10 {
                starts = n.ints("starts") ?? []
                ends = n.ints("ends") ?? []
                axes = n.ints("axes")
            } else {
                starts = try n.ints(1, "starts") ?? []
                ends = try n.ints(2, "ends") ?? []
                axes = try n.ints(3, "axes")
                steps = try n.ints(4, "steps")
            }
            guard starts.count == ends.count else { throw n.fail(.invalidAttribute, "starts and ends differ in length") }
            let axisList = axes ?? Array(0..<starts.count)
            let stepList = steps ?? Array(repeating: 1, count: starts.count)
            guard axisList.count == starts.count, stepList.count == starts.count else {
                throw n.fail(.invalidAttribute, "starts, ends, axes and steps differ in length")
            }
            for i in starts.indices {
                let dim = try normalizeAxis(axisList[i], rank: rank)
                guard stepList[i] != 0 else { throw n.fail(.invalidAttribute, "steps must not be 0") }
                if stepList[i] < 0 {
                    // Backwards: the picked indices are known now, so one index_select.
                    guard let d = g.type(of: x).shape[dim].staticValue else {
                        throw n.fail(.unsupportedUse, "a negative step along a free dim")
                    }
                    var start = starts[i] < 0 ? starts[i] + d : starts[i]
                    var end = ends[i] < 0 ? ends[i] + d : ends[i]
                    start = min(max(start, -1), d - 1)
                    end = min(max(end, -1), d - 1)
                    let picked = Array(stride(from: start, to: end, by: stepList[i]))
                    x = try g.call("index_select", [x, GraphImport.int64s(picked)], ["dim": .int(dim)], location: n.location)[0]
                    continue
                }
                x = try g.call("slice_copy.Tensor", [x], ["dim": .int(dim), "start": .int(starts[i]),
                                                         "end": .int(ends[i]), "step": .int(stepList[i])],
                               location: n.location)[0]
            }
            return [x]
        },
        "Gather": { g, n in
            let x = try n.input(0)
            var index = try n.input(1)
            let type = g.type(of: x)
            let axis = try normalizeAxis(n.int("axis", 0), rank: type.rank)
            let indexType = g.type(of: index)
            if case .constant(let t) = index, t.rank == 0 {
                let i = try ONNXNode.intValues(t, "indices")[0]
                return try g.call("select_copy.int", [x], ["dim": .int(axis), "index": .int(i)], location: n.location)
            }
            guard let dim = type.shape[axis].staticValue else { throw n.fail(.unsupportedUse, "Gather along a free dim") }
            // Negative indices count from the end.
            if case .constant(let t) = index {
                let values = try ONNXNode.intValues(t, "indices").map { Int64($0 < 0 ? $0 + dim : $0) }
                index = .constant(try Tensor(values, shape: t.shape))
            } else {
                let negative = try g.call("lt.Scalar", [index], ["other": .int(0)], location: n.location)[0]
                let shifted = try g.call("add.Scalar", [index], ["other": .int(dim)], location: n.location)[0]
                index = try g.call("where.self", [negative, shifted, index], location: n.location)[0]
            }
            guard let indexShape = indexType.staticShape else { throw n.fail(.unsupportedUse, "Gather with free index dims") }
            let flat = try g.call("reshape", [index], ["shape": .intList([try product(indexShape)])], location: n.location)[0]
            let picked = try g.call("index_select", [x, flat], ["dim": .int(axis)], location: n.location)[0]
            if indexShape.count == 1 { return [picked] }
            let shape = try g.staticShape(x, "Gather with multi-dim indices")
            let out = Array(shape[..<axis]) + indexShape + Array(shape[(axis + 1)...])
            return try g.call("reshape", [picked], ["shape": .intList(out)], location: n.location)
        },
        "Expand": { g, n in
            let x = try n.input(0)
            guard let shape = try n.ints(1, "shape") else { throw n.fail(.invalidAttribute, "the shape is required") }
            let input = g.type(of: x).shape
            let rank = max(shape.count, input.count)
            var size: [Int] = []
            for i in 0..<rank {
                let s = i - (rank - shape.count) >= 0 ? shape[i - (rank - shape.count)] : 1
                let d = i - (rank - input.count) >= 0 ? input[i - (rank - input.count)] : nil
                if s == 1, let d { size.append(d.staticValue ?? -1) } else { size.append(s) }
            }
            return try g.call("expand", [x], ["size": .intList(size)], location: n.location)
        },
        "Range": { g, n in
            guard let start = try n.constant(0, "start"), let limit = try n.constant(1, "limit"),
                  let delta = try n.constant(2, "delta") else { throw n.fail(.invalidAttribute, "start, limit and delta are required") }
            func scalar(_ t: Tensor) -> Argument<ValueID> {
                t.dtype.isFloatingPoint ? .float(Double(t.floatValues()[0]))
                    : .int(t.dtype == .int64 ? Int(t.scalars(as: Int64.self)[0]) : Int(t.floatValues()[0]))
            }
            guard start.elementCount == 1, limit.elementCount == 1, delta.elementCount == 1 else {
                throw n.fail(.invalidAttribute, "start, limit and delta must be scalars")
            }
            return try g.call("arange.start_step", [], ["start": scalar(start), "end": scalar(limit), "step": scalar(delta),
                                                        "dtype": .dtype(start.dtype)], location: n.location)
        },
        "Trilu": { g, n in
            let k = try n.ints(1, "k")?.first ?? 0
            return try g.call(n.int("upper", 1) != 0 ? "triu" : "tril", [try n.input(0)], ["diagonal": .int(k)],
                              location: n.location)
        },
        "Pad": { g, n in
            let x = try n.input(0)
            let rank = g.type(of: x).rank
            let mode = n.string("mode", "constant")
            guard ["constant", "edge", "reflect", "wrap"].contains(mode) else { throw n.fail(.invalidAttribute, "Pad mode '\(mode)'") }
            let pads: [Int]
            var value: Double = 0
            var axes = Array(0..<rank)
            if n.opset < 11 {
                pads = n.ints("pads") ?? n.ints("paddings") ?? []
                value = n.float("value", 0)
            } else {
                pads = try n.ints(1, "pads") ?? []
                value = try n.scalar(2, "constant_value") ?? 0
                if let a = try n.ints(3, "axes") {
                    axes = []
                    for x in a { axes.append(try normalizeAxis(x, rank: rank)) }
                }
            }
            guard pads.count == 2 * axes.count else {
                throw n.fail(.invalidAttribute, "pads has \(pads.count) values, expected \(2 * axes.count)")
            }
            var begin = [Int](repeating: 0, count: rank)
            var end = [Int](repeating: 0, count: rank)
            for (i, a) in axes.enumerated() {
                begin[a] = pads[i]
                end[a] = pads[i + axes.count]
            }
            if mode != "constant" {
                // Every output index reads a known input index: one index_select per padded axis.
                var y = x
                for a in 0..<rank where begin[a] != 0 || end[a] != 0 {
                    guard let d = g.type(of: x).shape[a].staticValue, d > 0, abs(begin[a]) < 1 << 20, abs(end[a]) < 1 << 20 else {
                        throw n.fail(.unsupportedUse, "Pad mode '\(mode)' along a free or empty dim")
                    }
                    var index: [Int] = []
                    for j in 0..<max(0, d + begin[a] + end[a]) {
                        let src = j - begin[a]
                        switch mode {
                        case "edge": index.append(min(max(src, 0), d - 1))
                        case "wrap": index.append(((src % d) + d) % d)
                        default:
                            guard d > 1 else { index.append(0); continue }
                            let period = 2 * (d - 1)
                            let r = ((src % period) + period) % period
                            index.append(r < d ? r : period - r)
                        }
                    }
                    y = try g.call("index_select", [y, GraphImport.int64s(index)], ["dim": .int(a)], location: n.location)[0]
                }
                return [y]
            }
            var torch: [Int] = []
            for d in (0..<rank).reversed() { torch += [begin[d], end[d]] }
            while torch.count > 2, torch.suffix(2) == [0, 0] { torch.removeLast(2) }
            let dtype = g.type(of: x).dtype
            return try g.call("constant_pad_nd", [x], ["pad": .intList(torch),
                                                       "value": dtype.isFloatingPoint ? .float(value) : .int(try integer(value, "constant_value"))],
                              location: n.location)
        },
    ]
}

extension GraphImport {
    /// Applies an op whose first parameter is a tensor list.
    mutating func callList(_ op: String, _ tensors: [ValueID], _ attributes: [String: Argument<ValueID>],
                           location: String) throws(ONNXError) -> [ONNXValue] {
        guard let schema = OpTable.schema(named: op) else { throw ONNXError(.graph, "unknown op \(op)") }
        var arguments: [Argument<ValueID>] = []
        for p in schema.parameters {
            if p.kind == .tensorList { arguments.append(.tensorList(tensors)) }
            else if let a = attributes[p.name] { arguments.append(a) }
            else if let d = p.defaultValue { arguments.append(d.widened()) }
            else { throw ONNXError(.graph, "\(op) needs '\(p.name)'") }
        }
        do {
            return try builder.append(schema, arguments: arguments, resultNames: nil, resultTypes: nil, debugHandle: nil,
                                      location: SourceLocation(location)).map(ONNXValue.value)
        } catch {
            throw ONNXError(.graph, "\(op): \(error.message)")
        }
    }

    /// Evaluates a tensor-list op on constants.
    func foldList(_ op: String, _ tensors: [Tensor], _ attributes: [String: Argument<ValueID>]) throws(ONNXError) -> [ONNXValue] {
        var copy = GraphImport(graph: proto, opset: opset, directory: directory)
        var ids: [ValueID] = []
        for t in tensors { ids.append(try copy.materialize(.constant(t))) }
        _ = try copy.callList(op, ids, attributes, location: "fold")
        var graph = copy.builder.graph
        graph.outputs = [graph.nodes[graph.nodes.count - 1].results[0]]
        do {
            return try GraphEvaluator(graph).run([]).outputs.map(ONNXValue.constant)
        } catch {
            throw ONNXError(.graph, "\(op) (evaluated at import): \(error)")
        }
    }
}
