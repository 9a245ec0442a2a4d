import ArgumentParser
import KilnEmit
import KilnIR
import KilnPartition
import KilnQuant
import KilnTensor

/// `kiln plan`: what would run where, and why not, before compiling.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the delegation plan: which nodes each backend takes, and why the rest stay on portable kernels.",
        discussion: """
            Canonicalizes the model for the chosen backends (ops a backend lists stay whole, the rest are \
            decomposed; constants and batch norms folded), then partitions it: backend by backend, in the \
            order given, each claims maximal connected groups of the nodes its descriptor accepts, as long \
            as the graph stays acyclic with each group as one delegate call. Quantized patterns \
            (dequantize → op → quantize) go whole or not at all; a group of nothing but shape ops stays on \
            portable. Backends whose compiler is not in this build are planned from their descriptor.

            --format table (default) prints totals, an op table and every fallback with, per backend, the \
            first constraint that failed. json prints {"backends", "partitions", "nodes", "summary"}. dot \
            prints a Graphviz graph with partitions as coloured clusters (render: dot -Tsvg plan.dot -o plan.svg).
            """
    )

    @Argument(help: "The model: a .kir or .onnx file.")
    var file: String

    @Option(help: ModelFile.inputShapeHelp)
    var inputShape: [String] = []

    @Option(help: BackendSelection.help)
    var backends: String = "auto"

    @Option(help: ArgumentHelp("Quantize first with this scheme, composing the backends' quantizers in order (as "
                               + "`kiln compile --quantize` does); placement depends on the patterns, not the ranges, "
                               + "so one seeded random sample calibrates unless --calibration is given.",
                               valueName: "scheme"))
    var quantize: String?

    @Option(help: ArgumentHelp("Calibration samples for --quantize (one folder per sample with input_0.npy, ...).",
                               valueName: "dir"))
    var calibration: String?

    @Option(help: "table, json or dot.")
    var format: String = "table"

    @Option(name: .shortAndLong, help: "Write the plan here (atomically) instead of stdout.")
    var output: String?

    func validate() throws {
        try ModelFile.validate(file, inputShapes: inputShape)
        try BackendSelection.validate(backends)
        guard ["table", "json", "dot"].contains(format) else {
            throw ValidationError("unknown --format '\(format)'; expected table, json or dot")
        }
    }

    func run() throws {
        try reportingErrors {
            let selection = try BackendSelection.resolve(backends, needsCompiler: false)
            var graph = try ModelFile.read(file, inputShapes: inputShape)
            if let quantize {
                var options = QuantizeOptions()
                options.quantize = quantize
                options.calibration = calibration
                let quantizers = try options.backendQuantizers(selection, graph: graph)
                let samples = try calibration.map { try SampleFolder.read($0, inputs: graph.inputs.count) }
                    ?? [try MethodInputs.random(for: graph)]
                let scheme = try QuantizationSchemes.parse(quantize)
                let quantizer: any Quantizer = quantizers.isEmpty ? scheme.quantizer : ComposedQuantizer(quantizers)
                graph = try KilnQuant.quantize(graph, quantizer: quantizer, name: scheme.name, calibration: samples).graph
            }
            let pipeline = DelegationPipeline(backends: selection.entries, auto: selection.isAuto)
            let canonical: Graph
            do { canonical = try pipeline.canonicalize(graph) } catch {
                throw PartitionError(.graph, "before partitioning: \(error)", file: file)
            }
            let plan = pipeline.plan(canonical)
            let text: String
            switch format {
            case "json": text = plan.json().pretty
            case "dot": text = plan.dot()
            default: text = plan.table()
            }
            if let output {
                try FileIO.writeAtomically(Array(text.utf8), to: output)
                printError("wrote \(output): \(plan.partitions.count) partitions, \(plan.fallbacks.count) nodes on portable")
            } else {
                print(text, terminator: "")
            }
        }
    }
}

/// `kiln backends`: what this build can delegate to.
struct ListBackends: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "List the registered backends, or show one backend's descriptor.",
        discussion: """
            For each backend: its name, kind and delegate id, whether this build has its compiler \
            (`descriptor only` when `kiln compile --backends NAME` cannot use it yet) and whether its \
            runtime can run on this machine (and if not, why). With NAME, the descriptor's summary, cost \
            figures, limits and every op with what it accepts; --json prints the descriptor as parsed.
            """
    )

    @Argument(help: "A backend's name (or delegate id).")
    var name: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        try reportingErrors {
            KilnBackends.registerAll()
            guard let name else {
                let entries = BackendCatalog.shared.all
                if json {
                    print(JSONValue.array(entries.map { e in
                        .object([("name", .string(e.descriptor.name)), ("id", .string(e.descriptor.id)),
                                 ("kind", .string(e.descriptor.kind.rawValue)), ("compiler", .bool(e.compiler != nil)),
                                 ("available", .bool(e.unavailableReason() == nil)),
                                 ("unavailable_reason", e.unavailableReason().map(JSONValue.string) ?? .null),
                                 ("ops", .number(Double(e.descriptor.ops.count)))])
                    }).pretty, terminator: "")
                    return
                }
                for e in entries {
                    let d = e.descriptor
                    let compiler = e.compiler == nil ? "descriptor only (no compiler in this build)" : "compiler"
                    let runtime = e.unavailableReason().map { "unavailable: \($0)" } ?? "available"
                    print("\(padded(d.name, 9)) \(d.kind.rawValue)  id \(d.id)  \(d.ops.count) ops  \(compiler); runtime \(runtime)")
                    print("          \(d.summary)")
                }
                return
            }
            guard let entry = BackendCatalog.shared.backend(named: name) else {
                let known = BackendCatalog.shared.all.map(\.descriptor.name).joined(separator: ", ")
                throw PartitionError(.unknownBackend, "no backend named '\(name)' (this build has: \(known))")
            }
            print(json ? Self.json(entry.descriptor).pretty : Self.text(entry), terminator: "")
        }
    }

    static func text(_ e: BackendCatalog.Entry) -> String {
        let d = e.descriptor
        var out = "\(d.name) (\(d.kind.rawValue), delegate id \(d.id)): \(d.summary)\n"
        out += "  compiler: \(e.compiler == nil ? "none in this build (descriptor only)" : "yes")\n"
        out += "  runtime: \(e.unavailableReason().map { "unavailable: \($0)" } ?? "available")\n"
        let rates = d.cost.opsPerSecond.sorted { $0.key.longName < $1.key.longName }
            .map { "\($0.key.longName) \(Self.si($0.value)) op/s" }.joined(separator: ", ")
        out += "  cost: \(rates); \(Self.si(d.cost.bytesPerSecond)) B/s; \(d.cost.callOverheadMicroseconds) us per call\n"
        out += "  limits: \(limits(d.limits).isEmpty ? "none" : limits(d.limits))\n"
        out += "  ops (\(d.ops.count)):\n"
        for op in d.ops {
            var accepts: [String] = []
            if !op.dtypes.isEmpty { accepts.append(op.dtypes.map(\.longName).joined(separator: ", ")) }
            if !op.quantized.isEmpty { accepts.append("quantized " + op.quantized.map(\.description).joined(separator: ", ")) }
            var line = "    \(padded(op.op, 30)) \(accepts.joined(separator: "; "))"
            let own = limits(op.limits)
            if own != limits(d.limits), !own.isEmpty { line += "; \(own)" }
            if !op.constantOperands.isEmpty { line += "; constant \(op.constantOperands.joined(separator: ", "))" }
            for a in op.attributes {
                var parts: [String] = []
                if let v = a.min { parts.append(">= \(v)") }
                if let v = a.max { parts.append("<= \(v)") }
                if let v = a.values { parts.append("in \(v)") }
                line += "; \(a.name) \(parts.joined(separator: " "))"
            }
            out += line + "\n"
        }
        return out
    }

    static func limits(_ l: BackendDescriptor.Limits) -> String {
        var parts: [String] = []
        if let v = l.minRank { parts.append("rank >= \(v)") }
        if let v = l.maxRank { parts.append("rank <= \(v)") }
        if l.staticShapes == true { parts.append("static shapes") }
        if let v = l.maxElements { parts.append("<= \(v) elements per tensor") }
        return parts.joined(separator: ", ")
    }

    static func si(_ v: Double) -> String {
        for (unit, scale) in [("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)] where v >= scale {
            return CompileReport.fixed(v / scale, 1) + unit
        }
        return CompileReport.fixed(v, 1)
    }

    static func json(_ d: BackendDescriptor) -> JSONValue {
        func limitsJSON(_ l: BackendDescriptor.Limits) -> [(String, JSONValue)] {
            var f: [(String, JSONValue)] = []
            if let v = l.minRank { f.append(("min_rank", .number(Double(v)))) }
            if let v = l.maxRank { f.append(("max_rank", .number(Double(v)))) }
            if let v = l.staticShapes { f.append(("static_shapes", .bool(v))) }
            if let v = l.maxElements { f.append(("max_elements", .number(Double(v)))) }
            return f
        }
        return .object([
            ("id", .string(d.id)), ("name", .string(d.name)), ("kind", .string(d.kind.rawValue)), ("summary", .string(d.summary)),
            ("cost", .object([
                ("ops_per_second", .object(d.cost.opsPerSecond.sorted { $0.key.longName < $1.key.longName }
                    .map { ($0.key.longName, .number($0.value)) })),
                ("bytes_per_second", .number(d.cost.bytesPerSecond)),
                ("call_overhead_us", .number(d.cost.callOverheadMicroseconds)),
            ])),
            ("limits", .object(limitsJSON(d.limits))),
            ("ops", .array(d.ops.map { op in
                var f: [(String, JSONValue)] = [("op", .string(op.op))]
                if !op.dtypes.isEmpty { f.append(("dtypes", .array(op.dtypes.map { .string($0.longName) }))) }
                if !op.quantized.isEmpty { f.append(("quantized", .array(op.quantized.map { .string($0.description) }))) }
                f += limitsJSON(op.limits)
                if !op.constantOperands.isEmpty { f.append(("constant_operands", .array(op.constantOperands.map(JSONValue.string)))) }
                if !op.attributes.isEmpty {
                    f.append(("attributes", .array(op.attributes.map { a in
                        var af: [(String, JSONValue)] = [("name", .string(a.name))]
                        if let v = a.min { af.append(("min", .number(Double(v)))) }
                        if let v = a.max { af.append(("max", .number(Double(v)))) }
                        if let v = a.values { af.append(("values", .array(v.map { .number(Double($0)) }))) }
                        return .object(af)
                    })))
                }
                return .object(f)
            })),
        ])
    }
}
