import KilnTensor

/// Elementwise math, activations, comparisons, casts and tensor creation.
///
/// Names, parameters and defaults are ATen's. ATen parameters Kiln has no type for (`layout`,
/// `device`, `pin_memory`) are left out: they do not change the values. A `dtype` that ATen's out
/// variant leaves to the out tensor (`full.out`, `arange.start_out`, `_to_copy.out`) is a
/// parameter here, with ``KernelCallForm/outDType``. Non-core ops (`pte: nil`: hardswish,
/// hardsigmoid, zeros, ones, triu) are decomposed before portable emission
/// (`DecomposeRules+Math.swift`).
let mathOps: [OpSchema] = unaryMathOps + activationOps + comparisonOps + selectionOps + castOps + creationOps

// MARK: - Unary math

/// Which inputs a unary op accepts and what dtype it returns.
private enum UnaryTyping {
    /// Any dtype but bool; the result keeps it (abs).
    case numeric
    /// Floating point only (gelu, leaky_relu, hardswish, hardsigmoid).
    case floatOnly
    /// Integers and bool are computed in float32 (exp, log, sqrt, reciprocal, erf, tanh).
    case toFloat

    func result(_ args: OpArguments<TensorType>, _ dtype: DType) throws -> DType {
        switch self {
        case .numeric:
            guard dtype != .bool else { throw args.error("expected a numeric tensor, got bool", argument: "self") }
            return dtype
        case .floatOnly:
            try args.requireFloat(TensorType(dtype, []), argument: "self")
            return dtype
        case .toFloat:
            return dtype.isFloatingPoint ? dtype : .float32
        }
    }
}

/// `name(Tensor self, extra...)`, elementwise, emitted as `aten::name.out` when `core`.
private func unary(_ name: String, _ summary: String, _ typing: UnaryTyping, core: Bool = true,
                   extra: [Parameter] = [], check: @escaping @Sendable (OpArguments<TensorType>) throws -> Void = { _ in }) -> OpSchema {
    OpSchema(name, summary: summary, parameters: [.init("self", .tensor)] + extra,
             pte: core ? PTEOperator("aten::\(name)") : nil) { args in
        let x = args.tensor("self")
        try check(args)
        return [TensorType(try typing.result(args, x.dtype), x.shape)]
    }
}

let unaryMathOps: [OpSchema] = [
    unary("abs", "|x| (integers wrap: abs(min) == min)", .numeric),
    unary("exp", "e^x", .toFloat),
    unary("log", "natural logarithm (NaN below 0, -inf at 0)", .toFloat),
    unary("sqrt", "square root (NaN below 0)", .toFloat),
    unary("reciprocal", "1 / x", .toFloat),
    unary("erf", "the error function", .toFloat),
    unary("tanh", "hyperbolic tangent", .toFloat),
    OpSchema("logical_not", summary: "x == 0, as bool", parameters: [.init("self", .tensor)],
             pte: PTEOperator("aten::logical_not")) { args in
        [TensorType(.bool, args.tensor("self").shape)]
    },
]

// MARK: - Activations and clamps

/// The strings gelu's `approximate` takes.
public let geluApproximations = ["none", "tanh"]

let activationOps: [OpSchema] = [
    unary("gelu", "x * Φ(x): exact (erf) with approximate=\"none\", tanh form with \"tanh\"", .floatOnly,
          extra: [.init("approximate", .string, default: .string("none"))]) { args in
        guard geluApproximations.contains(args.string("approximate")) else {
            throw args.error("expected \"none\" or \"tanh\", got \"\(args.string("approximate"))\"", argument: "approximate")
        }
    },
    unary("hardswish", "x * clamp(x + 3, 0, 6) / 6", .floatOnly, core: false),
    unary("hardsigmoid", "clamp(x + 3, 0, 6) / 6", .floatOnly, core: false),
    unary("leaky_relu", "x > 0 ? x : x * negative_slope", .floatOnly,
          extra: [.init("negative_slope", .scalar, default: .float(0.01))]),
    OpSchema("clamp", summary: "min(max(x, min), max) with scalar bounds (either may be none)",
             parameters: [.init("self", .tensor), .init("min", .optional(.scalar)), .init("max", .optional(.scalar))],
             pte: PTEOperator("aten::clamp")) { args in
        let x = args.tensor("self")
        guard x.dtype != .bool else { throw args.error("expected a numeric tensor, got bool", argument: "self") }
        let bounds = [args["min"], args["max"]]
        guard bounds.contains(where: { $0 != .none }) else {
            throw args.error("at least one of min and max must be given")
        }
        // An integer tensor with a float bound computes in float32, as ATen's type promotion does.
        let floatBound = bounds.contains { if case .float = $0 { true } else { false } }
        let dtype = !x.dtype.isFloatingPoint && floatBound ? .float32 : x.dtype
        for name in ["min", "max"] { try requireFits(args, name, dtype) }
        return [TensorType(dtype, x.shape)]
    },
    OpSchema("clamp.Tensor", summary: "min(max(x, min), max) with tensor bounds, broadcast and promoted",
             parameters: [.init("self", .tensor), .init("min", .optional(.tensor)), .init("max", .optional(.tensor))],
             pte: PTEOperator("aten::clamp", "Tensor_out")) { args in
        var type = args.tensor("self")
        let bounds = [args.optionalTensor("min"), args.optionalTensor("max")].compactMap { $0 }
        guard !bounds.isEmpty else { throw args.error("at least one of min and max must be given") }
        for b in bounds {
            type = TensorType(promoteTypes(type.dtype, b.dtype), try args.broadcast(type.shape, b.shape))
        }
        guard type.dtype != .bool else { throw args.error("expected a numeric tensor, got bool", argument: "self") }
        return [type]
    },
    OpSchema("hardtanh", summary: "clamp(x, min_val, max_val) in x's dtype (ReLU6 is hardtanh(x, 0, 6))",
             parameters: [.init("self", .tensor), .init("min_val", .scalar, default: .int(-1)),
                          .init("max_val", .scalar, default: .int(1))],
             pte: PTEOperator("aten::hardtanh")) { args in
        let x = args.tensor("self")
        guard x.dtype != .bool else { throw args.error("expected a numeric tensor, got bool", argument: "self") }
        if !x.dtype.isFloatingPoint {
            for name in ["min_val", "max_val"] where !args.scalar(name).isInteger {
                throw args.error("a float bound needs a floating-point tensor, got \(x.dtype)", argument: name)
            }
        }
        for name in ["min_val", "max_val"] { try requireFits(args, name, x.dtype) }
        return [x]
    },
]

/// Checks that scalar argument `name` (when given) converts to `dtype` as ATen's
/// `Scalar::to<T>()` requires: an integer dtype holds the value (a float truncated toward zero),
/// and a finite value stays finite in a floating-point dtype. Bool takes any value (`!= 0`).
private func requireFits<T>(_ args: OpArguments<T>, _ name: String, _ dtype: DType) throws {
    let value: Double
    switch args[name] {
    case .int(let v):
        if let range = dtype.integerRange, dtype != .bool, !range.contains(Int64(v)) {
            throw args.error("\(v) does not fit \(dtype)", argument: name)
        }
        value = Double(v)
    case .float(let v):
        if let range = dtype.integerRange, dtype != .bool {
            guard let t = Int64(exactly: v.rounded(.towardZero)), range.contains(t) else {
                throw args.error("\(v) does not fit \(dtype)", argument: name)
            }
        }
        value = v
    default:
        return
    }
    // The value as the kernels round it (through float32).
    let rounded: Float
    switch dtype {
    case .float32: rounded = Float(value)
    case .float16: rounded = Float(Float16(Float(value)))
    case .bfloat16: rounded = BFloat16(Float(value)).floatValue
    default: return
    }
    guard rounded.isFinite || !value.isFinite else {
        throw args.error("\(value) overflows \(dtype)", argument: name)
    }
}

// MARK: - Comparisons

/// `op.Tensor` and `op.Scalar` for each comparison: bool results, compared in the promoted dtype.
let comparisonOps: [OpSchema] = [
    ("eq", "=="), ("ne", "!="), ("lt", "<"), ("gt", ">"), ("le", "<="), ("ge", ">="),
].flatMap { base, symbol in
    [
        OpSchema("\(base).Tensor", summary: "self \(symbol) other, broadcast, compared in the promoted dtype",
                 parameters: [.init("self", .tensor), .init("other", .tensor)],
                 pte: PTEOperator("aten::\(base)", "Tensor_out")) { args in
            let a = args.tensor("self"), b = args.tensor("other")
            return [TensorType(.bool, try args.broadcast(a.shape, b.shape))]
        },
        OpSchema("\(base).Scalar", summary: "self \(symbol) other for a scalar other, compared in the promoted dtype",
                 parameters: [.init("self", .tensor), .init("other", .scalar)],
                 pte: PTEOperator("aten::\(base)", "Scalar_out")) { args in
            [TensorType(.bool, args.tensor("self").shape)]
        },
    ]
}

/// The dtype `op.Scalar(self, other)` compares in: an integer or bool tensor with a float scalar
/// compares in float32, a bool tensor with an int scalar in int64, otherwise the tensor's dtype.
public func comparisonDType(_ tensor: DType, scalarIsInteger: Bool) -> DType {
    if tensor.isFloatingPoint { return tensor }
    if !scalarIsInteger { return .float32 }
    return tensor == .bool ? .int64 : tensor
}

// MARK: - Selection

let selectionOps: [OpSchema] = [
    OpSchema("where.self", summary: "condition ? self : other, the three broadcast, values in the promoted dtype",
             parameters: [.init("condition", .tensor), .init("self", .tensor), .init("other", .tensor)],
             pte: PTEOperator("aten::where", "self_out")) { args in
        let c = args.tensor("condition"), a = args.tensor("self"), b = args.tensor("other")
        guard c.dtype == .bool else {
            throw args.error("expected a bool condition, got \(c.dtype)", argument: "condition")
        }
        let shape = try args.broadcast(try args.broadcast(c.shape, a.shape), b.shape)
        return [TensorType(promoteTypes(a.dtype, b.dtype), shape)]
    },
]

// MARK: - Casts

let castOps: [OpSchema] = [
    OpSchema("_to_copy", summary: "a copy converted to dtype (floats to integers truncate toward zero, to bool is != 0)",
             parameters: [.init("self", .tensor), .init("dtype", .optional(.dtype), form: .outDType),
                          .init("non_blocking", .bool, default: .bool(false)),
                          .init("memory_format", .optional(.int))],
             pte: PTEOperator("aten::_to_copy")) { args in
        let x = args.tensor("self")
        guard !args.bool("non_blocking") else {
            throw args.error("only blocking copies are supported (ExecuTorch's kernel takes false)", argument: "non_blocking")
        }
        // torch.memory_format as ExecuTorch writes it: 0 is contiguous_format.
        if let format = args.optionalInt("memory_format"), format != 0 {
            throw args.error("expected none or 0 (torch.contiguous_format: Kiln's tensors are dense), got \(format)",
                             argument: "memory_format")
        }
        return [TensorType(args.optionalDType("dtype") ?? x.dtype, x.shape)]
    },
]

// MARK: - Creation

/// The shape a creation op's `size` gives: non-negative sizes.
private func creationShape(_ args: OpArguments<TensorType>) throws -> [Dim] {
    let size = args.intList("size")
    guard size.allSatisfy({ $0 >= 0 }) else {
        throw args.error("expected non-negative sizes, got \(size)", argument: "size")
    }
    return size.map { Dim($0) }
}

/// `zeros` or `ones`: a tensor of `size` filled with one value (float32 unless `dtype`).
private func constantFill(_ name: String, _ value: Int) -> OpSchema {
    OpSchema(name, summary: "a tensor of size filled with \(value) (float32 unless dtype says)",
             parameters: [.init("size", .intList), .init("dtype", .optional(.dtype))], pte: nil) { args in
        [TensorType(args.optionalDType("dtype") ?? .float32, try creationShape(args))]
    }
}

let creationOps: [OpSchema] = [
    OpSchema("full", summary: "a tensor of size filled with fill_value (dtype from the value unless given)",
             parameters: [.init("size", .intList), .init("fill_value", .scalar),
                          .init("dtype", .optional(.dtype), form: .outDType)],
             pte: PTEOperator("aten::full")) { args in
        let inferred: DType = args.scalar("fill_value").isInteger ? .int64 : .float32
        let dtype = args.optionalDType("dtype") ?? inferred
        try requireFits(args, "fill_value", dtype)
        return [TensorType(dtype, try creationShape(args))]
    },
    constantFill("zeros", 0),
    constantFill("ones", 1),
    OpSchema("arange.start_step", summary: "start, start + step, ... up to end (excluded)",
             parameters: [.init("start", .scalar), .init("end", .scalar), .init("step", .scalar, default: .int(1)),
                          .init("dtype", .optional(.dtype), form: .outDType)],
             pte: PTEOperator("aten::arange", "start_out")) { args in
        let range = try ArangeRange(args)
        return [TensorType(range.dtype, static: [range.count])]
    },
    OpSchema("tril", summary: "the lower triangle of the last two dims: x[..., i, j] where j - i <= diagonal, else 0",
             parameters: [.init("self", .tensor), .init("diagonal", .int, default: .int(0))],
             pte: PTEOperator("aten::tril")) { args in
        let x = args.tensor("self")
        try args.requireRank(x, 2...Int.max, argument: "self")
        return [x]
    },
    OpSchema("triu", summary: "the upper triangle of the last two dims: x[..., i, j] where j - i >= diagonal, else 0",
             parameters: [.init("self", .tensor), .init("diagonal", .int, default: .int(0))], pte: nil) { args in
        let x = args.tensor("self")
        try args.requireRank(x, 2...Int.max, argument: "self")
        return [x]
    },
]

/// `arange.start_step`'s arguments as ATen reads them: the result dtype (int64 when start, end
/// and step are all ints, else float32, unless `dtype` is given) and the element count.
///
/// int64 results count exactly in integers (`(end - start + step - sign(step)) / step`); other
/// dtypes count `ceil((end - start) / step)` in double, as ATen does.
public struct ArangeRange: Sendable {
    public let dtype: DType
    public let count: Int
    /// The bounds and step as written (ints exactly up to 2^53).
    public let start: Double, end: Double, step: Double

    public init<T>(_ args: OpArguments<T>) throws {
        func exact(_ name: String) -> Int64? {
            if case .int(let v) = args[name] { return Int64(v) }
            return nil
        }
        let names = ["start", "end", "step"]
        let allInts = names.allSatisfy { exact($0) != nil }
        dtype = args.optionalDType("dtype") ?? (allInts ? .int64 : .float32)
        guard dtype != .bool else { throw args.error("expected a numeric dtype, got bool", argument: "dtype") }
        start = args.float("start")
        end = args.float("end")
        step = args.float("step")
        for (name, v) in zip(names, [start, end, step]) where !v.isFinite {
            throw args.error("expected a finite value, got \(v)", argument: name)
        }
        // Integer results read the bounds truncated to integers, as ATen does.
        func truncated(_ name: String, _ v: Double) throws -> Int64 {
            if let e = exact(name) { return e }
            guard let t = Int64(exactly: v.rounded(.towardZero)) else {
                throw args.error("\(v) does not fit a 64-bit integer", argument: name)
            }
            return t
        }
        func checkDirection<N: Comparable & SignedNumeric>(_ s: N, _ e: N, _ d: N) throws {
            guard d != 0 else { throw args.error("step must be nonzero", argument: "step") }
            guard (d > 0 && e >= s) || (d < 0 && e <= s) else {
                throw args.error("end \(e) is not reached from start \(s) by step \(d)", argument: "end")
            }
        }
        if dtype.isInteger {
            let (s, e, d) = (try truncated("start", start), try truncated("end", end), try truncated("step", step))
            try checkDirection(s, e, d)
            if dtype == .int64 {
                let sign: Int64 = d > 0 ? 1 : -1
                let (span, o1) = e.subtractingReportingOverflow(s)
                let (padded, o2) = span.addingReportingOverflow(d - sign)
                guard !o1, !o2 else { throw args.error("the range \(s)..<\(e) overflows 64 bits", argument: "end") }
                count = Int(padded / d)
                return
            }
        } else {
            try checkDirection(start, end, step)
        }
        let size = ((end - start) / step).rounded(.up)
        guard size >= 0, size < 0x1p62 else { throw args.error("the range has \(size) elements, too many", argument: "end") }
        count = Int(size)
    }
}
