import KilnIR
import KilnOps
import KilnTensor
import NPURuntime

/// One partition's lowering: walks the graph in order, absorbing each `dq → op → q` pattern
/// into one NPU op, turning lone quantize / dequantize nodes into the program's float edges,
/// converting 4-D activations to NHWC where an op needs it, and placing tensors.
struct NPULowering {
    /// How a lowered tensor's bytes are ordered.
    enum Layout { case contiguous, nhwc }

    /// A graph value held by an NPU tensor.
    struct Lowered {
        var tensor: Int
        var layout: Layout
    }

    /// Per-tensor quantization parameters of an activation.
    struct QParams: Equatable {
        var scale: Double
        var zeroPoint: Int
        var qmin: Int
        var qmax: Int
        var dtype: NPUDType
    }

    /// A dequantize result: the integer value it reads and its parameters.
    struct Dequantized {
        var source: ValueID
        var q: QParams
    }

    let graph: Graph
    let sramBytes: Int
    var tensors: [NPUTensor] = []
    var ops: [NPUOp] = []
    var constantData: [UInt8] = []
    var lowered: [ValueID: Lowered] = [:]
    var dequantized: [ValueID: Dequantized] = [:]
    /// NHWC ↔ contiguous conversions made so far, by source tensor.
    var converted: [Int: Int] = [:]
    var users: [ValueID: [Int]] = [:]

    init(graph: Graph, sramBytes: Int) {
        self.graph = graph
        self.sramBytes = sramBytes
        for (i, node) in graph.nodes.enumerated() {
            for v in Set(node.operands) { users[v, default: []].append(i) }
        }
    }

    mutating func lower() throws(NPUCompileError) -> NPUProgram {
        for (i, v) in graph.inputs.enumerated() {
            let type = graph.type(of: v)
            let dtype = try npuType(type.dtype, "input \(i) (%\(graph[v].name))")
            let shape = try staticShape(v, "input \(i)")
            tensors.append(NPUTensor(dtype: dtype, shape: shape, role: .input, index: i))
            lowered[v] = Lowered(tensor: tensors.count - 1, layout: .contiguous)
        }
        for node in graph.nodes {
            try lower(node)
        }
        try placeOutputs()
        var arena = 0
        for i in tensors.indices where tensors[i].role == .scratch {
            tensors[i].offset = arena
            arena += (tensors[i].byteCount + 63) / 64 * 64
        }
        let program = NPUProgram(sramBytes: sramBytes, arenaBytes: arena, tensors: tensors, ops: ops, constantData: constantData)
        do { try program.verify() } catch { throw NPUCompileError("internal: the lowered program does not verify: \(error)") }
        return program
    }

    // MARK: - Nodes

    static func isQuantize(_ name: String) -> Bool { QuantizationOps.quantize.contains(name) }
    static func isDequantize(_ name: String) -> Bool { QuantizationOps.dequantize.contains(name) }

    private mutating func lower(_ node: Node) throws(NPUCompileError) {
        let name = node.op.name
        if Self.isDequantize(name) {
            let source = node.operands[0]
            if isConstant(source) { return }     // a weight: its consumer reads it
            guard name.hasPrefix("quantized_decomposed.dequantize_per_tensor") else {
                throw fail(node, "activations must be quantized per tensor")
            }
            dequantized[node.results[0]] = Dequantized(source: source, q: try qparams(node))
            return
        }
        if Self.isQuantize(name) {
            let input = node.operands[0]
            if lowered[node.results[0]] != nil { return }       // written by the op it follows
            guard name.hasPrefix("quantized_decomposed.quantize_per_tensor") else {
                throw fail(node, "activations must be quantized per tensor")
            }
            if isConstant(input) { return }                     // a weight quantized ahead of time
            let q = try qparams(node)
            if let dq = dequantized[input] {                     // dq → q: requantize
                let source = try value(dq.source, node)
                let out = newTensor(q.dtype, tensors[source.tensor].shape)
                try requantize(from: source.tensor, dq.q, to: out, q, node: node)
                lowered[node.results[0]] = Lowered(tensor: out, layout: source.layout)
                return
            }
            let source = try value(input, node)
            guard tensors[source.tensor].dtype == .float32 else { throw fail(node, "quantizes a \(tensors[source.tensor].dtype) value") }
            let out = newTensor(q.dtype, tensors[source.tensor].shape)
            try edge(.quantize, from: source.tensor, to: out, q, node: node)
            lowered[node.results[0]] = Lowered(tensor: out, layout: source.layout)
            return
        }
        try lowerCompute(node)
    }

    /// The quantize nodes reading `node`'s result, which must be its only users, and their
    /// (equal) parameters.
    func outputQParams(_ node: Node) throws(NPUCompileError) -> QParams {
        let result = node.results[0]
        let readers = users[result] ?? []
        guard !readers.isEmpty, !graph.outputs.contains(result) else {
            throw fail(node, "its result is not quantized (every use must be a quantize_per_tensor)")
        }
        var found: QParams?
        for r in readers {
            let user = graph.nodes[r]
            guard user.op.name.hasPrefix("quantized_decomposed.quantize_per_tensor") else {
                throw fail(node, "its result is read by \(user.op.name), not only by quantize_per_tensor")
            }
            let q = try qparams(user)
            if let f = found, f != q { throw fail(node, "its result is quantized twice with different parameters") }
            found = q
        }
        return found!
    }

    /// Records `tensor` as the value of every quantize node after `node`.
    mutating func define(_ node: Node, _ tensor: Int, _ layout: Layout) {
        for r in users[node.results[0]] ?? [] {
            lowered[graph.nodes[r].results[0]] = Lowered(tensor: tensor, layout: layout)
        }
    }

    /// An activation operand of a compute node: the dequantized integer tensor and its parameters.
    func activation(_ node: Node, _ parameter: String) throws(NPUCompileError) -> (Lowered, QParams, [Int]) {
        guard let id = tensorArgument(node, parameter) else { throw fail(node, "has no \(parameter)") }
        guard let dq = dequantized[id] else {
            throw fail(node, "\(parameter) %\(graph[id].name) is not a dequantize_per_tensor of an int8/int16 activation")
        }
        let l = try value(dq.source, node)
        return (l, dq.q, try staticShape(id, parameter))
    }

    func value(_ id: ValueID, _ node: Node) throws(NPUCompileError) -> Lowered {
        guard let l = lowered[id] else { throw fail(node, "reads %\(graph[id].name), which the NPU does not hold") }
        return l
    }

    func isConstant(_ id: ValueID) -> Bool {
        if graph[id].constantData != nil { return true }
        if let producer = graph.definingNode(of: id), Self.isQuantize(producer.op.name) || Self.isDequantize(producer.op.name) {
            return isConstant(producer.operands[0])
        }
        return false
    }

    // MARK: - Outputs

    private mutating func placeOutputs() throws(NPUCompileError) {
        var taken = Set<Int>()
        for (k, v) in graph.outputs.enumerated() {
            var tensor: Int
            if let l = lowered[v] {
                tensor = try contiguous(l, nil)
            } else if let dq = dequantized[v] {
                guard let l = lowered[dq.source] else { throw NPUCompileError("output \(k) (%\(graph[v].name)) is not computed on the NPU") }
                let source = try contiguous(l, nil)
                tensor = newTensor(.float32, tensors[source].shape)
                try edge(.dequantize, from: source, to: tensor, dq.q, node: nil)
            } else {
                throw NPUCompileError("output \(k) (%\(graph[v].name)) is not computed on the NPU")
            }
            if tensors[tensor].role != .scratch || taken.contains(tensor) {
                let copy = newTensor(tensors[tensor].dtype, tensors[tensor].shape)
                try copyOp(from: tensor, to: copy, name: "output \(k)")
                tensor = copy
            }
            taken.insert(tensor)
            tensors[tensor].role = .output
            tensors[tensor].index = k
            let expected = try staticShape(v, "output \(k)")
            guard tensors[tensor].shape.reduce(1, *) == expected.reduce(1, *) else {
                throw NPUCompileError("internal: output \(k) has \(tensors[tensor].shape), expected \(expected)")
            }
            tensors[tensor].shape = expected
        }
    }

    // MARK: - Layouts

    /// The tensor holding `l` in NHWC order (inserting a transpose from NCHW when needed).
    mutating func nhwc(_ l: Lowered, _ node: Node?) throws(NPUCompileError) -> Int {
        guard l.layout == .contiguous else { return l.tensor }
        if let done = converted[l.tensor] { return done }
        let s = tensors[l.tensor].shape
        guard s.count == 4 else { throw failOrInternal(node, "expected a 4-D activation, got shape \(s)") }
        let out = newTensor(tensors[l.tensor].dtype, [s[0], s[2], s[3], s[1]])
        try transposeOp(from: l.tensor, dims: s, perm: [0, 2, 3, 1], to: out, name: "to NHWC")
        converted[l.tensor] = out
        converted[out] = l.tensor
        return out
    }

    /// The tensor holding `l` in row-major (NCHW) order (inserting a transpose from NHWC when needed).
    mutating func contiguous(_ l: Lowered, _ node: Node?) throws(NPUCompileError) -> Int {
        guard l.layout == .nhwc else { return l.tensor }
        if let done = converted[l.tensor] { return done }
        let s = tensors[l.tensor].shape
        let out = newTensor(tensors[l.tensor].dtype, [s[0], s[3], s[1], s[2]])
        try transposeOp(from: l.tensor, dims: s, perm: [0, 3, 1, 2], to: out, name: "to NCHW")
        converted[l.tensor] = out
        converted[out] = l.tensor
        return out
    }

    // MARK: - Helpers

    mutating func newTensor(_ dtype: NPUDType, _ shape: [Int]) -> Int {
        tensors.append(NPUTensor(dtype: dtype, shape: shape, role: .scratch))
        return tensors.count - 1
    }

    /// A constant tensor holding `bytes`, 64-byte aligned in the constant data.
    mutating func constant(_ dtype: NPUDType, _ shape: [Int], _ bytes: [UInt8]) -> Int {
        let offset = (constantData.count + 63) / 64 * 64
        constantData += [UInt8](repeating: 0, count: offset - constantData.count) + bytes
        tensors.append(NPUTensor(dtype: dtype, shape: shape, role: .constant, offset: offset))
        return tensors.count - 1
    }

    func fail(_ node: Node, _ why: String) -> NPUCompileError {
        NPUCompileError("cannot lower \(graph.describe(node)): \(why)")
    }

    func failOrInternal(_ node: Node?, _ why: String) -> NPUCompileError {
        node.map { fail($0, why) } ?? NPUCompileError("internal: \(why)")
    }

    func opName(_ node: Node) -> String {
        "\(node.op.name) #\(node.debugHandle)" + (node.location.map { " \($0.text)" } ?? "")
    }

    func npuType(_ dtype: DType, _ what: String) throws(NPUCompileError) -> NPUDType {
        switch dtype {
        case .float32: return .float32
        case .int8: return .int8
        case .int16: return .int16
        default: throw NPUCompileError("\(what) is \(dtype); the NPU takes float32 at its edges and int8/int16 activations")
        }
    }

    func staticShape(_ id: ValueID, _ what: String) throws(NPUCompileError) -> [Int] {
        guard let s = graph.type(of: id).staticShape else {
            throw NPUCompileError("\(what) (%\(graph[id].name)) has a dynamic shape; the NPU needs static shapes")
        }
        return s
    }

    /// `node`'s arguments checked against its op.
    func validated(_ node: Node) throws(NPUCompileError) -> OpArguments<ValueID> {
        do { return try OpArguments.validated(node.op, node.arguments) } catch {
            throw fail(node, "arguments do not match \(node.op.name): \(error)")
        }
    }

    func argument(_ node: Node, _ name: String) -> Argument<ValueID> {
        guard let i = node.op.parameterIndex(name), i < node.arguments.count else { return .none }
        return node.arguments[i]
    }

    func tensorArgument(_ node: Node, _ name: String) -> ValueID? {
        if case .tensor(let id) = argument(node, name) { return id }
        return nil
    }

    func int(_ node: Node, _ name: String) -> Int? {
        if case .int(let v) = argument(node, name) { return v }
        return nil
    }

    func ints(_ node: Node, _ name: String) -> [Int]? {
        if case .intList(let v) = argument(node, name) { return v }
        return nil
    }

    func number(_ node: Node, _ name: String) -> Double? {
        switch argument(node, name) {
        case .int(let v): return Double(v)
        case .float(let v): return v
        case .bool(let v): return v ? 1 : 0
        default: return nil
        }
    }

    /// Scale, zero point and range of a per-tensor quantize or dequantize node.
    func qparams(_ node: Node) throws(NPUCompileError) -> QParams {
        let scale: Double, zp: Int
        switch argument(node, "scale") {
        case .float(let s): scale = s
        case .tensor(let id):
            guard let t = graph[id].constantData, t.elementCount == 1 else { throw fail(node, "scale is not a constant") }
            scale = Double(t.floatValues()[0])
        default: throw fail(node, "has no scale")
        }
        switch argument(node, "zero_point") {
        case .int(let z): zp = z
        case .tensor(let id):
            guard let t = graph[id].constantData, t.elementCount == 1 else { throw fail(node, "zero point is not a constant") }
            zp = try integer(t.floatValues()[0], node, "zero point")
        default: throw fail(node, "has no zero point")
        }
        guard case .dtype(let dt) = argument(node, "dtype"), let qmin = int(node, "quant_min"), let qmax = int(node, "quant_max") else {
            throw fail(node, "has no dtype or range")
        }
        guard dt == .int8 || dt == .int16 else { throw fail(node, "quantizes to \(dt); the NPU takes int8 and int16 activations") }
        guard scale > 0, scale.isFinite else { throw fail(node, "scale \(scale) is not positive and finite") }
        let limit = dt == .int8 ? -128...127 : -32768...32767
        guard limit.contains(qmin), limit.contains(qmax), qmin <= qmax, (qmin...qmax).contains(zp) else {
            throw fail(node, "zero point \(zp) and range \(qmin)...\(qmax) do not fit \(dt)")
        }
        return QParams(scale: scale, zeroPoint: zp, qmin: qmin, qmax: qmax, dtype: dt == .int8 ? .int8 : .int16)
    }

    /// A zero point read from a float constant: an integer, or an error naming `node`.
    func integer(_ v: Float, _ node: Node, _ what: String) throws(NPUCompileError) -> Int {
        guard let i = Int(exactly: v) else { throw fail(node, "\(what) \(v) is not an integer") }
        return i
    }
}
