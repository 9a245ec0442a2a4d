import KilnOps
import KilnTensor

// Portable kernels for the comparisons (eq, ne, lt, gt, le, ge; Tensor and Scalar forms) and
// where.self.
//
// A comparison converts both operands to the promoted dtype, as ATen does, and compares there:
// floating-point dtypes compare as Float (exact for float16 and bfloat16 values, and IEEE: NaN is
// unequal to everything), integers and bool as Int64. A scalar is rounded to the promoted dtype
// first (`x == 0.1` on float16 compares with float16(0.1)); an int scalar against an integer
// tensor compares exactly, so 1000 equals no int8 element.

let comparisonKernels: [KernelEntry] = [
    comparison("eq", Equal.self), comparison("ne", NotEqual.self), comparison("lt", Less.self),
    comparison("gt", Greater.self), comparison("le", LessOrEqual.self), comparison("ge", GreaterOrEqual.self),
].flatMap { $0 } + [
    KernelEntry(op: "where.self", name: "any_where__portable", kernel: whereSelf),
]

/// The Tensor and Scalar kernels of one comparison.
private func comparison<Op: ComparisonOp>(_ base: String, _: Op.Type) -> [KernelEntry] {
    [
        KernelEntry(op: "\(base).Tensor", name: "any_bool_\(base)__portable") { call throws(KernelError) in
            try compareTensors(call, Op.self)
        },
        KernelEntry(op: "\(base).Scalar", name: "any_bool_\(base)_scalar__portable") { call throws(KernelError) in
            try compareScalar(call, Op.self)
        },
    ]
}

// MARK: - The comparisons

/// One comparison, written for both compute types (IEEE for Float).
private protocol ComparisonOp: Sendable {
    static func holds(_ a: Float, _ b: Float) -> Bool
    static func holds(_ a: Int64, _ b: Int64) -> Bool
}

private enum Equal: ComparisonOp {
    static func holds(_ a: Float, _ b: Float) -> Bool { a == b }
    static func holds(_ a: Int64, _ b: Int64) -> Bool { a == b }
}

private enum NotEqual: ComparisonOp {
    static func holds(_ a: Float, _ b: Float) -> Bool { a != b }
    static func holds(_ a: Int64, _ b: Int64) -> Bool { a != b }
}

private enum Less: ComparisonOp {
    static func holds(_ a: Float, _ b: Float) -> Bool { a < b }
    static func holds(_ a: Int64, _ b: Int64) -> Bool { a < b }
}

private enum Greater: ComparisonOp {
    static func holds(_ a: Float, _ b: Float) -> Bool { a > b }
    static func holds(_ a: Int64, _ b: Int64) -> Bool { a > b }
}

private enum LessOrEqual: ComparisonOp {
    static func holds(_ a: Float, _ b: Float) -> Bool { a <= b }
    static func holds(_ a: Int64, _ b: Int64) -> Bool { a <= b }
}

private enum GreaterOrEqual: ComparisonOp {
    static func holds(_ a: Float, _ b: Float) -> Bool { a >= b }
    static func holds(_ a: Int64, _ b: Int64) -> Bool { a >= b }
}

// MARK: - Kernels

/// op.Tensor: `self op other`, broadcast, in the promoted dtype.
private func compareTensors<Op: ComparisonOp>(_ call: KernelCall, _: Op.Type) throws(KernelError) {
    let a = call.input("self"), b = call.input("other")
    let out = try call.output(broadcasting: a, "self")
    try call.output(broadcasting: b, "other")
    guard out.dtype == .bool else { throw call.error("output must be bool, got \(out.dtype)") }
    guard out.elementCount > 0, let o = out.unsafeMutableBuffer(of: Bool.self).baseAddress else { return }
    let promoted = promoteTypes(a.dtype, b.dtype)
    switch promoted {
    case .float32 where a.dtype == .float32 && b.dtype == .float32:
        // The common case: f32 against f32, read straight from memory.
        compare(o, out.shape, a.shape, b.shape, DirectLanes<Float>(a), DirectLanes<Float>(b), Op.holds)
    case .float32, .float16, .bfloat16:
        compare(o, out.shape, a.shape, b.shape, RoundingLanes(a, to: promoted), RoundingLanes(b, to: promoted), Op.holds)
    default:
        compare(o, out.shape, a.shape, b.shape, ConvertingReader<Int64>(a), ConvertingReader<Int64>(b), Op.holds)
    }
}

/// op.Scalar: `self op other` with the scalar rounded to the comparison's dtype.
private func compareScalar<Op: ComparisonOp>(_ call: KernelCall, _: Op.Type) throws(KernelError) {
    let x = call.input("self")
    let out = try call.output(shaped: x.shape)
    guard out.dtype == .bool else { throw call.error("output must be bool, got \(out.dtype)") }
    guard out.elementCount > 0, let o = out.unsafeMutableBuffer(of: Bool.self).baseAddress else { return }
    let n = out.elementCount
    let scalar: Argument<Int> = call.arguments["other"]
    var integer: Int64?
    if case .int(let v) = scalar { integer = Int64(v) }
    let promoted = comparisonDType(x.dtype, scalarIsInteger: integer != nil)
    if promoted.isFloatingPoint {
        let s = rounded(integer.map { Float($0) } ?? Float(call.arguments.float("other")), to: promoted)
        if x.dtype == .float32 {
            let p = x.unsafeBuffer(of: Float.self).baseAddress!
            for i in 0..<n { o[i] = Op.holds(p[i], s) }
        } else {
            let p = RoundingLanes(x, to: promoted)
            for i in 0..<n { o[i] = Op.holds(p[i], s) }
        }
    } else {
        let s = integer ?? 0  // an integer comparison has an int scalar
        let p = ConvertingReader<Int64>(x)
        for i in 0..<n { o[i] = Op.holds(p[i], s) }
    }
}

/// where.self: `condition ? self : other`, the three broadcast, values converted to the output
/// dtype by the cast rules.
private func whereSelf(_ call: KernelCall) throws(KernelError) {
    let c = call.input("condition"), a = call.input("self"), b = call.input("other")
    let out = try call.output(broadcasting: c, "condition")
    try call.output(broadcasting: a, "self")
    try call.output(broadcasting: b, "other")
    guard c.dtype == .bool else { throw call.error("condition must be bool, got \(c.dtype)") }
    switch out.dtype {
    case .float32: select(c, a, b, out, Float.self)
    case .float16: select(c, a, b, out, Float16.self)
    case .bfloat16: select(c, a, b, out, BFloat16.self)
    case .int64: select(c, a, b, out, Int64.self)
    case .int32: select(c, a, b, out, Int32.self)
    case .int16: select(c, a, b, out, Int16.self)
    case .int8: select(c, a, b, out, Int8.self)
    case .uint8: select(c, a, b, out, UInt8.self)
    case .bool: select(c, a, b, out, Bool.self)
    }
}

// MARK: - Loops

/// Reads lanes of one compute type from a tensor.
private protocol Lanes {
    associatedtype Value
    subscript(i: Int) -> Value { get }
}

extension ConvertingReader: Lanes {}

/// A non-empty tensor of `E`'s dtype read in place, as `E`'s compute type.
private struct DirectLanes<E: ComputedElement>: Lanes {
    let base: UnsafePointer<E>
    init(_ t: Tensor) { base = t.unsafeBuffer(of: E.self).baseAddress! }
    @inline(__always) subscript(i: Int) -> E.Compute { base[i].computeValue }
}

/// A tensor of any dtype read as Float after conversion to the floating-point dtype `target`,
/// as ATen converts operands to the common dtype before comparing.
private struct RoundingLanes: Lanes {
    let reader: ConvertingReader<Float>
    let target: DType
    let exact: Bool
    init(_ t: Tensor, to target: DType) {
        reader = ConvertingReader<Float>(t)
        self.target = target
        // float32 holds every value a Float read gives; so does a tensor already of `target`.
        exact = target == .float32 || t.dtype == target
    }
    @inline(__always) subscript(i: Int) -> Float { exact ? reader[i] : rounded(reader[i], to: target) }
}

/// `out[i] = f(a[ia], b[ib])` over the broadcast of `a` and `b`, with the flat fast paths.
@inline(__always)
private func compare<A: Lanes, B: Lanes>(_ o: UnsafeMutablePointer<Bool>, _ shape: [Int], _ aShape: [Int],
                                         _ bShape: [Int], _ a: A, _ b: B,
                                         _ f: (A.Value, A.Value) -> Bool) where A.Value == B.Value {
    let n = ShapeMath.product(shape, 0..<shape.count)
    let (aCount, bCount) = (ShapeMath.product(aShape, 0..<aShape.count), ShapeMath.product(bShape, 0..<bShape.count))
    if aShape == shape && bShape == shape {
        for i in 0..<n { o[i] = f(a[i], b[i]) }
    } else if aShape == shape && bCount == 1 {
        let s = b[0]
        for i in 0..<n { o[i] = f(a[i], s) }
    } else if bShape == shape && aCount == 1 {
        let s = a[0]
        for i in 0..<n { o[i] = f(s, b[i]) }
    } else {
        Broadcast.forEach(shape, broadcasting: aShape, bShape) { i, ia, ib in o[i] = f(a[ia], b[ib]) }
    }
}

/// where over `E`: equal shapes and dtypes select in one flat loop, equal dtypes walk the
/// broadcast reading memory in place, and other dtypes are converted on read.
@inline(__always)
private func select<E: CastTarget>(_ c: Tensor, _ a: Tensor, _ b: Tensor, _ out: Tensor, _: E.Type) {
    let n = out.elementCount
    guard n > 0, let o = out.unsafeMutableBuffer(of: E.self).baseAddress, let cond = boolBytes(c) else { return }
    let shape = out.shape
    // (Bool values are never loaded from tensor bytes, which may hold other nonzero values.)
    if E.dtype != .bool && a.dtype == E.dtype && b.dtype == E.dtype && c.shape == shape && a.shape == shape
        && b.shape == shape {
        let x = a.unsafeBuffer(of: E.self).baseAddress!, y = b.unsafeBuffer(of: E.self).baseAddress!
        for i in 0..<n {
            // Both loads up front, so the select vectorizes.
            let (u, v) = (x[i], y[i])
            o[i] = cond.load(fromByteOffset: i, as: UInt8.self) != 0 ? u : v
        }
        return
    }
    if E.dtype != .bool && a.dtype == E.dtype && b.dtype == E.dtype {
        // Broadcast (an attention mask over scores, a 0-d fill): plain pointers on each run.
        let x = a.unsafeBuffer(of: E.self).baseAddress!, y = b.unsafeBuffer(of: E.self).baseAddress!
        Broadcast3.forEachRun(shape, c.shape, a.shape, b.shape) { out, count, rc, ra, rb in
            let (m, u, v, r) = (cond + rc.start, x + ra.start, y + rb.start, o + out)
            if rc.step == 1 && ra.step == 1 && rb.step == 0 {
                // The attention-mask shape: mask and scores run along, the fill is one value.
                let fill = v[0]
                for j in 0..<count {
                    let value = u[j]
                    r[j] = m.load(fromByteOffset: j, as: UInt8.self) != 0 ? value : fill
                }
            } else if rc.step == 1 && ra.step == 1 && rb.step == 1 {
                for j in 0..<count {
                    let (p, q) = (u[j], v[j])
                    r[j] = m.load(fromByteOffset: j, as: UInt8.self) != 0 ? p : q
                }
            } else {
                for j in 0..<count {
                    let (p, q) = (u[j * ra.step], v[j * rb.step])
                    r[j] = m.load(fromByteOffset: j * rc.step, as: UInt8.self) != 0 ? p : q
                }
            }
        }
        return
    }
    let x = CastReader<E>(a), y = CastReader<E>(b)
    Broadcast3.forEach(shape, c.shape, a.shape, b.shape) { i, ic, ia, ib in
        o[i] = cond.load(fromByteOffset: ic, as: UInt8.self) != 0 ? x[ia] : y[ib]
    }
}
