import KilnIR
import KilnOps
import KilnTensor

/// Recognizes exporters' decomposed forms of ops Kiln keeps whole, so they import as one op:
///
/// - GELU, erf form: `Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)` (either operand order) → `gelu`
/// - LayerNorm (exports before opset 17): `Add(Mul(Div(d, Sqrt(Add(ReduceMean(Pow(d, 2)), eps))), w), b)`
///   with `d = Sub(x, ReduceMean(x))`, both means over the last axis → `layer_norm`
/// - RMSNorm: `Mul(Mul(x, Div(1, Sqrt(Add(ReduceMean(Pow(x, 2), axes=[-1]), eps)))), w)` (or
///   `Reciprocal` for the `Div(1, ·)`) → `rms_norm`
///
/// A pattern matches only when every intermediate value has that one consumer and is not a
/// graph output, so nothing else can observe the difference.
struct ONNXFusions {
    /// A fused op: it replaces node `root` (the pattern's last node), reading `input`.
    enum Fused {
        case gelu(input: String)
        case rmsNorm(input: String, weight: String, eps: Double)
        case layerNorm(input: String, weight: String, bias: String, eps: Double)
    }

    /// The fused ops by the index of the node they replace.
    private(set) var replacing: [Int: Fused] = [:]
    /// The nodes each fused op absorbs, by node index: the root they belong to. The import
    /// defers them, and imports them after all if the fused op does not apply (its weight
    /// turns out not to fit, say).
    private(set) var absorbedBy: [Int: Int] = [:]


    private let nodes: [Onnx_NodeProto]
    private var producer: [String: Int] = [:]
    private var consumers: [String: Int] = [:]
    private let outputs: Set<String>
    private let constants: [String: Double]

    init(_ graph: Onnx_GraphProto) {
        nodes = graph.node
        outputs = Set(graph.output.map(\.name))
        var constants: [String: Double] = [:]
        for t in graph.initializer { if let v = Self.scalar(t) { constants[t.name] = v } }
        for (i, n) in graph.node.enumerated() {
            for o in n.output where !o.isEmpty { producer[o] = i }
            for input in n.input where !input.isEmpty { consumers[input, default: 0] += 1 }
            if n.opType == "Constant", n.output.count == 1,
               let a = n.attribute.first(where: { $0.name == "value" }), a.hasT, let v = Self.scalar(a.t) {
                constants[n.output[0]] = v
            }
        }
        self.constants = constants
        for i in nodes.indices where nodes[i].opType == "Add" && absorbedBy[i] == nil {
            if let (input, weight, bias, eps, used) = layerNorm(at: i) {
                replacing[i] = .layerNorm(input: input, weight: weight, bias: bias, eps: eps)
                for u in used { absorbedBy[u] = i }
            }
        }
        for i in nodes.indices where nodes[i].opType == "Mul" && absorbedBy[i] == nil {
            if let (input, used) = gelu(at: i) {
                replacing[i] = .gelu(input: input)
                for u in used { absorbedBy[u] = i }
            } else if let (input, weight, eps, used) = rmsNorm(at: i) {
                replacing[i] = .rmsNorm(input: input, weight: weight, eps: eps)
                for u in used { absorbedBy[u] = i }
            }
        }
    }

    /// A one-element float or double tensor's value.
    private static func scalar(_ t: Onnx_TensorProto) -> Double? {
        guard t.dims.reduce(1, *) == 1, t.dataLocation != .external else { return nil }
        if t.dataType == 1 {
            if t.floatData.count == 1 { return Double(t.floatData[0]) }
            if t.rawData.count == 4 { return Double(Float(bitPattern: t.rawData.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })) }
        }
        return nil
    }

    /// The node producing `name` when its op is `op` and `name` is used once and not an output.
    private func inner(_ name: String, _ op: String) -> Int? {
        guard let p = producer[name], nodes[p].opType == op, consumers[name] == 1, !outputs.contains(name),
              absorbedBy[p] == nil else { return nil }
        return p
    }

    private func isConstant(_ name: String, _ value: Double, tolerance: Double = 1e-6) -> Bool {
        constants[name].map { abs($0 - value) <= tolerance * max(1, abs(value)) } ?? false
    }

    /// The two inputs of binary node `i`, with the one `test` accepts first (either order).
    private func operands(_ i: Int, _ test: (String) -> Bool) -> (String, String)? {
        let ins = nodes[i].input
        guard ins.count == 2 else { return nil }
        if test(ins[0]) { return (ins[0], ins[1]) }
        if test(ins[1]) { return (ins[1], ins[0]) }
        return nil
    }

    private func gelu(at root: Int) -> (String, Set<Int>)? {
        // root = Mul(half, 0.5); half = Mul(x, Add(Erf(Div(x, √2)), 1))
        guard let (_, halfName) = operands(root, { isConstant($0, 0.5) }), let half = inner(halfName, "Mul") else { return nil }
        for (x, addName) in [(nodes[half].input[0], nodes[half].input[1]), (nodes[half].input[1], nodes[half].input[0])] {
            guard let add = inner(addName, "Add"), let (_, erfName) = operands(add, { isConstant($0, 1) }),
                  let erf = inner(erfName, "Erf"), let div = inner(nodes[erf].input[0], "Div"),
                  nodes[div].input.count == 2, nodes[div].input[0] == x, isConstant(nodes[div].input[1], 2.0.squareRoot(), tolerance: 1e-4)
            else { continue }
            return (x, [half, add, erf, div])
        }
        return nil
    }

    private func rmsNorm(at root: Int) -> (String, String, Double, Set<Int>)? {
        // root = Mul(scaled, w); scaled = Mul(x, inv); inv = Div(1, Sqrt(Add(ReduceMean(Pow(x, 2)), eps)))
        for (scaledName, weight) in [(nodes[root].input[0], nodes[root].input[1]), (nodes[root].input[1], nodes[root].input[0])] {
            guard let scaled = inner(scaledName, "Mul") else { continue }
            for (x, invName) in [(nodes[scaled].input[0], nodes[scaled].input[1]), (nodes[scaled].input[1], nodes[scaled].input[0])] {
                var used: Set<Int> = [scaled]
                let sqrtName: String
                if let inv = inner(invName, "Div"), nodes[inv].input.count == 2, isConstant(nodes[inv].input[0], 1) {
                    sqrtName = nodes[inv].input[1]
                    used.insert(inv)
                } else if let inv = inner(invName, "Reciprocal") {
                    sqrtName = nodes[inv].input[0]
                    used.insert(inv)
                } else {
                    continue
                }
                guard let sqrt = inner(sqrtName, "Sqrt"), let add = inner(nodes[sqrt].input[0], "Add"),
                      let (epsName, meanName) = operands(add, { constants[$0] != nil }), let eps = constants[epsName],
                      let mean = inner(meanName, "ReduceMean"), lastAxisOnly(mean),
                      let pow = inner(nodes[mean].input[0], "Pow"), nodes[pow].input.count == 2, nodes[pow].input[0] == x,
                      isConstant(nodes[pow].input[1], 2) else { continue }
                used.formUnion([sqrt, add, mean, pow])
                return (x, weight, eps, used)
            }
        }
        return nil
    }

    private func layerNorm(at root: Int) -> (String, String, String, Double, Set<Int>)? {
        guard nodes[root].input.count == 2 else { return nil }
        for (scaledName, bias) in [(nodes[root].input[0], nodes[root].input[1]), (nodes[root].input[1], nodes[root].input[0])] {
            guard let scaled = inner(scaledName, "Mul"), nodes[scaled].input.count == 2 else { continue }
            for (normName, weight) in [(nodes[scaled].input[0], nodes[scaled].input[1]), (nodes[scaled].input[1], nodes[scaled].input[0])] {
                guard let div = inner(normName, "Div"), nodes[div].input.count == 2,
                      let sqrt = inner(nodes[div].input[1], "Sqrt"), let add = inner(nodes[sqrt].input[0], "Add"),
                      let (epsName, varName) = operands(add, { constants[$0] != nil }), let eps = constants[epsName],
                      let variance = inner(varName, "ReduceMean"), lastAxisOnly(variance),
                      let pow = inner(nodes[variance].input[0], "Pow"), nodes[pow].input.count == 2, isConstant(nodes[pow].input[1], 2)
                else { continue }
                // d = Sub(x, mean) feeds both the Pow and the Div, and nothing else.
                let dName = nodes[div].input[0]
                guard nodes[pow].input[0] == dName, let d = producer[dName], nodes[d].opType == "Sub", consumers[dName] == 2,
                      !outputs.contains(dName), absorbedBy[d] == nil, nodes[d].input.count == 2,
                      let mean = inner(nodes[d].input[1], "ReduceMean"), lastAxisOnly(mean),
                      nodes[mean].input.first == nodes[d].input[0] else { continue }
                return (nodes[d].input[0], weight, bias, eps, [scaled, div, sqrt, add, variance, pow, d, mean])
            }
        }
        return nil
    }

    /// ReduceMean over the last axis only, keeping dims (axes as attribute or Constant input).
    private func lastAxisOnly(_ i: Int) -> Bool {
        let n = nodes[i]
        if let k = n.attribute.first(where: { $0.name == "keepdims" }), k.i == 0 { return false }
        if let a = n.attribute.first(where: { $0.name == "axes" }) { return a.ints == [-1] }
        guard n.input.count == 2, let p = producer[n.input[1]], nodes[p].opType == "Constant",
              let v = nodes[p].attribute.first(where: { $0.name == "value" }), v.hasT, v.t.dataType == 7 else { return false }
        if v.t.int64Data == [-1] { return true }
        return v.t.rawData.count == 8 && v.t.rawData.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) } == -1
    }
}
