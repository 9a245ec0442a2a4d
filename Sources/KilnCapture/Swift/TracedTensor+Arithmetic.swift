import KilnIR
import KilnOps

// Elementwise arithmetic with broadcasting (`add.Tensor`, `mul.Scalar`, ...), as in PyTorch.
//
// Swift operators cannot take `#fileID`/`#line`, so the nodes of `+ - * /` are recorded at the
// innermost built-in layer's call site, else at the previous node's; `add(_:_:)` and the other
// named functions record their own line.

extension TracedTensor {
    public static func + (a: TracedTensor, b: TracedTensor) -> TracedTensor {
        a.apply("add.Tensor", [b], at: a.tracer.operatorLocation)
    }
    public static func - (a: TracedTensor, b: TracedTensor) -> TracedTensor {
        a.apply("sub.Tensor", [b], at: a.tracer.operatorLocation)
    }
    public static func * (a: TracedTensor, b: TracedTensor) -> TracedTensor {
        a.apply("mul.Tensor", [b], at: a.tracer.operatorLocation)
    }
    public static func / (a: TracedTensor, b: TracedTensor) -> TracedTensor {
        a.apply("div.Tensor", [b], at: a.tracer.operatorLocation)
    }
    public static func + (a: TracedTensor, b: Double) -> TracedTensor {
        a.apply("add.Scalar", [], ["other": .float(b)], at: a.tracer.operatorLocation)
    }
    public static func - (a: TracedTensor, b: Double) -> TracedTensor {
        a.apply("sub.Scalar", [], ["other": .float(b)], at: a.tracer.operatorLocation)
    }
    public static func * (a: TracedTensor, b: Double) -> TracedTensor {
        a.apply("mul.Scalar", [], ["other": .float(b)], at: a.tracer.operatorLocation)
    }
    public static func / (a: TracedTensor, b: Double) -> TracedTensor {
        a.apply("div.Scalar", [], ["other": .float(b)], at: a.tracer.operatorLocation)
    }
    public static func + (a: Double, b: TracedTensor) -> TracedTensor { b + a }
    public static func * (a: Double, b: TracedTensor) -> TracedTensor { b * a }
    /// `a - b` as `-b + a`.
    public static func - (a: Double, b: TracedTensor) -> TracedTensor { -b + a }
    /// `a / b` as `reciprocal(b) * a`.
    public static func / (a: Double, b: TracedTensor) -> TracedTensor {
        b.apply("reciprocal", at: b.tracer.operatorLocation) * a
    }
    public static prefix func - (a: TracedTensor) -> TracedTensor {
        a.apply("neg", at: a.tracer.operatorLocation)
    }
}

/// `a + b` with broadcasting, recorded at this line.
public func add(_ a: TracedTensor, _ b: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    a.apply("add.Tensor", [b], at: a.tracer.location(file, line))
}

/// `a - b` with broadcasting, recorded at this line.
public func subtract(_ a: TracedTensor, _ b: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    a.apply("sub.Tensor", [b], at: a.tracer.location(file, line))
}

/// `a * b` with broadcasting, recorded at this line.
public func multiply(_ a: TracedTensor, _ b: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    a.apply("mul.Tensor", [b], at: a.tracer.location(file, line))
}

/// `a * b` for a scalar `b`, recorded at this line.
public func multiply(_ a: TracedTensor, _ b: Double, file: String = #fileID, line: Int = #line) -> TracedTensor {
    a.apply("mul.Scalar", [], ["other": .float(b)], at: a.tracer.location(file, line))
}

/// `a / b` with broadcasting (true division), recorded at this line.
public func divide(_ a: TracedTensor, _ b: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    a.apply("div.Tensor", [b], at: a.tracer.location(file, line))
}

/// `-x`, recorded at this line.
public func negative(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
    x.apply("neg", at: x.tracer.location(file, line))
}
