#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

// Portable kernels for the unary math ops and the activations of `mathOps`.
//
// Floating-point results compute in Float (float16 and bfloat16 round once, at the store, as
// ATen's CPU kernels do); integer and bool inputs of the ops that compute in float are read as
// Float. Each f32 loop reads and writes plain pointers with the op inlined, so it vectorizes
// where the op does (everything but the libm calls: exp, log, erf, tanh).

/// The portable kernels of `mathOps` (this file: unary math and activations; comparisons and
/// where in MathCompare.swift, the cast in MathCast.swift, creation in MathCreation.swift).
let mathKernels: [KernelEntry] = unaryMathKernels + comparisonKernels + castKernels + creationKernels

private let unaryMathKernels: [KernelEntry] = [
    KernelEntry(op: "abs", name: "f32_f16_bf16_i64_i32_i16_i8_u8_abs__portable", kernel: absolute),
    KernelEntry(op: "exp", name: "f32_f16_bf16_exp__portable") { call throws(KernelError) in
        try floatMath(call) { x in exp(x) }
    },
    KernelEntry(op: "log", name: "f32_f16_bf16_log__portable") { call throws(KernelError) in
        try floatMath(call) { x in log(x) }
    },
    KernelEntry(op: "sqrt", name: "f32_f16_bf16_sqrt__portable") { call throws(KernelError) in
        try floatMath(call) { x in x.squareRoot() }
    },
    KernelEntry(op: "reciprocal", name: "f32_f16_bf16_reciprocal__portable") { call throws(KernelError) in
        try floatMath(call) { x in 1 / x }
    },
    KernelEntry(op: "erf", name: "f32_f16_bf16_erf__portable") { call throws(KernelError) in
        try floatMath(call) { x in erf(x) }
    },
    KernelEntry(op: "tanh", name: "f32_f16_bf16_tanh__portable") { call throws(KernelError) in
        try floatMath(call) { x in tanh(x) }
    },
    KernelEntry(op: "logical_not", name: "any_bool_logical_not__portable", kernel: logicalNot),
    KernelEntry(op: "gelu", name: "f32_f16_bf16_gelu__portable", kernel: gelu),
    KernelEntry(op: "hardswish", name: "f32_f16_bf16_hardswish__portable") { call throws(KernelError) in
        // ATen's order: x * min(max(x + 3, 0), 6) / 6.
        try floatMath(call) { x in x * hardClamp(x + 3, 0, 6) / 6 }
    },
    KernelEntry(op: "hardsigmoid", name: "f32_f16_bf16_hardsigmoid__portable") { call throws(KernelError) in
        try floatMath(call) { x in hardClamp(x + 3, 0, 6) / 6 }
    },
    KernelEntry(op: "leaky_relu", name: "f32_f16_bf16_leaky_relu__portable", kernel: leakyRelu),
    KernelEntry(op: "clamp", name: "f32_f16_bf16_i64_i32_i16_i8_u8_clamp__portable", kernel: clamp),
    KernelEntry(op: "clamp.Tensor", name: "f32_f16_bf16_i64_i32_i16_i8_u8_clamp_tensor__portable", kernel: clampTensor),
    KernelEntry(op: "hardtanh", name: "f32_f16_bf16_i64_i32_i16_i8_u8_hardtanh__portable", kernel: hardtanh),
]

// MARK: - Kernels

/// abs: `|x|` (floats clear the sign bit, so abs(-0.0) is 0.0; integers wrap: abs(min) == min).
private func absolute(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let out = try call.output(shaped: x.shape)
    guard out.dtype == x.dtype else { throw call.error("output must be \(x.dtype), got \(out.dtype)") }
    switch out.dtype {
    case .float32, .float16, .bfloat16: try floatMath(call) { v in v.magnitude }
    case .int64: mapSame(x, out, Int64.self) { v in v < 0 ? 0 &- v : v }
    case .int32: mapSame(x, out, Int32.self) { v in v < 0 ? 0 &- v : v }
    case .int16: mapSame(x, out, Int16.self) { v in v < 0 ? 0 &- v : v }
    case .int8: mapSame(x, out, Int8.self) { v in v < 0 ? 0 &- v : v }
    case .uint8: mapSame(x, out, UInt8.self) { v in v }
    case .bool: throw call.error("expected a numeric tensor, got bool")
    }
}

/// logical_not: `x == 0` as bool (NaN is true, so its negation is false).
private func logicalNot(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let out = try call.output(shaped: x.shape)
    guard out.dtype == .bool else { throw call.error("output must be bool, got \(out.dtype)") }
    let n = out.elementCount
    guard n > 0, let o = out.unsafeMutableBuffer(of: Bool.self).baseAddress else { return }
    switch x.dtype {
    case .float32:
        let p = x.unsafeBuffer(of: Float.self).baseAddress!
        for i in 0..<n { o[i] = p[i] == 0 }
    case .bool:
        let p = boolBytes(x)!
        for i in 0..<n { o[i] = p.load(fromByteOffset: i, as: UInt8.self) == 0 }
    case .float16, .bfloat16:
        let p = ConvertingReader<Float>(x)
        for i in 0..<n { o[i] = p[i] == 0 }
    default:
        let p = ConvertingReader<Int64>(x)
        for i in 0..<n { o[i] = p[i] == 0 }
    }
}

/// gelu: `x * Φ(x)`, with `Φ(x) = 0.5 * (1 + erf(x / sqrt(2)))`, or with approximate="tanh"
/// `0.5 * (1 + tanh(u))` for `u = sqrt(2 / pi) * (x + 0.044715 * x^3)`.
///
/// ATen writes `x * 0.5 * (1 + erf(...))` and `0.5 * x * (1 + tanh(u))`, whose `1 + ...` cancels
/// for x below about -3 (float32 keeps few digits of the result there). Kiln evaluates the same
/// functions without the cancellation: `0.5 * erfc(-x / sqrt(2))` and `1 / (1 + exp(-2u))`.
private func gelu(_ call: KernelCall) throws(KernelError) {
    switch call.arguments.string("approximate") {
    case "none":
        let alpha = Float(0.5.squareRoot())  // M_SQRT1_2
        try floatMath(call) { x in x * (0.5 * erfc(-x * alpha)) }
    case "tanh":
        let beta = Float(2.0.squareRoot() * (2 / Double.pi.squareRoot()) * 0.5)  // M_SQRT2 * M_2_SQRTPI * 0.5
        let kappa: Float = 0.044715
        try floatMath(call) { x in
            let inner = beta * (x + kappa * (x * x * x))
            return x / (1 + exp(-2 * inner))
        }
    case let other:
        throw call.error("approximate must be \"none\" or \"tanh\", got \"\(other)\"")
    }
}

/// leaky_relu: `x > 0 ? x : x * negative_slope` (NaN stays NaN).
private func leakyRelu(_ call: KernelCall) throws(KernelError) {
    let slope = Float(scalar: try ScalarArgument(call, "negative_slope"))
    try floatMath(call) { x in x > 0 ? x : x * slope }
}

/// clamp: `min(max(x, min), max)` with scalar bounds rounded to the result dtype; NaN in x or
/// a bound gives NaN.
private func clamp(_ call: KernelCall) throws(KernelError) {
    let low: ScalarArgument? = call.arguments["min"] == .none ? nil : try ScalarArgument(call, "min")
    let high: ScalarArgument? = call.arguments["max"] == .none ? nil : try ScalarArgument(call, "max")
    try clampScalars(call, low, high)
}

/// hardtanh: clamp to `[min_val, max_val]` in x's dtype.
private func hardtanh(_ call: KernelCall) throws(KernelError) {
    try clampScalars(call, try ScalarArgument(call, "min_val"), try ScalarArgument(call, "max_val"))
}

/// clamp.Tensor: `min(max(x, min), max)` with tensor bounds, the three broadcast and converted to
/// the promoted dtype; NaN anywhere gives NaN.
private func clampTensor(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self"), low = call.optionalInput("min"), high = call.optionalInput("max")
    let out = try call.output(broadcasting: x, "self")
    if let low { try call.output(broadcasting: low, "min") }
    if let high { try call.output(broadcasting: high, "max") }
    switch out.dtype {
    case .float32: clampTensors(x, low, high, out, Float.self)
    case .float16: clampTensors(x, low, high, out, Float16.self)
    case .bfloat16: clampTensors(x, low, high, out, BFloat16.self)
    case .int64: clampTensors(x, low, high, out, Int64.self)
    case .int32: clampTensors(x, low, high, out, Int32.self)
    case .int16: clampTensors(x, low, high, out, Int16.self)
    case .int8: clampTensors(x, low, high, out, Int8.self)
    case .uint8: clampTensors(x, low, high, out, UInt8.self)
    case .bool: throw call.error("expected a numeric output, got bool")
    }
}

// MARK: - Clamping

/// `std::min(std::max(x, low), high)` as ATen writes it (NaN in x stays), with NaN bounds giving NaN.
@inline(__always)
private func clampValue<C: KernelNumber>(_ x: C, _ low: C?, _ high: C?) -> C {
    var v = x
    if let low {
        if low != low { return low }
        v = v < low ? low : v
    }
    if let high {
        if high != high { return high }
        v = high < v ? high : v
    }
    return v
}

/// ``clampValue(_:_:_:)`` on stored elements, in their compute type.
@inline(__always)
private func clampOnce<E: ComputedElement>(_ x: E, _ low: E?, _ high: E?) -> E {
    E(computed: clampValue(x.computeValue, low?.computeValue, high?.computeValue))
}

/// `min(max(x, low), high)` in Float, for the fixed bounds of hardswish and hardsigmoid.
@inline(__always)
private func hardClamp(_ x: Float, _ low: Float, _ high: Float) -> Float {
    let v = x < low ? low : x
    return high < v ? high : v
}

private func clampScalars(_ call: KernelCall, _ low: ScalarArgument?, _ high: ScalarArgument?) throws(KernelError) {
    let x = call.input("self")
    let out = try call.output(shaped: x.shape)
    switch out.dtype {
    case .float32: clampScalars(x, out, Float.self, low, high)
    case .float16: clampScalars(x, out, Float16.self, low, high)
    case .bfloat16: clampScalars(x, out, BFloat16.self, low, high)
    case .int64: clampScalars(x, out, Int64.self, low, high)
    case .int32: clampScalars(x, out, Int32.self, low, high)
    case .int16: clampScalars(x, out, Int16.self, low, high)
    case .int8: clampScalars(x, out, Int8.self, low, high)
    case .uint8: clampScalars(x, out, UInt8.self, low, high)
    case .bool: throw call.error("expected a numeric output, got bool")
    }
}

/// Bounds rounded to `Out` as ATen's `Scalar::to<scalar_t>()` does, then compared in its
/// compute type.
@inline(__always)
private func clampScalars<Out: ComputedElement>(_ x: Tensor, _ out: Tensor, _: Out.Type,
                                                _ low: ScalarArgument?, _ high: ScalarArgument?) {
    let lo = low.map { Out(computed: Out.Compute(scalar: $0)).computeValue }
    let hi = high.map { Out(computed: Out.Compute(scalar: $0)).computeValue }
    switch (lo, hi) {
    case (let lo?, let hi?):
        if lo != lo || hi != hi {
            mapToOutput(x, out, Out.self) { _ in lo != lo ? lo : hi }
        } else {
            mapToOutput(x, out, Out.self) { v in
                let m = v < lo ? lo : v
                return hi < m ? hi : m
            }
        }
    case (let lo?, nil): mapToOutput(x, out, Out.self) { v in clampValue(v, lo, nil) }
    case (nil, let hi?): mapToOutput(x, out, Out.self) { v in clampValue(v, nil, hi) }
    case (nil, nil): mapToOutput(x, out, Out.self) { v in v }
    }
}

private func clampTensors<Out: ComputedElement & CastTarget>(_ x: Tensor, _ low: Tensor?, _ high: Tensor?,
                                                             _ out: Tensor, _: Out.Type) {
    let n = out.elementCount
    guard n > 0, let o = out.unsafeMutableBuffer(of: Out.self).baseAddress else { return }
    // An absent bound reads as x itself and is not applied.
    let (lowOrX, highOrX) = (low ?? x, high ?? x)
    let (hasLow, hasHigh) = (low != nil, high != nil)
    if x.dtype == Out.dtype && lowOrX.dtype == Out.dtype && highOrX.dtype == Out.dtype {
        // One dtype: read memory in place.
        let xs = x.unsafeBuffer(of: Out.self).baseAddress!
        let ls = lowOrX.unsafeBuffer(of: Out.self).baseAddress!, hs = highOrX.unsafeBuffer(of: Out.self).baseAddress!
        Broadcast3.forEachRun(out.shape, x.shape, lowOrX.shape, highOrX.shape) { start, count, rx, rl, rh in
            let (r, p, l, h) = (o + start, xs + rx.start, ls + rl.start, hs + rh.start)
            if rx.step == 1 && rl.step == 1 && rh.step == 1 {
                // Equal shapes along the run: one flat loop per bound combination.
                switch (hasLow, hasHigh) {
                case (true, true): for j in 0..<count { r[j] = clampOnce(p[j], l[j], h[j]) }
                case (true, false): for j in 0..<count { r[j] = clampOnce(p[j], l[j], nil) }
                default: for j in 0..<count { r[j] = clampOnce(p[j], nil, h[j]) }
                }
            } else {
                for j in 0..<count {
                    r[j] = clampOnce(p[j * rx.step], hasLow ? l[j * rl.step] : nil, hasHigh ? h[j * rh.step] : nil)
                }
            }
        }
        return
    }
    let xs = CastReader<Out>(x), ls = CastReader<Out>(lowOrX), hs = CastReader<Out>(highOrX)
    Broadcast3.forEach(out.shape, x.shape, lowOrX.shape, highOrX.shape) { i, ix, il, ih in
        let v = clampValue(xs[ix].computeValue, hasLow ? ls[il].computeValue : nil,
                           hasHigh ? hs[ih].computeValue : nil)
        o[i] = Out(computed: v)
    }
}

// MARK: - Loops

/// Runs `f` in Float on a floating-point output with `self`'s shape; integer and bool inputs are
/// read as Float.
@inline(__always)
func floatMath(_ call: KernelCall, _ f: (Float) -> Float) throws(KernelError) {
    let x = call.input("self")
    let out = try call.output(shaped: x.shape)
    switch out.dtype {
    case .float32: mapToOutput(x, out, Float.self, f)
    case .float16: mapToOutput(x, out, Float16.self, f)
    case .bfloat16: mapToOutput(x, out, BFloat16.self, f)
    default: throw call.error("expected a floating-point output, got \(out.dtype)")
    }
}

/// `out[i] = f(x[i])` in `Out`'s compute type; `x` of another dtype is converted on read.
@inline(__always)
func mapToOutput<Out: ComputedElement>(_ x: Tensor, _ out: Tensor, _: Out.Type,
                                       _ f: (Out.Compute) -> Out.Compute) {
    let n = out.elementCount
    guard n > 0, let o = out.unsafeMutableBuffer(of: Out.self).baseAddress else { return }
    if x.dtype == Out.dtype {
        // The contiguous fast path: plain pointers, one flat loop.
        let p = x.unsafeBuffer(of: Out.self).baseAddress!
        for i in 0..<n { o[i] = Out(computed: f(p[i].computeValue)) }
    } else {
        let p = ConvertingReader<Out.Compute>(x)
        for i in 0..<n { o[i] = Out(computed: f(p[i])) }
    }
}

/// `out[i] = f(x[i])` for an output of `x`'s dtype.
@inline(__always)
private func mapSame<E: TensorElement>(_ x: Tensor, _ out: Tensor, _: E.Type, _ f: (E) -> E) {
    let n = out.elementCount
    guard n > 0, let o = out.unsafeMutableBuffer(of: E.self).baseAddress,
          let p = x.unsafeBuffer(of: E.self).baseAddress else { return }
    for i in 0..<n { o[i] = f(p[i]) }
}
