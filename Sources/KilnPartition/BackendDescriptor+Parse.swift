import KilnOps
import KilnTensor

extension BackendDescriptor {
    /// A backend's own descriptor, embedded in the build (`EmbeddedDescriptors.json(at: path)`,
    /// written by scripts/backends/embed_descriptors.sh, which scripts/test.sh checks is current):
    /// a missing or invalid one is a broken build, so it stops with a message saying how to mend it.
    public static func embedded(_ json: String?, file path: String) -> BackendDescriptor {
        guard let json else {
            preconditionFailure("this build embeds no \(path); run scripts/backends/embed_descriptors.sh")
        }
        do { return try parse(json, file: path) } catch {
            preconditionFailure("the embedded \(path) does not validate: \(error)")
        }
    }

    /// Parses and validates a descriptor: every member known and of the right kind, the id and
    /// name valid, every op in the op table, every dtype known, every attribute limit naming a
    /// parameter of its op, every figure positive.
    ///
    /// - Parameters:
    ///   - text: the JSON.
    ///   - file: the path messages name.
    /// - Throws: ``PartitionError`` `.descriptor` naming `file`, the member path (`ops[3].dtypes[1]`)
    ///   and what was expected.
    public static func parse(_ text: String, file: String) throws(PartitionError) -> BackendDescriptor {
        let root: JSONValue
        do { root = try JSONValue.parse(text) } catch {
            throw PartitionError(.descriptor, "not valid JSON at \(error)", file: file)
        }
        var reader = Reader(file: file)
        return try reader.descriptor(root)
    }
}

/// Walks a descriptor's JSON, keeping the member path for messages.
private struct Reader {
    let file: String

    func fail(_ path: String, _ message: String) -> PartitionError {
        PartitionError(.descriptor, path.isEmpty ? message : "\(path): \(message)", file: file)
    }

    func object(_ value: JSONValue, _ path: String, allowed: [String]) throws(PartitionError) -> [(String, JSONValue)] {
        guard case .object(let fields) = value else { throw fail(path, "expected an object, found \(value.kindDescription)") }
        for (key, _) in fields where !allowed.contains(key) {
            throw fail(path, "unknown member \"\(key)\" (expected one of: \(allowed.joined(separator: ", ")))")
        }
        return fields
    }

    func required(_ value: JSONValue, _ key: String, _ path: String) throws(PartitionError) -> JSONValue {
        guard let member = value[key] else { throw fail(path, "missing member \"\(key)\"") }
        return member
    }

    func string(_ value: JSONValue, _ path: String) throws(PartitionError) -> String {
        guard let s = value.string, !s.isEmpty else { throw fail(path, "expected a non-empty string, found \(value.kindDescription)") }
        return s
    }

    func positive(_ value: JSONValue, _ path: String) throws(PartitionError) -> Double {
        guard let n = value.number, n > 0 else { throw fail(path, "expected a positive number, found \(value.rendered)") }
        return n
    }

    func count(_ value: JSONValue, _ path: String, min: Int = 0) throws(PartitionError) -> Int {
        guard let n = value.int, n >= min else { throw fail(path, "expected a whole number at least \(min), found \(value.rendered)") }
        return n
    }

    func array(_ value: JSONValue, _ path: String) throws(PartitionError) -> [JSONValue] {
        guard case .array(let items) = value else { throw fail(path, "expected an array, found \(value.kindDescription)") }
        return items
    }

    /// The items of an optional array member (none when absent).
    func list(_ value: JSONValue?, _ path: String) throws(PartitionError) -> [JSONValue] {
        guard let value else { return [] }
        return try array(value, path)
    }

    func dtype(_ value: JSONValue, _ path: String) throws(PartitionError) -> DType {
        let name = try string(value, path)
        guard let d = DType.allCases.first(where: { "\($0)" == name || String(describing: $0) == name || $0.longName == name }) else {
            throw fail(path, "unknown dtype '\(name)' (expected one of: \(DType.allCases.map(\.longName).joined(separator: ", ")))")
        }
        return d
    }

    mutating func descriptor(_ root: JSONValue) throws(PartitionError) -> BackendDescriptor {
        _ = try object(root, "", allowed: ["id", "name", "kind", "summary", "cost", "limits", "ops"])
        let id = try string(try required(root, "id", ""), "id")
        guard id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw fail("id", "'\(id)' must be printable ASCII without spaces") }
        let name = try string(try required(root, "name", ""), "name")
        guard name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F }) else {
            throw fail("name", "'\(name)' must be lower-case letters, digits, '-' or '_'")
        }
        let kindText = try string(try required(root, "kind", ""), "kind")
        guard let kind = BackendDescriptor.Kind(rawValue: kindText) else {
            throw fail("kind", "unknown kind '\(kindText)' (expected cpu, gpu or npu)")
        }
        let summary = try string(try required(root, "summary", ""), "summary")
        let cost = try costModel(try required(root, "cost", ""), "cost")
        let limits = try root["limits"].map { v throws(PartitionError) in try self.limits(v, "limits") } ?? .init()
        var ops: [BackendDescriptor.OpSupport] = []
        for (i, entry) in try array(try required(root, "ops", ""), "ops").enumerated() {
            let support = try op(entry, "ops[\(i)]", defaults: limits)
            if ops.contains(where: { $0.op == support.op }) { throw fail("ops[\(i)]", "\(support.op) is listed twice") }
            ops.append(support)
        }
        return BackendDescriptor(id: id, name: name, kind: kind, summary: summary, cost: cost, limits: limits, ops: ops)
    }

    func costModel(_ value: JSONValue, _ path: String) throws(PartitionError) -> BackendDescriptor.CostModel {
        _ = try object(value, path, allowed: ["ops_per_second", "bytes_per_second", "call_overhead_us"])
        let opsValue = try required(value, "ops_per_second", path)
        var opsPerSecond: [DType: Double] = [:]
        for (key, figure) in try object(opsValue, path + ".ops_per_second", allowed: DType.allCases.map(\.longName)) {
            opsPerSecond[try dtype(.string(key), path + ".ops_per_second")] = try positive(figure, path + ".ops_per_second.\(key)")
        }
        guard !opsPerSecond.isEmpty else { throw fail(path + ".ops_per_second", "needs at least one dtype's figure") }
        let overhead = try required(value, "call_overhead_us", path)
        guard let us = overhead.number, us >= 0 else { throw fail(path + ".call_overhead_us", "expected a number ≥ 0") }
        return .init(opsPerSecond: opsPerSecond,
                     bytesPerSecond: try positive(try required(value, "bytes_per_second", path), path + ".bytes_per_second"),
                     callOverheadMicroseconds: us)
    }

    func limits(_ value: JSONValue, _ path: String) throws(PartitionError) -> BackendDescriptor.Limits {
        let fields = try object(value, path, allowed: ["min_rank", "max_rank", "static_shapes", "max_elements"])
        var limits = BackendDescriptor.Limits()
        for (key, v) in fields {
            switch key {
            case "min_rank": limits.minRank = try count(v, "\(path).\(key)")
            case "max_rank": limits.maxRank = try count(v, "\(path).\(key)")
            case "max_elements": limits.maxElements = try count(v, "\(path).\(key)", min: 1)
            default:
                guard let b = v.bool else { throw fail("\(path).\(key)", "expected true or false") }
                limits.staticShapes = b
            }
        }
        if let lo = limits.minRank, let hi = limits.maxRank, lo > hi {
            throw fail(path, "min_rank \(lo) is greater than max_rank \(hi)")
        }
        return limits
    }

    func op(_ value: JSONValue, _ path: String, defaults: BackendDescriptor.Limits) throws(PartitionError) -> BackendDescriptor.OpSupport {
        let fields = try object(value, path, allowed: ["op", "dtypes", "quantized", "min_rank", "max_rank", "static_shapes",
                                                       "max_elements", "constant_operands", "attributes", "note"])
        let name = try string(try required(value, "op", path), path + ".op")
        guard let schema = OpTable.schema(named: name) else {
            throw fail(path + ".op", "no op named '\(name)' in the op table (`kiln ops` lists them)")
        }
        let here = "\(path) (\(name))"
        var dtypes: [DType] = []
        for (i, v) in try list(value["dtypes"], here + ".dtypes").enumerated() {
            dtypes.append(try dtype(v, "\(here).dtypes[\(i)]"))
        }
        var quantized: [QuantizedForm] = []
        for (i, v) in try list(value["quantized"], here + ".quantized").enumerated() {
            let text = try string(v, "\(here).quantized[\(i)]")
            do { quantized.append(try QuantizedForm(parsing: text)) } catch {
                throw fail("\(here).quantized[\(i)]", error.message)
            }
        }
        guard !dtypes.isEmpty || !quantized.isEmpty else {
            throw fail(here, "accepts nothing: give \"dtypes\", \"quantized\" or both")
        }
        let own = try limits(.object(fields.filter { ["min_rank", "max_rank", "static_shapes", "max_elements"].contains($0.0) }), here)
        let tensorParameters = schema.parameters.filter { $0.kind.isTensorLike }.map(\.name)
        var constantOperands: [String] = []
        for (i, v) in try list(value["constant_operands"], here + ".constant_operands").enumerated() {
            let p = try string(v, "\(here).constant_operands[\(i)]")
            guard tensorParameters.contains(p) else {
                throw fail("\(here).constant_operands[\(i)]", "'\(p)' is not a tensor parameter of \(name) (\(tensorParameters.joined(separator: ", ")))")
            }
            constantOperands.append(p)
        }
        var attributes: [BackendDescriptor.AttributeLimit] = []
        for (i, v) in try list(value["attributes"], here + ".attributes").enumerated() {
            attributes.append(try attribute(v, "\(here).attributes[\(i)]", schema: schema))
        }
        return .init(op: name, dtypes: dtypes, quantized: quantized, limits: defaults.overridden(by: own),
                     constantOperands: constantOperands, attributes: attributes)
    }

    func attribute(_ value: JSONValue, _ path: String, schema: OpSchema) throws(PartitionError) -> BackendDescriptor.AttributeLimit {
        _ = try object(value, path, allowed: ["name", "min", "max", "values"])
        let name = try string(try required(value, "name", path), path + ".name")
        let numeric = schema.parameters.filter { p in
            switch p.kind {
            case .int, .intList, .bool, .optional(.int), .optional(.intList): return true
            default: return false
            }
        }.map(\.name)
        let derivedKernel = name == "kernel_size" && schema.parameterIndex("weight") != nil
        guard numeric.contains(name) || derivedKernel else {
            throw fail(path + ".name", "'\(name)' is not an integer or boolean parameter of \(schema.name)"
                           + (numeric.isEmpty ? "" : " (\(numeric.joined(separator: ", ")))"))
        }
        var limit = BackendDescriptor.AttributeLimit(name: name)
        if let v = value["min"] { limit.min = try intValue(v, path + ".min") }
        if let v = value["max"] { limit.max = try intValue(v, path + ".max") }
        if let v = value["values"] {
            var values: [Int] = []
            for (i, x) in try array(v, path + ".values").enumerated() {
                if let b = x.bool { values.append(b ? 1 : 0) } else { values.append(try intValue(x, "\(path).values[\(i)]")) }
            }
            limit.values = values
        }
        guard limit.min != nil || limit.max != nil || limit.values != nil else {
            throw fail(path, "limits nothing: give \"min\", \"max\" or \"values\"")
        }
        if let lo = limit.min, let hi = limit.max, lo > hi {
            throw fail(path, "min \(lo) is greater than max \(hi): nothing would be accepted")
        }
        if let values = limit.values, values.isEmpty {
            throw fail(path + ".values", "is empty: nothing would be accepted")
        }
        return limit
    }

    func intValue(_ value: JSONValue, _ path: String) throws(PartitionError) -> Int {
        guard let n = value.int else { throw fail(path, "expected a whole number, found \(value.rendered)") }
        return n
    }
}

extension DType {
    /// The dtype's name in descriptors and plans: `float32`, `int8`, `bool`.
    public var longName: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .int64: return "int64"
        case .int32: return "int32"
        case .int16: return "int16"
        case .int8: return "int8"
        case .uint8: return "uint8"
        case .bool: return "bool"
        }
    }
}
