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
