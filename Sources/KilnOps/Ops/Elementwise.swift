import KilnTensor

/// Which inputs an elementwise op accepts and what dtype it returns.
private enum ElementwiseTyping {
    /// Any dtype but bool; the result keeps the input's dtype (relu, neg).
    case numeric
    /// Floating point only (silu).
    case floatOnly
    /// Integers and bool are computed in float32 (sigmoid, rsqrt, true division).
    case toFloat

    func result(_ args: OpArguments<TensorType>, _ dtype: DType, argument: String) throws -> DType {
        switch self {
        case .numeric:
            guard dtype != .bool else { throw args.error("expected a numeric tensor, got bool", argument: argument) }
            return dtype
        case .floatOnly:
            guard dtype.isFloatingPoint else {
                throw args.error("expected a floating-point tensor, got \(dtype)", argument: argument)
            }
            return dtype
        case .toFloat:
            return dtype.isFloatingPoint ? dtype : .float32
        }
    }
}

private func unary(_ name: String, _ summary: String, _ typing: ElementwiseTyping) -> OpSchema {
    OpSchema(name, summary: summary, parameters: [.init("self", .tensor)],
             pte: PTEOperator("aten::\(name)")) { args in
        let x = args.tensor("self")
        return [TensorType(try typing.result(args, x.dtype, argument: "self"), x.shape)]
    }
}

/// `op.Tensor(self, other[, alpha])`: broadcast, promote, then apply `typing`.
private func binaryTensor(_ base: String, _ summary: String, _ typing: ElementwiseTyping,
                          other: String = "other", alpha: Bool = false, overload: String = "Tensor") -> OpSchema {
    var params: [Parameter] = [.init("self", .tensor), .init(other, .tensor)]
    if alpha { params.append(.init("alpha", .scalar, default: .int(1))) }
    return OpSchema("\(base).\(overload)", summary: summary, parameters: params,
                    pte: PTEOperator("aten::\(base)", overload == "Tensor" ? "out" : "\(overload)_out")) { args in
        let a = args.tensor("self"), b = args.tensor(other)
        let promoted = promoteTypes(a.dtype, b.dtype)
        try checkAlpha(args, alpha: alpha, promoted)
        return [TensorType(try typing.result(args, promoted, argument: "self"), try args.broadcast(a.shape, b.shape))]
    }
}

/// `op.Scalar(self, other[, alpha])`: an int tensor with a float scalar computes in float32.
private func binaryScalar(_ base: String, _ summary: String, _ typing: ElementwiseTyping,
                          other: String = "other", alpha: Bool = false, overload: String = "Scalar") -> OpSchema {
    var params: [Parameter] = [.init("self", .tensor), .init(other, .scalar)]
    if alpha { params.append(.init("alpha", .scalar, default: .int(1))) }
    return OpSchema("\(base).\(overload)", summary: summary, parameters: params,
                    pte: PTEOperator("aten::\(base)", "\(overload)_out")) { args in
        let a = args.tensor("self")
        let scalarIsInt = args.scalar(other).isInteger
        var dtype = a.dtype
        if !a.dtype.isFloatingPoint && !scalarIsInt { dtype = .float32 } else if a.dtype == .bool { dtype = .int64 }
        try checkAlpha(args, alpha: alpha, dtype)
        return [TensorType(try typing.result(args, dtype, argument: "self"), a.shape)]
    }
}

/// An integer computation cannot take a fractional alpha.
private func checkAlpha(_ args: OpArguments<TensorType>, alpha: Bool, _ dtype: DType) throws {
    guard alpha, !dtype.isFloatingPoint, !args.scalar("alpha").isInteger else { return }
    throw args.error("a float alpha needs a floating-point computation, this one is \(dtype)", argument: "alpha")
}

/// Activations and arithmetic, elementwise with broadcasting.
let elementwiseOps: [OpSchema] = [
    unary("relu", "max(x, 0)", .numeric),
    unary("silu", "x * sigmoid(x)", .floatOnly),
    unary("sigmoid", "1 / (1 + exp(-x))", .toFloat),
    unary("neg", "-x", .numeric),
    unary("rsqrt", "1 / sqrt(x)", .toFloat),
    binaryTensor("add", "self + alpha * other", .numeric, alpha: true),
    binaryScalar("add", "self + alpha * other", .numeric, alpha: true),
    binaryTensor("sub", "self - alpha * other", .numeric, alpha: true),
    binaryScalar("sub", "self - alpha * other", .numeric, alpha: true),
    binaryTensor("mul", "self * other", .numeric),
    binaryScalar("mul", "self * other", .numeric),
    binaryTensor("div", "self / other (true division)", .toFloat),
    binaryScalar("div", "self / other (true division)", .toFloat),
    binaryTensor("pow", "self ** exponent", .numeric, other: "exponent", overload: "Tensor_Tensor"),
    binaryScalar("pow", "self ** exponent", .numeric, other: "exponent", overload: "Tensor_Scalar"),
]
