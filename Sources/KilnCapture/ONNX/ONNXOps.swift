import KilnIR
import KilnOps
import KilnTensor

/// The ONNX op types Kiln imports, each a rule that emits Kiln ops for one node.
enum ONNXOps {
    typealias Rule = @Sendable (inout GraphImport, ONNXNode) throws -> [ONNXValue?]

    static let table: [String: Rule] = elementwise.merging(shaping) { a, _ in a }.merging(network) { a, _ in a }

    // MARK: - Elementwise

    static let elementwise: [String: Rule] = [
        "Add": binary("add.Tensor"),
        "Sub": binary("sub.Tensor"),
        "Mul": binary("mul.Tensor"),
        "Div": { g, n in
            let a = try n.input(0)
            let t = g.type(of: a).dtype
            let q = try g.call("div.Tensor", [a, try n.input(1)], location: n.location)
            // ONNX divides integers with truncation; Kiln's div is true division.
            return t.isFloatingPoint ? q : try g.cast(q[0], to: t, n)
        },
        "Pow": { g, n in
            let a = try n.input(0)
            let r = try g.call("pow.Tensor_Tensor", [a, try n.input(1)], location: n.location)
            return try g.cast(r[0], to: g.type(of: a).dtype, n)
        },
        "Sqrt": unary("sqrt"), "Reciprocal": unary("reciprocal"), "Neg": unary("neg"), "Abs": unary("abs"),
        "Exp": unary("exp"), "Log": unary("log"), "Erf": unary("erf"), "Relu": unary("relu"),
        "Sigmoid": unary("sigmoid"), "Tanh": unary("tanh"), "Not": unary("logical_not"),
        "HardSwish": unary("hardswish"),
        "Identity": { _, n in [try n.input(0)] },
        "LeakyRelu": { g, n in
            try g.call("leaky_relu", [try n.input(0)], ["negative_slope": .float(n.float("alpha", 0.01))], location: n.location)
        },
        "HardSigmoid": { g, n in
            // max(0, min(1, alpha * x + beta))
            let x = try g.call("mul.Scalar", [try n.input(0)], ["other": .float(n.float("alpha", 0.2))], location: n.location)
            let y = try g.call("add.Scalar", [x[0]], ["other": .float(n.float("beta", 0.5))], location: n.location)
            return try g.call("clamp", [y[0]], ["min": .float(0), "max": .float(1)], location: n.location)
        },
        "Gelu": { g, n in
            try g.call("gelu", [try n.input(0)], ["approximate": .string(n.string("approximate", "none"))], location: n.location)
        },
        "Clip": { g, n in
            let x = try n.input(0)
            let dtype = g.type(of: x).dtype
            var lo: Double? = nil
            var hi: Double? = nil
            if n.opset < 11 {
                lo = n.float("min", -Double.infinity)
                hi = n.float("max", Double.infinity)
            } else {
                let known = [1, 2].allSatisfy { i in
                    if case .value? = n.optionalInput(i) { return false }
                    return true
                }
                if !known {
                    // Bounds computed in the graph: the tensor form.
                    return try g.call("clamp.Tensor", [x, n.optionalInput(1), n.optionalInput(2)], location: n.location)
                }
                lo = try n.scalar(1, "min")
                hi = try n.scalar(2, "max")
            }
            if lo.map({ !$0.isFinite && $0 < 0 }) ?? true, hi.map({ !$0.isFinite && $0 > 0 }) ?? true { return [x] }
            func bound(_ v: Double?) throws(ONNXError) -> Argument<ValueID> {
                guard let v, v.isFinite || dtype.isFloatingPoint else { return .none }
                return dtype.isFloatingPoint ? .float(v) : .int(try integer(v, "a Clip bound"))
            }
            return try g.call("clamp", [x], ["min": try bound(lo), "max": try bound(hi)], location: n.location)
        },
        "Equal": binary("eq.Tensor"), "Less": binary("lt.Tensor"), "Greater": binary("gt.Tensor"),
        "Where": { g, n in
            try g.call("where.self", [try n.input(0), try n.input(1), try n.input(2)], location: n.location)
        },
        "Cast": { g, n in
            let to = try n.requiredInt("to")
            guard let dtype = ONNXTensor.dtype(Int32(clamping: to)) else {
                throw n.fail(.unsupportedDType, "attribute 'to' is \(ONNXTensor.dtypeName(Int32(clamping: to))), which Kiln does not have")
            }
            return try g.cast(try n.input(0), to: dtype, n)
        },
    ]

    static func unary(_ op: String) -> Rule {
        { g, n in try g.call(op, [try n.input(0)], location: n.location) }
    }

    static func binary(_ op: String) -> Rule {
        { g, n in try g.call(op, [try n.input(0), try n.input(1)], location: n.location) }
    }
}

extension GraphImport {
    /// `v` converted to `dtype` (`_to_copy`), or `v` itself when it already has that dtype.
    mutating func cast(_ v: ONNXValue, to dtype: DType, _ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
        if type(of: v).dtype == dtype { return [v] }
        return try call("_to_copy", [v], ["dtype": .dtype(dtype)], location: n.location)
    }

    /// The static shape of `v`, or an error naming what needed it.
    func staticShape(_ v: ONNXValue, _ what: String) throws(ONNXError) -> [Int] {
        let t = type(of: v)
        guard let s = t.staticShape else {
            throw ONNXError(.unsupportedUse, "\(what) needs a static shape, and the input is \(t)")
        }
        return s
    }

    /// A constant int64 vector.
    static func int64s(_ values: [Int]) -> ONNXValue {
        // A vector of known length cannot fail to build.
        .constant(try! Tensor(values.map { Int64($0) }, shape: [values.count]))
    }
}

/// The product of `dims`, or an error when it overflows.
func product<C: Collection>(_ dims: C) throws(ONNXError) -> Int where C.Element == Int {
    var p = 1
    for d in dims {
        let (r, overflow) = p.multipliedReportingOverflow(by: d)
        guard !overflow else { throw ONNXError(.unsupportedUse, "the dims \(Array(dims)) have too many elements") }
        p = r
    }
    return p
}

/// A Double as an Int, or an error naming `what` when it is not a finite value in range.
func integer(_ v: Double, _ what: String) throws(ONNXError) -> Int {
    guard v.isFinite, let i = Int(exactly: v.rounded(.towardZero)) else {
        throw ONNXError(.invalidAttribute, "\(what) is \(v), not an integer in range")
    }
    return i
}

/// Normalizes a possibly negative axis against `rank`.
func normalizeAxis(_ axis: Int, rank: Int, _ what: String = "axis") throws(ONNXError) -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0, a < rank else {
        throw ONNXError(.invalidAttribute, "\(what) \(axis) is out of range for rank \(rank)")
    }
    return a
}
