import KilnOps
import KilnTensor

/// Prints a ``Graph`` in the canonical `.kir` text form, which ``KIRParser`` reads back to an
/// equal graph (`parse(print(g)) == g`, and `print(parse(t)) == t` for canonical `t`).
///
/// ```
/// kir 1
/// sidecar "mlp.kir.bin"
///
/// graph @forward(%x: f32[1, 256]) {
///   %w0 = constant f32[512, 256] sidecar(offset=0, bytes=524288)
///   %0 = linear(%x, %w0) : f32[1, 512] #0 loc("fc1")
///   return %0
/// }
/// ```
public enum KIRPrinter {
    /// Where constant data goes.
    public enum Constants: Sendable {
        /// Every constant inline as `dense [...]`.
        case inline
        /// Constants over `threshold` bytes go to a sidecar file called `fileName` (written by
        /// the caller from ``Output/sidecar``), each 64-byte aligned; smaller ones stay inline.
        case sidecar(fileName: String, threshold: Int)
    }

    /// The text and, for ``Constants/sidecar(fileName:threshold:)``, the sidecar bytes.
    public struct Output: Sendable {
        public var text: String
        public var sidecar: [UInt8]
    }

    /// The sidecar alignment of each constant, in bytes.
    public static let sidecarAlignment = 64

    /// Prints `graph` with every constant inline.
    public static func print(_ graph: Graph) -> String { print(graph, constants: .inline).text }

    /// Prints `graph`, placing constant data as `constants` says.
    public static func print(_ graph: Graph, constants: Constants) -> Output {
        var out = "kir 1\n"
        var sidecar: [UInt8] = []
        var threshold = Int.max
        if case .sidecar(let fileName, let limit) = constants,
           graph.constants.contains(where: { (value($0, in: graph)?.constantData?.byteCount ?? 0) > limit }) {
            out += "sidecar \(quoted(fileName))\n"
            threshold = limit
        }
        for s in graph.symbols {
            out += "symbol \(s.name) in \(s.range.lowerBound)...\(s.range.upperBound)\n"
        }
        let inputs = graph.inputs.map { id in value(id, in: graph).map { "%\($0.name): \($0.type)" } ?? "%<\(id)>" }
        out += "\ngraph @\(graph.name)(\(inputs.joined(separator: ", "))) {\n"
        for id in graph.constants {
            guard let v = value(id, in: graph) else { out += "  %<\(id)> = constant ?\n"; continue }
            out += "  %\(v.name) = constant \(v.type) "
            guard let data = v.constantData else { out += "dense []\n"; continue }
            if data.byteCount > threshold {
                let offset = (sidecar.count + sidecarAlignment - 1) / sidecarAlignment * sidecarAlignment
                sidecar += [UInt8](repeating: 0, count: offset - sidecar.count)
                data.withUnsafeRawBytes { sidecar += $0 }
                out += "sidecar(offset=\(offset), bytes=\(data.byteCount))\n"
            } else {
                out += "dense [\(denseElements(data).joined(separator: ", "))]\n"
            }
        }
        for node in graph.nodes {
            out += "  " + line(node, in: graph) + "\n"
        }
        out += "  return \(graph.outputs.map { id in value(id, in: graph).map { "%" + $0.name } ?? "%<\(id)>" }.joined(separator: ", "))\n}\n"
        return Output(text: out, sidecar: sidecar)
    }

    /// One node: `%r = op(%a, %b, name=value) : type #handle loc("...") {key = value}`.
    static func line(_ node: Node, in graph: Graph) -> String {
        func valueName(_ id: ValueID) -> String {
            id.index >= 0 && id.index < graph.values.count ? "%" + graph[id].name : "%<\(id)>"
        }
        let params = node.op.parameters
        var positional: [String] = []
        var keywords: [String] = []
        // Tensor parameters are positional up to the last one that is not a defaulted none.
        let tensorSlots = params.indices.filter { params[$0].kind.isTensorLike }
        let lastShown = tensorSlots.last { i in
            i < node.arguments.count && !(node.arguments[i] == .none && params[i].defaultValue == Argument<Never>.none)
        }
        for (i, p) in params.enumerated() where i < node.arguments.count {
            let a = node.arguments[i]
            if p.kind.isTensorLike {
                if let lastShown, i <= lastShown { positional.append(argumentText(a, valueName)) }
            } else if p.defaultValue.map({ a != $0.widened() }) ?? true {
                keywords.append("\(p.name)=\(argumentText(a, valueName))")
            }
        }
        let results = node.results.map(valueName).joined(separator: ", ")
        let types = node.results.map { value($0, in: graph)?.type.description ?? "?" }
        var text = "\(results) = \(node.op.name)(\((positional + keywords).joined(separator: ", ")))"
        text += " : \(types.joined(separator: ", ")) #\(node.debugHandle)"
        if let loc = node.location { text += " loc(\(quoted(loc.text)))" }
        if !node.annotations.isEmpty {
            let pairs = node.annotations.keys.sorted().map { "\($0) = \(node.annotations[$0]!)" }
            text += " {\(pairs.joined(separator: ", "))}"
        }
        return text
    }

    /// The value `id` names, or nil when a corrupt graph holds an id outside its table (printing
    /// must work on broken graphs too: it is how they are debugged).
    static func value(_ id: ValueID, in graph: Graph) -> Value? {
        id.index >= 0 && id.index < graph.values.count ? graph[id] : nil
    }

    static func argumentText(_ a: Argument<ValueID>, _ name: (ValueID) -> String) -> String {
        switch a {
        case .tensor(let id): return name(id)
        case .tensorList(let ids): return "[\(ids.map(name).joined(separator: ", "))]"
        case .int(let v): return String(v)
        case .float(let v): return floatText(v)
        case .bool(let v): return v ? "true" : "false"
        case .intList(let v): return "[\(v.map(String.init).joined(separator: ", "))]"
        case .floatList(let v): return "[\(v.map(floatText).joined(separator: ", "))]"
        case .dtype(let d): return d.textName
        case .string(let text): return quoted(text)
        case .none: return "none"
        }
    }

    /// A float that reads back as a float: `1.0`, `1e-05`, `inf`, `-inf`, `nan`.
    static func floatText(_ v: Double) -> String { v.description }

    /// Elements of a constant in row-major order, each in a form that parses back bit-exactly.
    static func denseElements(_ t: Tensor) -> [String] {
        func float<F: BinaryFloatingPoint & CustomStringConvertible>(_ v: F, bits: UInt64, canonicalNaN: UInt64) -> String {
            if v.isNaN && bits != canonicalNaN { return "0x" + String(bits, radix: 16) }
            return v.description
        }
        switch t.dtype {
        case .float32:
            return t.scalars(as: Float.self).map {
                float($0, bits: UInt64($0.bitPattern), canonicalNaN: UInt64(Float.nan.bitPattern))
            }
        case .float16:
            return t.scalars(as: Float16.self).map {
                float($0, bits: UInt64($0.bitPattern), canonicalNaN: UInt64(Float16.nan.bitPattern))
            }
        case .bfloat16:
            return t.scalars(as: BFloat16.self).map {
                float($0.floatValue, bits: UInt64($0.bitPattern), canonicalNaN: UInt64(BFloat16(Float.nan).bitPattern))
            }
        case .int64: return t.scalars(as: Int64.self).map { String($0) }
        case .int32: return t.scalars(as: Int32.self).map { String($0) }
        case .int16: return t.scalars(as: Int16.self).map { String($0) }
        case .int8: return t.scalars(as: Int8.self).map { String($0) }
        case .uint8: return t.scalars(as: UInt8.self).map { String($0) }
        case .bool: return t.withUnsafeRawBytes { raw in raw.map { $0 == 0 ? "false" : $0 == 1 ? "true" : String($0) } }
        }
    }
}
