import KilnIR
import KilnOps

// Matrix products, reductions, softmax and activations, as methods and PyTorch/MLX-style functions.

extension TracedTensor {
    /// NumPy-style matrix product with broadcast batch dims (`matmul`).
    public func matmul(_ other: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("matmul", [other], at: tracer.location(file, line))
    }

    /// Sum over `dims` (all when empty).
    public func sum(_ dims: [Int] = [], keepDim: Bool = false, file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("sum.dim_IntList", [], ["dim": .intList(dims), "keepdim": .bool(keepDim)], at: tracer.location(file, line))
    }

    /// Mean over `dims` (all when empty).
    public func mean(_ dims: [Int] = [], keepDim: Bool = false, file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("mean.dim", [], ["dim": .intList(dims), "keepdim": .bool(keepDim)], at: tracer.location(file, line))
    }

    /// Largest element over `dims` (all when empty) (`amax`).
    public func max(_ dims: [Int] = [], keepDim: Bool = false, file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("amax", [], ["dim": .intList(dims), "keepdim": .bool(keepDim)], at: tracer.location(file, line))
    }

    /// Smallest element over `dims` (all when empty) (`amin`).
    public func min(_ dims: [Int] = [], keepDim: Bool = false, file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("amin", [], ["dim": .intList(dims), "keepdim": .bool(keepDim)], at: tracer.location(file, line))
    }
}

/// `a @ b` (`matmul`).
public func matmul(_ a: TracedTensor, _ b: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    a.matmul(b, file: file, line: line)
}

/// `max(x, 0)`.
public func relu(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("relu", at: x.tracer.location(file, line))
}

/// `x * Φ(x)`; `approximate: "tanh"` for the tanh form.
public func gelu(_ x: TracedTensor, approximate: String = "none", file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("gelu", [], ["approximate": .string(approximate)], at: x.tracer.location(file, line))
}

/// `x * sigmoid(x)`.
public func silu(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("silu", at: x.tracer.location(file, line))
}

/// `1 / (1 + exp(-x))`.
public func sigmoid(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("sigmoid", at: x.tracer.location(file, line))
}

/// Hyperbolic tangent.
public func tanh(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("tanh", at: x.tracer.location(file, line))
}

/// `e^x`.
public func exp(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("exp", at: x.tracer.location(file, line))
}

/// Square root.
public func sqrt(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("sqrt", at: x.tracer.location(file, line))
}

/// `1 / sqrt(x)`.
public func rsqrt(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("rsqrt", at: x.tracer.location(file, line))
}

/// Softmax along `dim` (`softmax.int`).
public func softmax(_ x: TracedTensor, dim: Int = -1, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("softmax.int", [], ["dim": .int(dim)], at: x.tracer.location(file, line))
}

/// `log(softmax(x))` along `dim` (`log_softmax.int`).
public func logSoftmax(_ x: TracedTensor, dim: Int = -1, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("log_softmax.int", [], ["dim": .int(dim)], at: x.tracer.location(file, line))
}

/// `x @ weightᵀ + bias` over the last dim (`linear`); `weight` is `[out, in]`.
public func linear(_ x: TracedTensor, _ weight: TracedTensor, _ bias: TracedTensor? = nil,
                   file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("linear", [weight, bias], at: x.tracer.location(file, line))
}

/// Rows of `weight` picked by the integer `indices` (`embedding`): `indices.shape + [dim]`.
public func embedding(_ indices: TracedTensor, _ weight: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    weight.tracer.record("embedding", [weight, indices], at: weight.tracer.location(file, line))[0]
}
