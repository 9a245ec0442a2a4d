#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import KilnEmit
import KilnIR
import KilnPTE
import KilnPartition
import KilnQuant
import KilnTensor

/// `kiln compile --quantize SCHEME [--calibration DIR] [--eval-samples DIR] [--report FILE.json]`:
/// the quantization step before the compile passes, and its report.
struct QuantizeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Quantize first: int8, int8-dynamic, 8da4w[:g32|g64|g128] (default g128), or a "
                               + "registered preset.", valueName: "scheme"))
    var quantize: String?

    @Option(help: ArgumentHelp("Calibration samples: one folder per sample holding input_0.npy, input_1.npy, ... "
                               + "(required by static schemes such as int8).", valueName: "dir"))
    var calibration: String?

    @Option(name: .customLong("eval-samples"),
            help: ArgumentHelp("Held-out samples (same layout) for the end-to-end SQNR and max abs error.",
                               valueName: "dir"))
    var evalSamples: String?

    @Option(help: ArgumentHelp("Also write the quantization report as JSON to this file.", valueName: "file.json"))
    var report: String?

    func validate() throws {
        guard let quantize else {
            for (flag, value) in [("--calibration", calibration), ("--eval-samples", evalSamples), ("--report", report)]
            where value != nil {
                throw ValidationError("\(flag) needs --quantize")
            }
            return
        }
        KilnBackends.registerAll()  // backends add presets (npu: 8a8w, 16a8w)
        let scheme: QuantizationScheme
        do { scheme = try QuantizationSchemes.parse(quantize) } catch { throw ValidationError(error.message) }
        if scheme.needsCalibration && calibration == nil {
            throw ValidationError("--quantize \(quantize) has static activations: give calibration samples with --calibration DIR")
        }
    }

    /// Quantizes `graph` when --quantize is given (else returns it as it is), with a progress bar
    /// on a terminal's stderr; `dump` receives the quantized graph's text when asked for.
    ///
    /// - Parameter quantizers: the backends' quantizers for the scheme, in claiming order (see
    ///   ``backendQuantizers(_:)``); nil or empty uses the scheme's own.
    func apply(_ graph: Graph, quantizers: [any Quantizer]? = nil,
               dump: ((String) -> Void)?) throws -> (graph: Graph, report: QuantizationReport?) {
        guard let quantize else { return (graph, nil) }
        let scheme = try QuantizationSchemes.parse(quantize)
        let calibrationSamples = try calibration.map { try SampleFolder.read($0, inputs: graph.inputs.count) } ?? []
        let heldOut = try evalSamples.map { try SampleFolder.read($0, inputs: graph.inputs.count) }
        let progress = Progress("quantize")
        let quantizer: any Quantizer = quantizers.flatMap { $0.isEmpty ? nil : ComposedQuantizer($0) } ?? scheme.quantizer
        let (quantized, report) = try KilnQuant.quantize(graph, quantizer: quantizer, name: scheme.name,
                                                         calibration: calibrationSamples,
                                                         heldOut: heldOut) { phase, done, total in
            guard total > 0 else { return }
            progress.show("\(phase.rawValue) \(Progress.bar(done, of: total)) \(done)/\(total) samples", force: done == total)
        }
        progress.clear()
        dump?(KIRPrinter.print(quantized))
        return (quantized, report)
    }

    /// The quantizers the backends of `selection` give for --quantize's scheme, in claiming order
    /// (with auto, the order the cost figures give for `graph`); empty when none has the scheme.
    func backendQuantizers(_ selection: BackendSelection, graph: Graph) throws -> [any Quantizer] {
        guard let quantize else { return [] }
        let name = String(quantize.split(separator: ":", maxSplits: 1).first ?? "")
        var entries = selection.entries
        if selection.isAuto {
            let pipeline = DelegationPipeline(backends: entries, auto: true)
            let order = pipeline.plan(try pipeline.canonicalize(graph)).backends
            entries.sort { (order.firstIndex(of: $0.descriptor.name) ?? .max) < (order.firstIndex(of: $1.descriptor.name) ?? .max) }
        }
        var found: [(String, any Quantizer)] = []
        for e in entries {
            if let q = e.compiler?.quantizer(for: name) { found.append((e.descriptor.name, q)) }
        }
        if found.isEmpty {
            printError("quantize: no backend in --backends has a \(name) quantizer; using the scheme's own")
        } else {
            printError("quantize: \(found.map { "\($0.0) (\($0.1.name))" }.joined(separator: ", ")), in that order")
        }
        return found.map(\.1)
    }

    /// Adds the file and weight sizes to `report` (the float graph compiled for comparison),
    /// prints the table and writes the JSON when --report is given (atomically).
    func finish(_ measured: QuantizationReport, floatGraph: Graph, compiled: Compilation) throws {
        var full = measured
        let float = try KilnCompiler.compile(floatGraph)
        full.sizes = QuantizationReport.Sizes(fileBytesBefore: float.bytes.count, fileBytesAfter: compiled.bytes.count,
                                              weights: PTEWeightSizes(compiled.file))
        print(QuantizationReportText.table(full), terminator: "")
        if let report {
            try FileIO.writeAtomically(Array((QuantizationReportText.json(full).rendered + "\n").utf8), to: report)
        }
    }
}

/// A folder of samples: one sub-folder per sample (sorted by name), each with `input_0.npy`,
/// `input_1.npy`, ... for the graph's inputs in order.
enum SampleFolder {
    static func read(_ path: String, inputs: Int) throws -> [[Tensor]] {
        guard let dir = opendir(path) else {
            throw TensorError(.io, "cannot open the sample folder: \(String(cString: strerror(errno)))", path: path)
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if !name.hasPrefix("."), FileIO.exists("\(path)/\(name)/input_0.npy") || inputs == 0 { names.append(name) }
        }
        closedir(dir)
        guard !names.isEmpty else {
            throw TensorError(.io, "no samples: expected one folder per sample holding input_0.npy", path: path)
        }
        return try names.sorted().map { sample in
            try MethodInputs.read((0..<inputs).map { "\(path)/\(sample)/input_\($0).npy" })
        }
    }
}

/// The report as a table (stdout) and as JSON (--report).
enum QuantizationReportText {
    static func db(_ v: Double) -> String {
        v == .infinity ? "exact" : SQNRAccumulator.label(v) ?? FixedPoint.format(v, digits: 1) + " dB"
    }

    /// `[0.0123]`, or `n: min..max` for many values.
    static func summary<T: Comparable & CustomStringConvertible>(_ values: [T]) -> String {
        guard let lo = values.min(), let hi = values.max() else { return "-" }
        return values.count == 1 ? "\(values[0])" : "\(values.count): \(lo)..\(hi)"
    }

    static func table(_ r: QuantizationReport) -> String {
        var out = "quantization \(r.scheme): \(r.calibrationSamples) calibration samples, \(r.heldOutSamples) held-out\n"
        out += "tensors (SQNR vs f32 on \(r.measuredOn ?? "no") samples):\n"
        for t in r.tensors {
            out += "  \(padded(t.role, 8)) %\(t.name)  \(t.spec)  scales \(summary(t.scales))  zero points "
                + "\(summary(t.zeroPoints))  SQNR \(db(t.sqnr))\n"
        }
        out += "outputs of quantized nodes:\n"
        for n in r.nodes { out += "  \(n.node)  [\(n.pattern)]  SQNR \(db(n.sqnr))\n" }
        if let skipped = r.skipped {
            out += "held-out: skipped (\(skipped))\n"
        } else {
            for o in r.endToEnd {
                out += "held-out end to end: %\(o.name) SQNR \(db(o.sqnr)), max abs error "
                    + FixedPoint.format(o.maxAbsError, digits: 6) + "\n"
            }
        }
        if let s = r.sizes {
            out += "file: \(CompileReport.bytes(s.fileBytesBefore)) -> \(CompileReport.bytes(s.fileBytesAfter)); "
                + "quantized weights as stored: \(CompileReport.bytes(s.weights.quantizedBytes)) vs "
                + "\(CompileReport.bytes(s.weights.floatBytes)) f32 (\(FixedPoint.format(s.weights.reduction * 100, digits: 1))% "
                + "smaller, scales included)\n"
        }
        return out
    }

    static func json(_ r: QuantizationReport) -> JSON {
        func number(_ v: Double) -> JSON { SQNRAccumulator.label(v).map(JSON.string) ?? .number(v, digits: 4) }
        return .object([
            ("scheme", .string(r.scheme)),
            ("calibration_samples", .int(r.calibrationSamples)),
            ("held_out_samples", .int(r.heldOutSamples)),
            ("measured_on", r.measuredOn.map(JSON.string) ?? .null),
            ("tensors", .array(r.tensors.map { t in
                .object([("name", .string(t.name)), ("node", .string(t.node)), ("role", .string(t.role)),
                         ("spec", .string(t.spec)),
                         ("scales", .array(t.scales.map { .number(Double($0), digits: 9) })),
                         ("zero_points", .array(t.zeroPoints.map { .int($0) })), ("sqnr_db", number(t.sqnr))])
            })),
            ("nodes", .array(r.nodes.map { n in
                .object([("node", .string(n.node)), ("pattern", .string(n.pattern)), ("sqnr_db", number(n.sqnr))])
            })),
            ("end_to_end", r.skipped != nil ? .null : .array(r.endToEnd.map { o in
                .object([("output", .string(o.name)), ("sqnr_db", number(o.sqnr)),
                         ("max_abs_error", .number(o.maxAbsError, digits: 9))])
            })),
            ("skipped", r.skipped.map(JSON.string) ?? .null),
            ("sizes", r.sizes.map { s in
                .object([("file_bytes_before", .int(s.fileBytesBefore)), ("file_bytes_after", .int(s.fileBytesAfter)),
                         ("quantized_weight_bytes", .int(s.weights.quantizedBytes)),
                         ("float_weight_bytes", .int(s.weights.floatBytes)),
                         ("weight_reduction", .number(s.weights.reduction, digits: 4))])
            } ?? .null),
        ])
    }
}
