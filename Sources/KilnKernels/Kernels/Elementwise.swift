#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

// Portable elementwise kernels: activations and arithmetic with broadcasting, as in ATen.
//
// The output tensor already has the dtype the op's type rule decided (the promoted dtype, float32
// for true division of integers, ...). Every kernel computes in that dtype's compute type: Float
// for float32, float16 and bfloat16 (the last two round once, at the store), and the integer type
// itself for integers (wrapping on overflow, as ATen's C++ does). Inputs of another dtype are
// converted on read.

/// The portable elementwise kernels, one per op of `elementwiseOps`; each name lists the output
/// dtypes the kernel computes (inputs of any dtype the type rule allows are converted on read).
let elementwiseKernels: [KernelEntry] = [
    KernelEntry(op: "relu", name: "f32_f16_bf16_i64_i32_i16_i8_u8_relu__portable", kernel: relu),
    KernelEntry(op: "silu", name: "f32_f16_bf16_silu__portable", kernel: silu),
    KernelEntry(op: "sigmoid", name: "f32_f16_bf16_sigmoid__portable", kernel: sigmoid),
    KernelEntry(op: "neg", name: "f32_f16_bf16_i64_i32_i16_i8_u8_neg__portable", kernel: neg),
    KernelEntry(op: "rsqrt", name: "f32_f16_bf16_rsqrt__portable", kernel: rsqrt),
    KernelEntry(op: "add.Tensor", name: "f32_f16_bf16_i64_i32_i16_i8_u8_add__portable", kernel: addTensor),
    KernelEntry(op: "add.Scalar", name: "f32_f16_bf16_i64_i32_i16_i8_u8_add_scalar__portable", kernel: addScalar),
    KernelEntry(op: "sub.Tensor", name: "f32_f16_bf16_i64_i32_i16_i8_u8_sub__portable", kernel: subTensor),
    KernelEntry(op: "sub.Scalar", name: "f32_f16_bf16_i64_i32_i16_i8_u8_sub_scalar__portable", kernel: subScalar),
    KernelEntry(op: "mul.Tensor", name: "f32_f16_bf16_i64_i32_i16_i8_u8_mul__portable", kernel: mulTensor),
    KernelEntry(op: "mul.Scalar", name: "f32_f16_bf16_i64_i32_i16_i8_u8_mul_scalar__portable", kernel: mulScalar),
    KernelEntry(op: "div.Tensor", name: "f32_f16_bf16_div__portable", kernel: divTensor),
    KernelEntry(op: "div.Scalar", name: "f32_f16_bf16_div_scalar__portable", kernel: divScalar),
    KernelEntry(op: "pow.Tensor_Tensor", name: "f32_f16_bf16_i64_i32_i16_i8_u8_pow__portable", kernel: powTensor),
    KernelEntry(op: "pow.Tensor_Scalar", name: "f32_f16_bf16_i64_i32_i16_i8_u8_pow_scalar__portable", kernel: powScalar),
]

// MARK: - Kernels

/// relu: `x < 0 ? 0 : x` (NaN stays NaN, as in ATen).
private func relu(_ call: KernelCall) throws(KernelError) {
    try numericUnary(call, call.input("self"), Relu())
}

/// silu: `x / (1 + exp(-x))`, ATen's formula.
private func silu(_ call: KernelCall) throws(KernelError) {
    try floatUnary(call, call.input("self")) { x in x / (1 + exp(-x)) }
}

/// sigmoid: `1 / (1 + exp(-x))`; integer inputs are read as float32.
private func sigmoid(_ call: KernelCall) throws(KernelError) {
    try floatUnary(call, call.input("self")) { x in 1 / (1 + exp(-x)) }
}

/// neg: `-x` (integers wrap: `-Int.min == Int.min`, uint8 counts modulo 256).
private func neg(_ call: KernelCall) throws(KernelError) {
    try numericUnary(call, call.input("self"), Negate())
}

/// rsqrt: `1 / sqrt(x)` (NaN below 0, inf at 0); integer inputs are read as float32.
private func rsqrt(_ call: KernelCall) throws(KernelError) {
    try floatUnary(call, call.input("self")) { x in 1 / x.squareRoot() }
}

/// add.Tensor: `self + alpha * other`, broadcast.
private func addTensor(_ call: KernelCall) throws(KernelError) {
    let alpha = try ScalarArgument(call, "alpha")
    try numericBinary(call, call.input("self"), call.input("other"), AddScaled(alpha: alpha))
}

/// add.Scalar: `self + alpha * other` with a scalar `other`.
private func addScalar(_ call: KernelCall) throws(KernelError) {
    let alpha = try ScalarArgument(call, "alpha"), other = try ScalarArgument(call, "other")
    try numericUnary(call, call.input("self"), BoundScalar(op: AddScaled(alpha: alpha), scalar: other))
}

/// sub.Tensor: `self - alpha * other`, broadcast.
private func subTensor(_ call: KernelCall) throws(KernelError) {
    let alpha = try ScalarArgument(call, "alpha")
    try numericBinary(call, call.input("self"), call.input("other"), SubtractScaled(alpha: alpha))
}

/// sub.Scalar: `self - alpha * other` with a scalar `other`.
private func subScalar(_ call: KernelCall) throws(KernelError) {
    let alpha = try ScalarArgument(call, "alpha"), other = try ScalarArgument(call, "other")
    try numericUnary(call, call.input("self"), BoundScalar(op: SubtractScaled(alpha: alpha), scalar: other))
}

/// mul.Tensor: `self * other`, broadcast.
private func mulTensor(_ call: KernelCall) throws(KernelError) {
    try numericBinary(call, call.input("self"), call.input("other"), Multiply())
}

/// mul.Scalar: `self * other` with a scalar `other`.
private func mulScalar(_ call: KernelCall) throws(KernelError) {
    let other = try ScalarArgument(call, "other")
    try numericUnary(call, call.input("self"), BoundScalar(op: Multiply(), scalar: other))
}

/// div.Tensor: true division, broadcast; integer inputs are read as float32 (`7 / 2 == 3.5`).
private func divTensor(_ call: KernelCall) throws(KernelError) {
    try floatBinary(call, call.input("self"), call.input("other")) { a, b in a / b }
}

/// div.Scalar: true division by a scalar, rounded to float32 first as ATen's wrapped scalar is.
private func divScalar(_ call: KernelCall) throws(KernelError) {
    let other = try ScalarArgument(call, "other")
    let divisor = Float(scalar: other)
    try floatUnary(call, call.input("self")) { x in x / divisor }
}

/// pow.Tensor_Tensor: `self ** exponent`, broadcast; integers use ATen's `powi` (a negative
/// exponent gives 0, except for bases 1 and -1).
private func powTensor(_ call: KernelCall) throws(KernelError) {
    try numericBinary(call, call.input("self"), call.input("exponent"), Power())
}

/// pow.Tensor_Scalar: `self ** exponent` with a scalar exponent.
private func powScalar(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self"), exponent = try ScalarArgument(call, "exponent")
    let dtype = call.outputs.first?.dtype
    // 1. Integer results: ATen refuses negative integer exponents rather than truncating to 0.
    if let n = exponent.int, n < 0, dtype?.isInteger == true {
        throw call.error("integers to negative integer powers are not allowed (exponent \(n))")
    }
    // 2. Floating-point results: the exponents ATen computes without pow, so results match it.
    if dtype?.isFloatingPoint == true {
        switch exponent.double {
        case 2: return try floatUnary(call, x) { v in v * v }
        case 3: return try floatUnary(call, x) { v in v * v * v }
        case 0.5: return try floatUnary(call, x) { v in v.squareRoot() }
        case -0.5: return try floatUnary(call, x) { v in 1 / v.squareRoot() }
        case -1: return try floatUnary(call, x) { v in 1 / v }
        case -2: return try floatUnary(call, x) { v in 1 / (v * v) }
        default: break
        }
    }
    // 3. Everything else: pow (powi for integers) per element.
    try numericUnary(call, x, BoundScalar(op: Power(), scalar: exponent))
}

// MARK: - The arithmetic, written once for every compute type

/// A type elementwise kernels compute in: Float, or an integer type (wrapping on overflow).
protocol KernelNumber: ConvertibleScalar, Comparable {
    static var zero: Self { get }
    static func wrappingAdd(_ a: Self, _ b: Self) -> Self
    static func wrappingSubtract(_ a: Self, _ b: Self) -> Self
    static func wrappingMultiply(_ a: Self, _ b: Self) -> Self
    static func wrappingNegate(_ a: Self) -> Self
    /// `base ** exponent`: `pow` for Float, ATen's `powi` for integers.
    static func atenPower(_ base: Self, _ exponent: Self) -> Self
}

extension Float: KernelNumber {
    static func wrappingAdd(_ a: Float, _ b: Float) -> Float { a + b }
    static func wrappingSubtract(_ a: Float, _ b: Float) -> Float { a - b }
    static func wrappingMultiply(_ a: Float, _ b: Float) -> Float { a * b }
    static func wrappingNegate(_ a: Float) -> Float { -a }
    static func atenPower(_ base: Float, _ exponent: Float) -> Float { pow(base, exponent) }
}

extension KernelNumber where Self: FixedWidthInteger {
    static func wrappingAdd(_ a: Self, _ b: Self) -> Self { a &+ b }
    static func wrappingSubtract(_ a: Self, _ b: Self) -> Self { a &- b }
    static func wrappingMultiply(_ a: Self, _ b: Self) -> Self { a &* b }
    static func wrappingNegate(_ a: Self) -> Self { 0 &- a }

    /// ATen's `powi`: square-and-multiply with wrapping; a negative exponent gives 0 except for
    /// bases 1 (1) and -1 (±1 by the exponent's parity).
    static func atenPower(_ base: Self, _ exponent: Self) -> Self {
        if Self.isSigned && exponent < 0 {
            if base == 1 { return 1 }
            if base == 0 &- 1 { return exponent & 1 == 0 ? 1 : base }
            return 0
        }
        var (result, b, e): (Self, Self, Self) = (1, base, exponent)
        while e != 0 {
            if e & 1 != 0 { result = result &* b }
            e >>= 1
            b = b &* b
        }
        return result
    }
}

extension Int64: KernelNumber {}
extension Int32: KernelNumber {}
extension Int16: KernelNumber {}
extension Int8: KernelNumber {}
extension UInt8: KernelNumber {}

/// A unary op written once for every compute type.
private protocol NumericUnaryOp {
    func callAsFunction<C: KernelNumber>(_ x: C) -> C
}

/// A binary op written once for every compute type.
private protocol NumericBinaryOp {
    func callAsFunction<C: KernelNumber>(_ a: C, _ b: C) -> C
}

private struct Relu: NumericUnaryOp {
    // x < 0 -> 0; NaN compares false and stays.
    func callAsFunction<C: KernelNumber>(_ x: C) -> C { x < C.zero ? C.zero : x }
}

private struct Negate: NumericUnaryOp {
    func callAsFunction<C: KernelNumber>(_ x: C) -> C { C.wrappingNegate(x) }
}

private struct AddScaled: NumericBinaryOp {
    let alpha: ScalarArgument
    // a + alpha * b
    func callAsFunction<C: KernelNumber>(_ a: C, _ b: C) -> C {
        C.wrappingAdd(a, C.wrappingMultiply(C(scalar: alpha), b))
    }
}

private struct SubtractScaled: NumericBinaryOp {
    let alpha: ScalarArgument
    // a - alpha * b
    func callAsFunction<C: KernelNumber>(_ a: C, _ b: C) -> C {
        C.wrappingSubtract(a, C.wrappingMultiply(C(scalar: alpha), b))
    }
}

private struct Multiply: NumericBinaryOp {
    func callAsFunction<C: KernelNumber>(_ a: C, _ b: C) -> C { C.wrappingMultiply(a, b) }
}

private struct Power: NumericBinaryOp {
    func callAsFunction<C: KernelNumber>(_ a: C, _ b: C) -> C { C.atenPower(a, b) }
}

/// A binary op with a scalar right operand, converted to the compute type as ATen's wrapped
/// scalar is.
private struct BoundScalar<Op: NumericBinaryOp>: NumericUnaryOp {
    let op: Op
    let scalar: ScalarArgument
    func callAsFunction<C: KernelNumber>(_ x: C) -> C { op(x, C(scalar: scalar)) }
}

// MARK: - Dispatch on the output dtype

/// Runs `f` in Float on a floating-point output.
@inline(__always)
private func floatUnary(_ call: KernelCall, _ x: Tensor, _ f: (Float) -> Float) throws(KernelError) {
    let out = try unaryOutput(call, x)
    switch out.dtype {
    case .float32: mapUnary(x, out, as: Float.self, f)
    case .float16: mapUnary(x, out, as: Float16.self, f)
    case .bfloat16: mapUnary(x, out, as: BFloat16.self, f)
    default: throw call.error("expected a floating-point output, got \(out.dtype)")
    }
}

/// Runs `f` in Float on a floating-point output, broadcasting `a` and `b`.
@inline(__always)
private func floatBinary(_ call: KernelCall, _ a: Tensor, _ b: Tensor,
                         _ f: (Float, Float) -> Float) throws(KernelError) {
    let out = try binaryOutput(call, a, b)
    switch out.dtype {
    case .float32: mapBinary(a, b, out, as: Float.self, f)
    case .float16: mapBinary(a, b, out, as: Float16.self, f)
    case .bfloat16: mapBinary(a, b, out, as: BFloat16.self, f)
    default: throw call.error("expected a floating-point output, got \(out.dtype)")
    }
}

/// Runs `op` on any numeric output.
private func numericUnary<Op: NumericUnaryOp>(_ call: KernelCall, _ x: Tensor, _ op: Op) throws(KernelError) {
    let out = try unaryOutput(call, x)
    switch out.dtype {
    case .float32: mapUnary(x, out, as: Float.self) { op($0) }
    case .float16: mapUnary(x, out, as: Float16.self) { op($0) }
    case .bfloat16: mapUnary(x, out, as: BFloat16.self) { op($0) }
    case .int64: mapUnary(x, out, as: Int64.self) { op($0) }
    case .int32: mapUnary(x, out, as: Int32.self) { op($0) }
    case .int16: mapUnary(x, out, as: Int16.self) { op($0) }
    case .int8: mapUnary(x, out, as: Int8.self) { op($0) }
    case .uint8: mapUnary(x, out, as: UInt8.self) { op($0) }
    case .bool: throw call.error("expected a numeric output, got bool")
    }
}

/// Runs `op` on any numeric output, broadcasting `a` and `b`.
private func numericBinary<Op: NumericBinaryOp>(_ call: KernelCall, _ a: Tensor, _ b: Tensor,
                                                _ op: Op) throws(KernelError) {
    let out = try binaryOutput(call, a, b)
    switch out.dtype {
    case .float32: mapBinary(a, b, out, as: Float.self) { op($0, $1) }
    case .float16: mapBinary(a, b, out, as: Float16.self) { op($0, $1) }
    case .bfloat16: mapBinary(a, b, out, as: BFloat16.self) { op($0, $1) }
    case .int64: mapBinary(a, b, out, as: Int64.self) { op($0, $1) }
    case .int32: mapBinary(a, b, out, as: Int32.self) { op($0, $1) }
    case .int16: mapBinary(a, b, out, as: Int16.self) { op($0, $1) }
    case .int8: mapBinary(a, b, out, as: Int8.self) { op($0, $1) }
    case .uint8: mapBinary(a, b, out, as: UInt8.self) { op($0, $1) }
    case .bool: throw call.error("expected a numeric output, got bool")
    }
}

/// The output of a unary call, checked to have the input's shape.
private func unaryOutput(_ call: KernelCall, _ x: Tensor) throws(KernelError) -> Tensor {
    guard let out = call.outputs.first, out.shape == x.shape else {
        throw call.error("output must have the input's shape \(x.shape), got \(call.outputs.first?.shape ?? [])")
    }
    return out
}

/// The output of a binary call, checked to be a shape both inputs broadcast to.
private func binaryOutput(_ call: KernelCall, _ a: Tensor, _ b: Tensor) throws(KernelError) -> Tensor {
    guard let out = call.outputs.first else { throw call.error("no output tensor") }
    try requireBroadcast(call, a.shape, "self", to: out.shape)
    try requireBroadcast(call, b.shape, "second input", to: out.shape)
    return out
}

/// Checks that `shape` broadcasts to `outShape` (right-aligned, each dim 1 or equal).
private func requireBroadcast(_ call: KernelCall, _ shape: [Int], _ name: String,
                              to outShape: [Int]) throws(KernelError) {
    guard ShapeMath.broadcasts(shape, to: outShape) else {
        throw call.error("\(name) of shape \(shape) does not broadcast to the output shape \(outShape)")
    }
}

// MARK: - Loops

/// An output element type and the type its values are computed in.
protocol ComputedElement: TensorElement {
    associatedtype Compute: KernelNumber
    var computeValue: Compute { get }
    init(computed: Compute)
}

extension Float: ComputedElement {
    var computeValue: Float { self }
    init(computed: Float) { self = computed }
}

extension Float16: ComputedElement {
    var computeValue: Float { Float(self) }
    init(computed: Float) { self.init(computed) }
}

extension BFloat16: ComputedElement {
    var computeValue: Float { floatValue }
    init(computed: Float) { self.init(computed) }
}

extension ComputedElement where Self: KernelNumber, Compute == Self {
    var computeValue: Self { self }
    init(computed: Self) { self = computed }
}

extension Int64: ComputedElement {}
extension Int32: ComputedElement {}
extension Int16: ComputedElement {}
extension Int8: ComputedElement {}
extension UInt8: ComputedElement {}

/// `out[i] = f(x[i])` over every element (`out` has `x`'s shape).
@inline(__always)
private func mapUnary<Out: ComputedElement>(_ x: Tensor, _ out: Tensor, as _: Out.Type,
                                            _ f: (Out.Compute) -> Out.Compute) {
    let o = out.unsafeMutableBuffer(of: Out.self)
    if x.dtype == Out.dtype {
        // Input already in the output dtype: one flat loop.
        let src = x.unsafeBuffer(of: Out.self)
        for i in 0..<o.count { o[i] = Out(computed: f(src[i].computeValue)) }
    } else {
        // Another dtype: convert each element on read.
        let src = ConvertingReader<Out.Compute>(x)
        for i in 0..<o.count { o[i] = Out(computed: f(src[i])) }
    }
}

/// `out[i] = f(a[ia], b[ib])` over every element of `out`, reading `a` and `b` broadcast to it.
@inline(__always)
private func mapBinary<Out: ComputedElement>(_ a: Tensor, _ b: Tensor, _ out: Tensor, as _: Out.Type,
                                             _ f: (Out.Compute, Out.Compute) -> Out.Compute) {
    let o = out.unsafeMutableBuffer(of: Out.self)
    let shape = out.shape
    guard a.dtype == Out.dtype && b.dtype == Out.dtype else {
        // Mixed dtypes: convert each element on read, walking the broadcast.
        let x = ConvertingReader<Out.Compute>(a), y = ConvertingReader<Out.Compute>(b)
        Broadcast.forEach(shape, broadcasting: a.shape, b.shape) { i, ia, ib in o[i] = Out(computed: f(x[ia], y[ib])) }
        return
    }
    let x = a.unsafeBuffer(of: Out.self), y = b.unsafeBuffer(of: Out.self)
    if a.shape == shape && b.shape == shape {
        // 1. Equal shapes: one flat loop.
        for i in 0..<o.count { o[i] = Out(computed: f(x[i].computeValue, y[i].computeValue)) }
    } else if a.shape == shape && y.count == 1 {
        // 2. A single-element right operand: hoist it.
        let s = y[0].computeValue
        for i in 0..<o.count { o[i] = Out(computed: f(x[i].computeValue, s)) }
    } else if b.shape == shape && x.count == 1 {
        // 3. A single-element left operand: hoist it.
        let s = x[0].computeValue
        for i in 0..<o.count { o[i] = Out(computed: f(s, y[i].computeValue)) }
    } else {
        // 4. General broadcast: walk the output, stepping each input by its broadcast strides.
        Broadcast.forEach(shape, broadcasting: a.shape, b.shape) { i, ia, ib in
            o[i] = Out(computed: f(x[ia].computeValue, y[ib].computeValue))
        }
    }
}

// MARK: - Reading any dtype

/// A type kernels compute or accumulate in, convertible from every dtype's elements and from a
/// `Scalar` argument.
protocol ConvertibleScalar {
    /// From a floating-point element (float16 and bfloat16 arrive as their exact Float value).
    init(converting value: Float)
    /// From an integer or bool element.
    init(converting value: Int64)
    /// From a `Scalar` argument.
    init(scalar: ScalarArgument)
}

extension Float: ConvertibleScalar {
    init(converting value: Float) { self = value }
    init(converting value: Int64) { self.init(value) }
    init(scalar: ScalarArgument) { self = scalar.int.map { Float($0) } ?? Float(scalar.double) }
}

extension ConvertibleScalar where Self: FixedWidthInteger {
    // Only reached for values the type rule says fit (integer results never read floats).
    init(converting value: Float) { self.init(truncatingIfNeeded: Int64(exactly: value.rounded(.towardZero)) ?? 0) }
    init(converting value: Int64) { self.init(truncatingIfNeeded: value) }
    init(scalar: ScalarArgument) {
        self.init(truncatingIfNeeded: scalar.int ?? Int64(exactly: scalar.double.rounded(.towardZero)) ?? 0)
    }
}

/// A `Scalar` argument as written: an exact int, or a float.
struct ScalarArgument: Sendable {
    /// The value as a Double (exact for ints up to 2^53).
    let double: Double
    /// The exact value when the argument was an int.
    let int: Int64?

    /// The scalar argument `name` of `call`; an int that does not fit an integer output's
    /// dtype is an error, as in ATen.
    init(_ call: KernelCall, _ name: String) throws(KernelError) {
        if case .int(let v) = call.arguments[name] {
            (double, int) = (Double(v), Int64(v))
            if let range = call.outputs.first?.dtype.integerRange, !range.contains(Int64(v)) {
                throw call.error("\(name) = \(v) does not fit the \(call.outputs[0].dtype) result")
            }
        } else {
            (double, int) = (call.arguments.float(name), nil)
        }
    }
}

/// Reads the elements of a tensor of any dtype as `C`, converting each on read.
struct ConvertingReader<C: ConvertibleScalar> {
    private enum Source {
        case float32(UnsafeBufferPointer<Float>)
        case float16(UnsafeBufferPointer<Float16>)
        case bfloat16(UnsafeBufferPointer<BFloat16>)
        case int64(UnsafeBufferPointer<Int64>)
        case int32(UnsafeBufferPointer<Int32>)
        case int16(UnsafeBufferPointer<Int16>)
        case int8(UnsafeBufferPointer<Int8>)
        case uint8(UnsafeBufferPointer<UInt8>)
        /// Bool bytes, read as bytes (any nonzero byte is true).
        case bool(UnsafeRawBufferPointer)
    }

    private let source: Source

    init(_ t: Tensor) {
        switch t.dtype {
        case .float32: source = .float32(t.unsafeBuffer(of: Float.self))
        case .float16: source = .float16(t.unsafeBuffer(of: Float16.self))
        case .bfloat16: source = .bfloat16(t.unsafeBuffer(of: BFloat16.self))
        case .int64: source = .int64(t.unsafeBuffer(of: Int64.self))
        case .int32: source = .int32(t.unsafeBuffer(of: Int32.self))
        case .int16: source = .int16(t.unsafeBuffer(of: Int16.self))
        case .int8: source = .int8(t.unsafeBuffer(of: Int8.self))
        case .uint8: source = .uint8(t.unsafeBuffer(of: UInt8.self))
        case .bool: source = .bool(UnsafeRawBufferPointer(t.unsafeBuffer(of: Bool.self)))
        }
    }

    /// Element `i` as `C`.
    @inline(__always)
    subscript(i: Int) -> C {
        switch source {
        case .float32(let p): return C(converting: p[i])
        case .float16(let p): return C(converting: Float(p[i]))
        case .bfloat16(let p): return C(converting: p[i].floatValue)
        case .int64(let p): return C(converting: p[i])
        case .int32(let p): return C(converting: Int64(p[i]))
        case .int16(let p): return C(converting: Int64(p[i]))
        case .int8(let p): return C(converting: Int64(p[i]))
        case .uint8(let p): return C(converting: Int64(p[i]))
        case .bool(let p): return C(converting: Int64(p[i] != 0 ? 1 : 0))
        }
    }
}
