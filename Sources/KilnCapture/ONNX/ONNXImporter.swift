import KilnIR
import KilnOps
import KilnPasses
import KilnTensor
import SwiftProtobuf

/// Imports an ONNX model file into a Kiln ``KilnIR/Graph``.
///
/// Initializers become constants (from `raw_data`, the typed fields, or memory-mapped external
/// data next to the model); each node becomes Kiln ops (non-core ops where Kiln has them, so
/// the decompose pass does the rest); nodes whose inputs are all constant are evaluated during
/// import, so shape subgraphs (`Shape → Gather → Concat → Reshape`) become constant shapes.
///
/// ```swift
/// let graph = try ONNXImporter.import(path: "model.onnx", inputShapes: ["x": [.fixed(1), .range(1...512)]])
/// ```
public enum ONNXImporter {
    /// The newest default-domain opset this importer reads.
    public static let maxOpset = 27

    /// Imports the model at `path`. `inputShapes` gives, by input name, the dims of inputs whose
    /// ONNX shape has free dims (a range makes a bounded symbol).
    /// - Throws: ``ONNXError`` naming the file and, where one is at fault, the node, op type and
    ///   input or attribute.
    ///
    /// `constantInputs` binds graph inputs to fixed values: they become constants (ONNX's node
    /// tests give shapes and axes as inputs; Kiln needs those known at import time).
    public static func `import`(path: String, inputShapes: [String: [ONNXInputDim]] = [:],
                                constantInputs: [String: Tensor] = [:]) throws(ONNXError) -> Graph {
        let model: Onnx_ModelProto = try parse(path: path)
        do {
            return try importModel(model, directory: directory(of: path), inputShapes: inputShapes,
                                   constantInputs: constantInputs)
        } catch {
            var e = error
            e.file = path
            throw e
        }
    }

    /// Imports an already-read model (`directory` resolves external data).
    static func importModel(_ model: Onnx_ModelProto, directory: String, inputShapes: [String: [ONNXInputDim]],
                            constantInputs: [String: Tensor] = [:]) throws(ONNXError) -> Graph {
        guard model.hasGraph else { throw ONNXError(.invalidModel, "the model has no graph") }
        var opset: Int?
        for o in model.opsetImport where o.domain == "" || o.domain == "ai.onnx" {
            opset = Int(clamping: o.version)
        }
        guard let opset else {
            throw ONNXError(.invalidModel, "the model imports no default-domain opset (opset_import)")
        }
        guard (1...maxOpset).contains(opset) else {
            throw ONNXError(.invalidModel, "the model uses opset \(opset); Kiln imports opsets 1 to \(maxOpset)")
        }
        var importer = GraphImport(graph: model.graph, opset: opset, directory: directory)
        return try importer.run(inputShapes: inputShapes, constantInputs: constantInputs)
    }

    /// Reads a serialized `TensorProto` file (ONNX test data `input_0.pb`, `output_0.pb`).
    /// - Throws: ``ONNXError`` naming the file.
    public static func readTensor(path: String) throws(ONNXError) -> Tensor {
        let proto: Onnx_TensorProto = try parse(path: path)
        do {
            return try ONNXTensor.decode(proto, directory: directory(of: path), what: "tensor")
        } catch {
            var e = error
            e.file = path
            throw e
        }
    }

    /// The name of a serialized `TensorProto` file's tensor (empty when it has none).
    public static func tensorName(path: String) throws(ONNXError) -> String {
        let proto: Onnx_TensorProto = try parse(path: path)
        return proto.name
    }

    static func parse<M: SwiftProtobuf.Message>(path: String) throws(ONNXError) -> M {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path: path)
        } catch {
            throw ONNXError(.io, "cannot read: \(error)", file: path)
        }
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw ONNXError(.invalidProtobuf, "not a valid \(M.protoMessageName) (truncated or corrupt protobuf: \(error))",
                            file: path)
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// A value during import: a constant known now (folded or an initializer), or a graph value.
enum ONNXValue {
    case constant(Tensor)
    case value(ValueID)
}

/// The state of one graph's import.
struct GraphImport {
    let proto: Onnx_GraphProto
    let opset: Int
    let directory: String
    var builder = GraphBuilder(name: "forward")
    var env: [String: ONNXValue] = [:]
    /// Constants already added to the graph, by their storage address (contents compared on a hit).
    private var materialized: [Int: [(Tensor, ValueID)]] = [:]
    private var usedNames: Set<String> = []
    /// The ONNX name of each constant known by name (initializers, folded node outputs), by
    /// storage address, so graph constants keep the model's names.
    private var constantNames: [Int: String] = [:]

    init(graph: Onnx_GraphProto, opset: Int, directory: String) {
        self.proto = graph
        self.opset = opset
        self.directory = directory
    }

    mutating func run(inputShapes: [String: [ONNXInputDim]], constantInputs: [String: Tensor]) throws(ONNXError) -> Graph {
        // Initializers.
        var initialized = Set<String>()
        for t in proto.initializer {
            let tensor = try ONNXTensor.decode(t, directory: directory, what: "initializer")
            env[t.name] = .constant(tensor)
            recordName(t.name, of: tensor)
            initialized.insert(t.name)
        }
        for (name, t) in constantInputs {
            guard proto.input.contains(where: { $0.name == name }) else {
                throw ONNXError(.inputShape, "a constant is given for '\(name)', which is not an input of the model")
            }
            env[name] = .constant(t)
            initialized.insert(name)
        }
        // Inputs (an input that is also an initializer is a constant); a shape given for a name
        // that is no input is reported first, since it is likely why another input looks free.
        for name in inputShapes.keys where !proto.input.contains(where: { $0.name == name }) {
            throw ONNXError(.inputShape, "--input-shape names '\(name)', which is not an input of the model "
                            + "(inputs: \(proto.input.filter { !initialized.contains($0.name) }.map(\.name).joined(separator: ", ")))")
        }
        var symbolCount = 0
        for info in proto.input where !initialized.contains(info.name) {
            let type = try inputType(info, given: inputShapes[info.name], symbolCount: &symbolCount)
            do {
                env[info.name] = .value(try builder.input(claim(info.name), type))
            } catch {
                throw ONNXError(.graph, "input '\(info.name)': \(error)")
            }
        }
        try checkOps()
        let fusions = ONNXFusions(proto)
        var deferred: [Int: [Int]] = [:]
        for i in try sortedNodes() {
            if let root = fusions.absorbedBy[i] {
                deferred[root, default: []].append(i)
                continue
            }
            if let fused = fusions.replacing[i], try importFused(fused, proto.node[i]) { continue }
            for d in deferred[i] ?? [] { try importNode(proto.node[d]) }
            try importNode(proto.node[i])
        }
        var outputs: [ValueID] = []
        for info in proto.output {
            guard let v = env[info.name] else {
                throw ONNXError(.danglingInput, "graph output '\(info.name)' is not defined by any input, initializer or node")
            }
            outputs.append(try materialize(v, name: info.name))
        }
        builder.output(outputs)
        do {
            return try builder.finish()
        } catch {
            throw ONNXError(.graph, "the imported graph does not verify: \(error)")
        }
    }

    /// The Kiln type of a graph input, with free dims fixed or bounded by `given`.
    private mutating func inputType(_ info: Onnx_ValueInfoProto, given: [ONNXInputDim]?,
                                    symbolCount: inout Int) throws(ONNXError) -> TensorType {
        guard info.hasType, case .tensorType(let t)? = info.type.value else {
            throw ONNXError(.invalidModel, "input '\(info.name)' is not a tensor")
        }
        guard let dtype = ONNXTensor.dtype(t.elemType) else {
            throw ONNXError(.unsupportedDType, "input '\(info.name)' has element type \(ONNXTensor.dtypeName(t.elemType)), which Kiln does not have")
        }
        let declared: [Int?]? = t.hasShape ? t.shape.dim.map { d in
            if case .dimValue(let v)? = d.value, v >= 0 { return Int(clamping: v) }
            return nil
        } : nil
        if let given {
            if let declared {
                guard declared.count == given.count else {
                    throw ONNXError(.inputShape, "input '\(info.name)' has rank \(declared.count), --input-shape gives \(given.count) dims")
                }
                for (i, (d, g)) in zip(declared, given).enumerated() {
                    if let d, g != .fixed(d) {
                        throw ONNXError(.inputShape, "input '\(info.name)' dim \(i) is \(d) in the model, --input-shape gives \(g)")
                    }
                }
            }
            var dims: [Dim] = []
            for (i, g) in given.enumerated() {
                switch g {
                case .fixed(let n): dims.append(Dim(n))
                case .range(let r):
                    // A named free dim (dim_param) is one symbol wherever the model uses that name.
                    var name = "s\(symbolCount)"
                    if t.hasShape, i < t.shape.dim.count, case .dimParam(let p)? = t.shape.dim[i].value,
                       Verifier.isValidName(p), p.first?.isLetter == true {
                        name = p
                    }
                    if let existing = builder.graph.symbols.first(where: { $0.name == name }) {
                        guard existing.range == r else {
                            throw ONNXError(.inputShape, "input '\(info.name)' dim \(i) ('\(name)') is bounded \(g), "
                                            + "but an earlier input bounds '\(name)' to \(existing.range.lowerBound)..\(existing.range.upperBound)")
                        }
                        dims.append(Dim(existing))
                    } else {
                        symbolCount += 1
                        dims.append(Dim(builder.symbol(name, range: r)))
                    }
                }
            }
            return TensorType(dtype, dims)
        }
        guard let declared else {
            throw ONNXError(.inputShape, "input '\(info.name)' has no shape in the model; give one with --input-shape \(info.name)=DIMS")
        }
        var dims: [Dim] = []
        for (i, d) in declared.enumerated() {
            guard let d else {
                let param: String
                if case .dimParam(let p)? = t.shape.dim[i].value { param = " ('\(p)')" } else { param = "" }
                throw ONNXError(.inputShape, "input '\(info.name)' dim \(i)\(param) is free; fix or bound it with "
                                + "--input-shape \(info.name)=" + declared.map { $0.map(String.init) ?? "LO..HI" }.joined(separator: "x"))
            }
            dims.append(Dim(d))
        }
        return TensorType(dtype, dims)
    }

    /// One error listing every op type Kiln does not import, with the nodes using it.
    private func checkOps() throws(ONNXError) {
        var missing: [String: [String]] = [:]
        for (i, node) in proto.node.enumerated() {
            let key = node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : "\(node.domain).\(node.opType)"
            if key != node.opType || ONNXOps.table[node.opType] == nil {
                missing[key, default: []].append(node.name.isEmpty ? "#\(i)" : "'\(node.name)'")
            }
        }
        guard missing.isEmpty else {
            let list = missing.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value.joined(separator: ", ")))" }
            throw ONNXError(.unsupportedOps, "unsupported op type\(missing.count == 1 ? "" : "s"): \(list.joined(separator: "; "))")
        }
    }

    /// The nodes in an order where every input is defined before it is read.
    private func sortedNodes() throws(ONNXError) -> [Int] {
        let nodes = proto.node
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.output where !o.isEmpty { producer[o] = i }
        }
        var dependents = [[Int]](repeating: [], count: nodes.count)
        var pending = [Int](repeating: 0, count: nodes.count)
        for (i, n) in nodes.enumerated() {
            for input in n.input where !input.isEmpty {
                if let p = producer[input] {
                    dependents[p].append(i)
                    pending[i] += 1
                } else if env[input] == nil {
                    throw ONNXError(.danglingInput, "input '\(input)' is not a graph input, an initializer or any node's output",
                                    node: describe(n))
                }
            }
        }
        // Kahn's algorithm, taking the earliest ready node first so a sorted model keeps its order.
        var ready = Set(nodes.indices.filter { pending[$0] == 0 })
        var order: [Int] = []
        while let i = ready.min() {
            ready.remove(i)
            order.append(i)
            for d in dependents[i] {
                pending[d] -= 1
                if pending[d] == 0 { ready.insert(d) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = nodes.indices.filter { pending[$0] > 0 }.prefix(5).map { describe(nodes[$0]) }
            throw ONNXError(.cyclicGraph, "the graph has a cycle through \(stuck.joined(separator: ", "))")
        }
        return order
    }

    /// Imports a fused op in place of its pattern (``ONNXFusions``); false when it does not
    /// apply to these operands, so the pattern's nodes import one by one instead.
    private mutating func importFused(_ fused: ONNXFusions.Fused, _ root: Onnx_NodeProto) throws(ONNXError) -> Bool {
        guard root.output.count == 1, !root.output[0].isEmpty else { return false }
        let location = root.name.isEmpty ? root.opType : root.name
        let result: [ONNXValue]
        switch fused {
        case .gelu(let input):
            guard let x = env[input], type(of: x).dtype.isFloatingPoint else { return false }
            result = try call("gelu", [x], ["approximate": .string("none")], location: location)
        case .rmsNorm(let input, let weight, let eps):
            guard let x = env[input], let w = env[weight], let d = type(of: x).shape.last?.staticValue,
                  type(of: x).dtype.isFloatingPoint, type(of: w).staticShape == [d], type(of: w).dtype == type(of: x).dtype
            else { return false }
            result = try call("rms_norm", [x, w], ["normalized_shape": .intList([d]), "eps": .float(eps)], location: location)
        case .layerNorm(let input, let weight, let bias, let eps):
            guard let x = env[input], let w = env[weight], let b = env[bias], let d = type(of: x).shape.last?.staticValue,
                  type(of: x).dtype.isFloatingPoint, type(of: w).staticShape == [d], type(of: b).staticShape == [d],
                  type(of: w).dtype == type(of: x).dtype, type(of: b).dtype == type(of: x).dtype
            else { return false }
            result = try call("layer_norm", [x, w, b], ["normalized_shape": .intList([d]), "eps": .float(eps)], location: location)
        }
        env[root.output[0]] = result[0]
        return true
    }

    func describe(_ node: Onnx_NodeProto) -> String {
        node.name.isEmpty ? "(unnamed) (\(node.opType))" : "'\(node.name)' (\(node.opType))"
    }

    private mutating func importNode(_ node: Onnx_NodeProto) throws(ONNXError) {
        guard let rule = ONNXOps.table[node.opType] else {
            throw ONNXError(.unsupportedOps, "unsupported op type \(node.opType)", node: describe(node))
        }
        let view = ONNXNode(proto: node, import: self)
        let results: [ONNXValue?]
        do {
            results = try rule(&self, view)
        } catch let e as ONNXError {
            var e = e
            if e.node == nil { e.node = describe(node) }
            throw e
        } catch {
            throw ONNXError(.graph, "\(error)", node: describe(node))
        }
        for (i, name) in node.output.enumerated() where !name.isEmpty {
            guard i < results.count, let r = results[i] else {
                throw ONNXError(.unsupportedUse, "output \(i) ('\(name)') is not supported", node: describe(node))
            }
            env[name] = r
            if case .constant(let t) = r { recordName(name, of: t) }
        }
    }

    private mutating func recordName(_ name: String, of t: Tensor) {
        let key = t.withUnsafeRawBytes { Int(bitPattern: $0.baseAddress) }
        if constantNames[key] == nil { constantNames[key] = name }
    }

    // MARK: - Values

    /// The type of a value.
    func type(of v: ONNXValue) -> TensorType {
        switch v {
        case .constant(let t): return TensorType(t.dtype, static: t.shape)
        case .value(let id): return builder.graph.type(of: id)
        }
    }

    /// The graph value for `v`, adding a constant to the graph the first time one is used.
    mutating func materialize(_ v: ONNXValue, name: String? = nil) throws(ONNXError) -> ValueID {
        switch v {
        case .value(let id): return id
        case .constant(let t):
            let key = t.withUnsafeRawBytes { Int(bitPattern: $0.baseAddress) }
            if let hit = materialized[key]?.first(where: { $0.0.shape == t.shape && $0.0.dtype == t.dtype && $0.0 == t }) {
                return hit.1
            }
            do {
                let id = try builder.constant(claim(name ?? constantNames[key] ?? "c"), t)
                materialized[key, default: []].append((t, id))
                return id
            } catch {
                throw ONNXError(.graph, "constant: \(error)")
            }
        }
    }

    /// A fresh valid value name based on an ONNX name.
    mutating func claim(_ onnxName: String) -> String {
        var base = String(onnxName.unicodeScalars.map { c -> Character in
            c.isASCII && (("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == ".")
                ? Character(c) : "_"
        })
        if base.isEmpty { base = "v" }
        if base.first?.isNumber == true { base = "v" + base }
        var name = base
        var n = 1
        while usedNames.contains(name) {
            name = "\(base)_\(n)"
            n += 1
        }
        usedNames.insert(name)
        return name
    }

    /// Applies Kiln op `op`; when every tensor operand is a constant, evaluates it now and
    /// returns constants.
    mutating func call(_ op: String, _ tensors: [ONNXValue?], _ attributes: KeyValuePairs<String, Argument<ValueID>> = [:],
                       location: String) throws(ONNXError) -> [ONNXValue] {
        let allConstant = tensors.allSatisfy { v in
            if case .value? = v { return false }
            return true
        }
        if allConstant, let folded = try fold(op, tensors, attributes) {
            return folded.map(ONNXValue.constant)
        }
        var ids: [ValueID?] = []
        for t in tensors { ids.append(try t.map { v throws(ONNXError) in try materialize(v) }) }
        do {
            return try builder.call(op, ids, attributes, location: location).map(ONNXValue.value)
        } catch {
            throw ONNXError(.graph, "\(op): \(error.message)")
        }
    }

    /// The most elements a result evaluated at import may have; larger results (a huge
    /// ConstantOfShape, say) stay nodes of the graph.
    static let foldLimit = 1 << 24

    /// Evaluates one op on constants (decomposing it first when it is not a core op), or
    /// returns nil when a result would be larger than ``foldLimit``.
    private func fold(_ op: String, _ tensors: [ONNXValue?],
                      _ attributes: KeyValuePairs<String, Argument<ValueID>>) throws(ONNXError) -> [Tensor]? {
        var b = GraphBuilder(name: "fold")
        do {
            var ids: [ValueID?] = []
            for (i, t) in tensors.enumerated() {
                if case .constant(let c)? = t { ids.append(try b.constant("c\(i)", c)) } else { ids.append(nil) }
            }
            let results = try b.call(op, ids, attributes)
            for r in results {
                let shape = b.graph.type(of: r).upperBoundShape
                var count = 1
                for d in shape {
                    let (p, overflow) = count.multipliedReportingOverflow(by: d)
                    guard !overflow, p <= Self.foldLimit else { return nil }
                    count = p
                }
            }
            b.output(results)
            var graph = try b.finish()
            if graph.nodes.contains(where: { $0.op.pte == nil }) {
                try Decompose().run(&graph)
            }
            return try GraphEvaluator(graph).run([]).outputs
        } catch let e as IRError {
            throw ONNXError(.graph, "\(op): \(e.message)")
        } catch {
            throw ONNXError(.graph, "\(op) (evaluated at import): \(error)")
        }
    }
}

extension ONNXImporter {
    /// The ONNX op types (default domain) the importer maps.
    public static var supportedOpTypes: Set<String> { Set(ONNXOps.table.keys) }

    /// The op types a model's graph uses (`domain.Op` outside the default domain), for reports.
    /// - Throws: ``ONNXError`` when the file is not a readable model.
    public static func opTypes(path: String) throws(ONNXError) -> [String] {
        let model: Onnx_ModelProto = try parse(path: path)
        return model.graph.node.map { $0.domain.isEmpty || $0.domain == "ai.onnx" ? $0.opType : "\($0.domain).\($0.opType)" }
    }

    /// The names of a model's graph inputs that are not initializers, in order.
    public static func inputNames(path: String) throws(ONNXError) -> [String] {
        let model: Onnx_ModelProto = try parse(path: path)
        let initialized = Set(model.graph.initializer.map(\.name))
        return model.graph.input.map(\.name).filter { !initialized.contains($0) }
    }
}
