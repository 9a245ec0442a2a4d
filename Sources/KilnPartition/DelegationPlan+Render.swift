import KilnIR
import KilnTensor

extension DelegationPlan {
    /// How a node reads in plans: `%conv1 = convolution (#0, loc("blocks.0.conv"))`.
    func describe(_ index: Int) -> String { graph.describe(graph.nodes[index]) }

    /// The node's name in JSON: its first result's name.
    func nodeName(_ index: Int) -> String {
        graph.nodes[index].results.first.map { graph[$0].name } ?? "#\(graph.nodes[index].debugHandle)"
    }

    // MARK: Table

    /// The plan for people: totals, an op table (count per backend and on portable), the
    /// partitions with their estimates, and every fallback with its reasons.
    public func table() -> String {
        var out = "Delegation plan for @\(graph.name) (backends: \(backends.joined(separator: ", "))\(isAuto ? ", chosen by estimated cost" : ""))\n"
        let counts = nodeCounts
        let delegated = placements.count - (counts["portable"] ?? 0)
        out += "  \(partitions.count) delegated subgraph\(partitions.count == 1 ? "" : "s"), \(delegated) node\(delegated == 1 ? "" : "s") delegated, \(counts["portable"] ?? 0) on portable\n"
        for name in backends {
            let parts = partitions.filter { $0.backend == name }
            let us = parts.reduce(0) { $0 + $1.estimatedMicroseconds }
            out += "  \(name): \(parts.count) partition\(parts.count == 1 ? "" : "s"), \(counts[name] ?? 0) nodes"
                + (parts.isEmpty ? "" : ", estimated \(Self.format(us)) us") + "\n"
        }

        // Op table.
        let columns = backends + ["portable"]
        var ops: [String] = []
        var byOp: [String: [String: Int]] = [:]
        for p in placements {
            let op = graph.nodes[p.node].op.name
            if byOp[op] == nil { ops.append(op) }
            byOp[op, default: [:]][p.backend ?? "portable", default: 0] += 1
        }
        let width = max(4, ops.map(\.count).max() ?? 0)
        out += "\n  " + "op".padding(width) + columns.map { "  " + $0.leftPadding(max(8, $0.count)) }.joined() + "\n"
        for op in ops {
            out += "  " + op.padding(width)
                + columns.map { "  " + String(byOp[op]?[$0] ?? 0).leftPadding(max(8, $0.count)) }.joined() + "\n"
        }

        if !partitions.isEmpty {
            out += "\nPartitions:\n"
            for p in partitions {
                out += "  \(p.id): \(p.backend), \(p.nodes.count) nodes, \(p.inputs.count) in / \(p.outputs.count) out, "
                    + "estimated \(Self.format(p.estimatedMicroseconds)) us\n"
            }
        }
        let fallbacks = self.fallbacks
        if !fallbacks.isEmpty {
            out += "\nOn portable, and why:\n"
            for f in fallbacks {
                out += "  \(describe(f.node))\n"
                for r in f.reasons { out += "      \(r.backend): \(r.reason)\n" }
            }
        }
        return out
    }

    // MARK: JSON

    /// `{"backends", "partitions": [{"id", "backend", "nodes", "inputs", "outputs", "estimated_us"}],
    /// "nodes": [{"name", "op", "placement", "reasons": {backend: reason}}], "summary"}`.
    public func json() -> JSONValue {
        let partitionsJSON: [JSONValue] = partitions.map { p in
            .object([
                ("id", .number(Double(p.id))), ("backend", .string(p.backend)), ("delegate_id", .string(p.backendID)),
                ("nodes", .array(p.nodes.map { .string(nodeName($0)) })),
                ("inputs", .array(p.inputs.map { .string(graph[$0].name) })),
                ("outputs", .array(p.outputs.map { .string(graph[$0].name) })),
                ("estimated_us", .number(Self.rounded(p.estimatedMicroseconds))),
            ])
        }
        let nodesJSON: [JSONValue] = placements.map { p in
            let node = graph.nodes[p.node]
            var fields: [(String, JSONValue)] = [
                ("name", .string(nodeName(p.node))), ("op", .string(node.op.name)),
                ("debug_handle", .number(Double(node.debugHandle))),
                ("placement", .string(p.backend ?? "portable")),
            ]
            if let loc = node.location { fields.append(("loc", .string(loc.text))) }
            if let id = p.partition { fields.append(("partition", .number(Double(id)))) }
            fields.append(("reasons", .object(p.reasons.map { ($0.backend, .string($0.reason)) })))
            return .object(fields)
        }
        let counts = nodeCounts
        let summary: JSONValue = .object([
            ("nodes", .number(Double(placements.count))),
            ("delegated_subgraphs", .number(Double(partitions.count))),
            ("delegated_nodes", .number(Double(placements.count - (counts["portable"] ?? 0)))),
            ("portable_nodes", .number(Double(counts["portable"] ?? 0))),
            ("per_backend", .object(backends.map { name in
                (name, .object([
                    ("partitions", .number(Double(partitions.filter { $0.backend == name }.count))),
                    ("nodes", .number(Double(counts[name] ?? 0))),
                    ("estimated_us", .number(Self.rounded(partitions.filter { $0.backend == name }.reduce(0) { $0 + $1.estimatedMicroseconds }))),
                ]))
            })),
        ])
        return .object([
            ("graph", .string(graph.name)), ("auto", .bool(isAuto)),
            ("backends", .array(backends.map { .string($0) })),
            ("partitions", .array(partitionsJSON)), ("nodes", .array(nodesJSON)), ("summary", summary),
        ])
    }

    // MARK: DOT

    /// Graphviz: partitions as coloured clusters, portable nodes in grey with their first reason
    /// in the tooltip, values as edges. `dot -Tsvg plan.dot -o plan.svg` renders it.
    public func dot() -> String {
        let palette = ["#cfe2ff", "#d1e7dd", "#fff3cd", "#f8d7da", "#e2d9f3", "#d2f4ea"]
        func colour(_ backend: String) -> String {
            palette[(backends.firstIndex(of: backend) ?? 0) % palette.count]
        }
        func quoted(_ s: String) -> String {
            "\"" + s.replacingAll("\\", "\\\\").replacingAll("\"", "\\\"").replacingAll("\n", "\\n") + "\""
        }
        var out = "digraph \(quoted(graph.name)) {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
        for id in graph.inputs {
            out += "  \(quoted("in:" + graph[id].name)) [label=\(quoted("%" + graph[id].name + "\n" + graph.type(of: id).description)), shape=ellipse, fillcolor=white];\n"
        }
        func nodeLine(_ i: Int) -> String {
            let node = graph.nodes[i]
            let p = placements[i]
            var attrs = "label=\(quoted(node.op.name + "\n%" + nodeName(i)))"
            if let b = p.backend {
                attrs += ", fillcolor=\(quoted(colour(b)))"
            } else {
                let why = p.reasons.map { "\($0.backend): \($0.reason)" }.joined(separator: "\n")
                attrs += ", fillcolor=\"#eeeeee\", color=\"#999999\", style=\"rounded,filled,dashed\", tooltip=\(quoted(why.isEmpty ? "portable" : why))"
            }
            return "\(quoted("n\(i)")) [\(attrs)];"
        }
        for p in partitions {
            out += "  subgraph \(quoted("cluster_\(p.id)")) {\n    label=\(quoted("\(p.backend) #\(p.id) (~\(Self.format(p.estimatedMicroseconds)) us)"));\n"
                + "    style=filled; color=\(quoted(colour(p.backend)));\n"
            for n in p.nodes { out += "    " + nodeLine(n) + "\n" }
            out += "  }\n"
        }
        for f in fallbacks { out += "  " + nodeLine(f.node) + "\n" }
        var producer: [ValueID: String] = [:]
        for id in graph.inputs { producer[id] = "in:" + graph[id].name }
        for (i, node) in graph.nodes.enumerated() { for id in node.results { producer[id] = "n\(i)" } }
        for (i, node) in graph.nodes.enumerated() {
            for id in Set(node.operands).sorted() {
                guard let from = producer[id] else { continue }
                out += "  \(quoted(from)) -> \(quoted("n\(i)"));\n"
            }
        }
        for (k, id) in graph.outputs.enumerated() {
            out += "  \(quoted("out:\(k)")) [label=\(quoted("output \(k)")), shape=ellipse, fillcolor=white];\n"
            if let from = producer[id] { out += "  \(quoted(from)) -> \(quoted("out:\(k)"));\n" }
        }
        return out + "}\n"
    }

    /// Microseconds with at most 2 decimals.
    static func rounded(_ us: Double) -> Double { (us * 100).rounded() / 100 }

    static func format(_ us: Double) -> String { FixedPoint.format(us, digits: 2) }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }

    func replacingAll(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
