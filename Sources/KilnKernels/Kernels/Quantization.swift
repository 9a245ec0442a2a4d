import KilnOps
import KilnTensor

/// Portable kernels for PT2E's `quantized_decomposed` family, bit-exact with
/// `torch/ao/quantization/fx/_decomposed.py` (torch 2.13, CPU).
///
/// Every quantize/dequantize form is one loop over runs of elements: the input, in row-major
/// order, is runs of `run` elements, and run `k` uses qparams number `k % count`
/// (per-tensor: one run; per-channel: runs of the dims after `axis`; per-group: runs of
/// `group_size`; per-token: runs of the last dim). The forms differ where torch's arithmetic does:
///
/// - quantize: `x * (1 / scale)` in f32, with the reciprocal rounded to the scales' dtype;
///   per-tensor and per-channel round and then add the zero point
///   (`clamp(round(x * inv) + zp)`), per-token and per-group add and then round
///   (`clamp(round(x * inv + zp))`), which differ at ties when the zero point is odd.
/// - dequantize per-tensor works on Python numbers in the output dtype, rounding after each step:
///   `((out(q) - zp) * scale)`; the tensor forms subtract integers exactly, multiply in the
///   scales' dtype, and round to the output dtype once: `out((q - zp) * scales)`.
///
/// Inputs in f16/bf16 are quantized through f32, as torch does. Where torch leaves a result
/// undefined (NaN converted to an integer) these kernels write 0 clamped into the range, which is
/// what torch gives on x86.
let quantizationKernels: [KernelEntry] = [
    KernelEntry(op: "quantized_decomposed.quantize_per_tensor",
                name: "f32_quantize_per_tensor__portable", kernel: quantizePerTensor),
    KernelEntry(op: "quantized_decomposed.quantize_per_tensor.tensor",
                name: "f32_quantize_per_tensor_tensor__portable", kernel: quantizePerTensor),
    KernelEntry(op: "quantized_decomposed.dequantize_per_tensor",
                name: "f32_dequantize_per_tensor__portable", kernel: dequantizePerTensor),
    KernelEntry(op: "quantized_decomposed.dequantize_per_tensor.tensor",
                name: "f32_dequantize_per_tensor_tensor__portable", kernel: dequantizePerTensor),
    KernelEntry(op: "quantized_decomposed.quantize_per_channel",
                name: "f32_quantize_per_channel__portable", kernel: quantizePerChannel),
    KernelEntry(op: "quantized_decomposed.dequantize_per_channel",
                name: "f32_dequantize_per_channel__portable", kernel: dequantizePerChannel),
    KernelEntry(op: "quantized_decomposed.quantize_per_channel_group",
                name: "f32_quantize_per_channel_group__portable", scratchBytes: widenedInputBytes,
                kernel: quantizePerChannelGroup),
    KernelEntry(op: "quantized_decomposed.dequantize_per_channel_group",
                name: "f32_dequantize_per_channel_group__portable", kernel: dequantizePerChannelGroup),
    KernelEntry(op: "quantized_decomposed.quantize_per_token",
                name: "f32_quantize_per_token__portable", kernel: quantizePerToken),
    KernelEntry(op: "quantized_decomposed.dequantize_per_token",
                name: "f32_dequantize_per_token__portable", kernel: dequantizePerToken),
    KernelEntry(op: "quantized_decomposed.choose_qparams.tensor",
                name: "f32_choose_qparams_tensor__portable", scratchBytes: widenedInputBytes, kernel: chooseQParamsTensor),
    KernelEntry(op: "quantized_decomposed.choose_qparams_per_token_asymmetric",
                name: "f32_choose_qparams_per_token_asymmetric__portable", scratchBytes: widenedInputBytes,
                kernel: chooseQParamsPerTokenAsymmetric),
]

/// The scratch of kernels that read an f16/bf16 `input` widened to f32 (none for f32 inputs),
/// through `Tensor.withFloatValues(_:_:)` below.
private func widenedInputBytes(_ call: KernelCall) -> Int {
    let x = call.input("input")
    return x.dtype == .float32 ? 0 : Scratch.bytes(Float.self, count: x.elementCount)
}

// MARK: - Kernels

/// quantize_per_tensor (scale and zero point as numbers or one-element tensors).
private func quantizePerTensor(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input")
    let params = try QParams(perTensor: call, elements: x.elementCount)
    try quantize(call, x, params, zeroPointFirst: false)
}

/// dequantize_per_tensor (scale and zero point as numbers or one-element tensors).
private func dequantizePerTensor(_ call: KernelCall) throws(KernelError) {
    let q = call.input("input")
    let params = try QParams(perTensor: call, elements: q.elementCount)
    try dequantize(call, q, params, perTensor: true)
}

/// quantize_per_channel: one scale and zero point per index of dim `axis`.
private func quantizePerChannel(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input")
    let (run, count) = try channelRuns(call, x)
    let params = try QParams(call, run: run, count: count)
    try quantize(call, x, params, zeroPointFirst: false)
}

/// dequantize_per_channel: one scale (and zero point, when given) per index of dim `axis`.
private func dequantizePerChannel(_ call: KernelCall) throws(KernelError) {
    let q = call.input("input")
    let (run, count) = try channelRuns(call, q)
    let params = try QParams(call, run: run, count: count)
    try dequantize(call, q, params, perTensor: false)
}

/// quantize_per_channel_group: [rows, cols] input, scales [rows, cols / group_size].
private func quantizePerChannelGroup(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input")
    let group = try groupRuns(call, x)
    // torch refuses NaNs here ("to_quant must not contain NaNs").
    try x.withFloatValues(call) { values throws(KernelError) in
        for v in values where v.isNaN { throw call.error("input contains NaN") }
    }
    let params = try QParams(call, run: group, count: x.elementCount / group)
    try quantize(call, x, params, zeroPointFirst: true)
}

/// dequantize_per_channel_group: [rows, cols] input, scales [rows, cols / group_size].
private func dequantizePerChannelGroup(_ call: KernelCall) throws(KernelError) {
    let q = call.input("input")
    let group = try groupRuns(call, q)
    let params = try QParams(call, run: group, count: q.elementCount / group)
    try dequantize(call, q, params, perTensor: false)
}

/// quantize_per_token: one scale and zero point per row of the last dim.
private func quantizePerToken(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input")
    let (run, count) = try tokenRuns(call, x)
    let params = try QParams(call, run: run, count: count)
    try quantize(call, x, params, zeroPointFirst: true)
}

/// dequantize_per_token: one scale and zero point per row of the last dim.
private func dequantizePerToken(_ call: KernelCall) throws(KernelError) {
    let q = call.input("input")
    let (run, count) = try tokenRuns(call, q)
    let params = try QParams(call, run: run, count: count)
    try dequantize(call, q, params, perTensor: false)
}

/// choose_qparams.tensor: torch's `determine_qparams` with the per-tensor affine scheme.
///
/// `scale = max((max(x_max, 0) - min(x_min, 0)) / (quant_max - quant_min), eps)`,
/// `zero_point = clamp(quant_min - round(min(x_min, 0) / scale), quant_min, quant_max)`.
/// torch returns the scale as f64; it is computed in f32 (or the input's dtype), so the f32
/// result here is the same number.
private func chooseQParamsTensor(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input")
    let (qmin, qmax) = (call.arguments.int("quant_min"), call.arguments.int("quant_max"))
    let eps = Float(call.arguments.float("eps"))
    let (scaleOut, zeroPointOut) = try qparamOutputs(call, count: 1)
    // 1. torch's validate_qmin_qmax: the range holds 0 and more than one value.
    guard qmin <= 0, 0 <= qmax, qmin < qmax else {
        throw call.error("quant_min \(qmin) and quant_max \(qmax) must satisfy quant_min <= 0 <= quant_max, quant_min < quant_max")
    }
    guard x.elementCount > 0 else { throw call.error("cannot choose qparams for an empty input") }

    // 2. The input's min and max (exact in f32 for every float dtype).
    var (lo, hi) = (Float.infinity, -Float.infinity)
    try x.withFloatValues(call) { values throws(KernelError) in
        for v in values {
            guard v.isFinite else { throw call.error("input contains \(v)") }
            lo = Swift.min(lo, v)
            hi = Swift.max(hi, v)
        }
    }
    // 3. Widen the range to hold 0; scale in the input's dtype, then at least eps (in f32).
    let dtype = x.dtype
    let minNeg = Swift.min(lo, 0), maxPos = Swift.max(hi, 0)
    let span = rounded(maxPos - minNeg, to: dtype)
    let scale = Swift.max(rounded(span / Float(qmax - qmin), to: dtype), eps)
    // 4. The zero point that puts min(x_min, 0) on quant_min, clamped into the range.
    let zeroPoint = Int64(qmin) - integer((minNeg / scale).rounded(.toNearestOrEven))
    scaleOut[0] = scale
    zeroPointOut[0] = Swift.min(Swift.max(zeroPoint, Int64(qmin)), Int64(qmax))
}

/// choose_qparams_per_token_asymmetric: per row of the last dim, XNNPACK's asymmetric int8 qparams.
///
/// torch always uses the range -128...127 here, whatever `dtype` says, and computes in the
/// input's dtype; its f64 scale is that number, written here as f32.
private func chooseQParamsPerTokenAsymmetric(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input")
    guard x.rank > 0 else { throw call.error("expected an input of rank 1 or more, got \(x)") }
    let length = x.shape[x.rank - 1]
    let rows = x.shape.dropLast().reduce(1, *)
    let (scaleOut, zeroPointOut) = try qparamOutputs(call, count: rows)
    guard rows > 0 else { return }
    guard length > 0 else { throw call.error("cannot choose qparams for rows of length 0") }
    let (qmin, qmax): (Float, Float) = (-128, 127)
    let eps = Float.ulpOfOne   // torch.finfo(torch.float32).eps
    let dtype = x.dtype
    /// One step of torch's arithmetic in the input's dtype.
    func r(_ v: Float) -> Float { rounded(v, to: dtype) }

    x.withFloatValues(call) { values in
        for row in 0..<rows {
            // 1. The row's min and max; NaN propagates as in torch.amin / amax.
            var (lo, hi) = (Float.infinity, -Float.infinity)
            for v in values[(row * length)..<((row + 1) * length)] {
                lo = v.isNaN || lo.isNaN ? .nan : Swift.min(lo, v)
                hi = v.isNaN || hi.isNaN ? .nan : Swift.max(hi, v)
            }
            let minNeg = lo.isNaN ? lo : Swift.min(lo, 0)
            let maxPos = hi.isNaN ? hi : Swift.max(hi, 0)
            // 2. scale = max((maxPos - minNeg) / 255, eps); NaN stays NaN (torch's clamp).
            var scale = r(r(maxPos - minNeg) / (qmax - qmin))
            if scale < eps { scale = eps }
            // 3. The zero point from whichever end has the smaller error, clamped, then rounded.
            let descaledMin = r(minNeg / scale), descaledMax = r(maxPos / scale)
            let errorSum = r(r(qmin + descaledMin) + r(qmax + descaledMax))
            var zeroPoint = errorSum > 0 ? r(qmin - descaledMin) : r(qmax - descaledMax)
            if zeroPoint < qmin { zeroPoint = qmin }
            if zeroPoint > qmax { zeroPoint = qmax }
            scaleOut[row] = scale
            zeroPointOut[row] = integer(zeroPoint.rounded(.toNearestOrEven))
        }
    }
}

// MARK: - Qparam layouts

/// Runs for per-channel qparams: the elements after `axis` share one channel.
private func channelRuns(_ call: KernelCall, _ x: Tensor) throws(KernelError) -> (run: Int, count: Int) {
    guard x.rank > 0 else { throw call.error("expected an input of rank 1 or more, got \(x)") }
    let axis = call.arguments.int("axis")
    guard axis >= -x.rank, axis < x.rank else {
        throw call.error("axis \(axis) is out of range for \(x)")
    }
    let a = axis < 0 ? axis + x.rank : axis
    return (x.shape[(a + 1)...].reduce(1, *), x.shape[a])
}

/// The group size of a per-group call on a [rows, cols] input.
private func groupRuns(_ call: KernelCall, _ x: Tensor) throws(KernelError) -> Int {
    guard x.rank == 2 else { throw call.error("expected a rank-2 input, got \(x)") }
    let group = call.arguments.int("group_size")
    guard group > 0, x.shape[1] % group == 0 else {
        throw call.error("input dim 1 (\(x.shape[1])) is not a multiple of group_size \(group)")
    }
    return group
}

/// Runs for per-token qparams: one row of the last dim each.
private func tokenRuns(_ call: KernelCall, _ x: Tensor) throws(KernelError) -> (run: Int, count: Int) {
    guard x.rank > 0 else { throw call.error("expected an input of rank 1 or more, got \(x)") }
    return (x.shape[x.rank - 1], x.shape.dropLast().reduce(1, *))
}

/// The qparams of one call: run `k` of `run` elements uses scale and zero point `k % count`.
private struct QParams {
    enum Values {
        /// A Python number (per-tensor forms, including their one-element tensors: torch `.item()`s them).
        case number(Double)
        case tensor(Tensor)
        case absent
    }

    let run: Int
    let count: Int
    let scales: Values
    let zeroPoints: Values
    /// The dtype torch does scale arithmetic in: f32 for numbers, the scales' dtype for tensors.
    let arithmetic: DType

    /// The qparams of a per-tensor form: `scale` and `zero_point` as numbers or one-element
    /// tensors, which torch reads with `.item()` and so treats as numbers.
    init(perTensor call: KernelCall, elements: Int) throws(KernelError) {
        func number(_ name: String, float: Bool) throws(KernelError) -> Values {
            switch call.arguments[name] {
            case .float(let v): return .number(v)
            case .int(let v): return .number(Double(v))
            case .tensor(let i):
                let t = call.inputs[i]
                guard t.elementCount == 1, float ? t.dtype.isFloatingPoint : t.dtype.isInteger else {
                    throw call.error("expected a one-element \(float ? "floating-point" : "integer") \(name), got \(t)")
                }
                return .number(Double(elementValue(t, 0)))
            default:
                throw call.error("expected a number or a one-element tensor for \(name)")
            }
        }
        (run, count, arithmetic) = (elements, 1, .float32)
        scales = try number("scale", float: true)
        zeroPoints = try number("zero_point", float: false)
    }

    /// The qparams of a per-channel, per-group or per-token form: `count` values in the tensors
    /// `scales` and (optionally) `zero_points`.
    init(_ call: KernelCall, run: Int, count: Int) throws(KernelError) {
        let s = call.input("scales")
        guard s.dtype.isFloatingPoint, s.elementCount == count else {
            throw call.error("expected \(count) floating-point scales, got \(s)")
        }
        (self.run, self.count, scales, arithmetic) = (run, count, .tensor(s), s.dtype)
        if let z = call.optionalInput("zero_points") {
            guard z.dtype.isInteger || z.dtype.isFloatingPoint, z.elementCount == count else {
                throw call.error("expected \(count) numeric zero points, got \(z)")
            }
            zeroPoints = .tensor(z)
        } else {
            zeroPoints = .absent
        }
    }

    /// Scale `k` as the multiplier torch uses when dequantizing.
    func scale(_ k: Int) -> Float {
        switch scales {
        case .number(let v): return Float(v)
        case .tensor(let t): return elementValue(t, k)
        case .absent: return 1
        }
    }

    /// `1 / scale` as torch computes it before quantizing: in f64 for numbers (then rounded to the
    /// f32 it multiplies with), in the scales' dtype for tensors.
    func inverseScale(_ k: Int) -> Float {
        switch scales {
        case .number(let v): return Float(1 / v)
        case .tensor(let t): return rounded(1 / elementValue(t, k), to: t.dtype)
        case .absent: return 1
        }
    }

    /// Zero point `k` as a float (0 when absent).
    func zeroPoint(_ k: Int) -> Float {
        switch zeroPoints {
        case .number(let v): return Float(v)
        case .tensor(let t): return elementValue(t, k)
        case .absent: return 0
        }
    }

    /// Zero point `k` as an integer when the zero points are an integer tensor or absent (torch
    /// then subtracts integers), nil when they are floats.
    func integerZeroPoint(_ k: Int) -> Int64? {
        switch zeroPoints {
        case .tensor(let t) where t.dtype.isInteger: return integerElement(t, k)
        case .absent: return 0
        default: return nil
        }
    }
}

// MARK: - Quantize

/// Integer range quant_min...quant_max and the conversion torch does into it.
private struct QuantRange {
    let min: Int64
    let max: Int64
    let lower: Float
    let upper: Float

    init(_ call: KernelCall, dtype: DType) throws(KernelError) {
        let (lo, hi) = (Int64(call.arguments.int("quant_min")), Int64(call.arguments.int("quant_max")))
        guard let range = dtype.integerRange, lo <= hi, range.contains(lo), range.contains(hi) else {
            throw call.error("range \(lo)...\(hi) does not fit \(dtype)")
        }
        (min, max, lower, upper) = (lo, hi, Float(lo), Float(hi))
    }

    /// `clamp(v, quant_min, quant_max)` in f32 and the conversion to an integer (truncating, as
    /// `.to(dtype)` does); NaN becomes 0, clamped into the range.
    @inline(__always)
    func clamp(_ v: Float) -> Int64 {
        if v.isNaN { return Swift.min(Swift.max(0, min), max) }
        if v <= lower { return min }
        if v >= upper { return max }
        return Swift.min(Swift.max(Int64(v), min), max)
    }
}

/// Quantizes `x` into the call's output with `params`.
private func quantize(_ call: KernelCall, _ x: Tensor, _ params: QParams, zeroPointFirst: Bool) throws(KernelError) {
    let out = try singleOutput(call, shape: x.shape)
    let range = try QuantRange(call, dtype: out.dtype)
    guard x.elementCount > 0 else { return }
    // Dispatch on the input's float type, then on the output's integer type.
    switch x.dtype {
    case .float32: try quantize(call, x.unsafeBuffer(of: Float.self), out, params, range, zeroPointFirst)
    case .float16: try quantize(call, x.unsafeBuffer(of: Float16.self), out, params, range, zeroPointFirst)
    case .bfloat16: try quantize(call, x.unsafeBuffer(of: BFloat16.self), out, params, range, zeroPointFirst)
    default: throw call.error("expected a floating-point input, got \(x.dtype)")
    }
}

private func quantize<In: TensorElement>(_ call: KernelCall, _ x: UnsafeBufferPointer<In>, _ out: Tensor,
                                         _ p: QParams, _ range: QuantRange, _ zeroPointFirst: Bool) throws(KernelError) {
    switch out.dtype {
    case .int8: quantizeRuns(x, out.unsafeMutableBuffer(of: Int8.self), p, range, zeroPointFirst)
    case .uint8: quantizeRuns(x, out.unsafeMutableBuffer(of: UInt8.self), p, range, zeroPointFirst)
    case .int16: quantizeRuns(x, out.unsafeMutableBuffer(of: Int16.self), p, range, zeroPointFirst)
    case .int32: quantizeRuns(x, out.unsafeMutableBuffer(of: Int32.self), p, range, zeroPointFirst)
    case .int64: quantizeRuns(x, out.unsafeMutableBuffer(of: Int64.self), p, range, zeroPointFirst)
    default: throw call.error("expected an integer output, got \(out.dtype)")
    }
}

/// The quantize loop: per run, fetch the qparams; per element, scale, round, shift and clamp.
private func quantizeRuns<In: TensorElement, Out: FixedWidthInteger & TensorElement>(
    _ x: UnsafeBufferPointer<In>, _ q: UnsafeMutableBufferPointer<Out>, _ p: QParams, _ range: QuantRange,
    _ zeroPointFirst: Bool
) {
    for k in 0..<(x.count / p.run) {
        // 1. This run's reciprocal scale and zero point.
        let inv = p.inverseScale(k % p.count)
        let zp = p.zeroPoint(k % p.count)
        let start = k * p.run
        // 2. Every element in f32: x * inv, then ties-to-even rounding before or after adding zp;
        //    f32 → 8-bit takes a loop the compiler vectorizes (the same arithmetic), the rest this one.
        if quantizeLanes(x, q, from: start, count: p.run, inv: inv, zp: zp, range, zeroPointFirst) { continue }
        if zeroPointFirst {
            for j in start..<(start + p.run) {
                let v = (x[j].floatValue * inv + zp).rounded(.toNearestOrEven)
                q[j] = Out(truncatingIfNeeded: range.clamp(v))
            }
        } else {
            for j in start..<(start + p.run) {
                let v = (x[j].floatValue * inv).rounded(.toNearestOrEven) + zp
                q[j] = Out(truncatingIfNeeded: range.clamp(v))
            }
        }
    }
}

/// Quantizes `count` elements from `start` when the input is f32 and the output int8 or uint8,
/// in a loop the compiler vectorizes; false (nothing written) otherwise. Element for
/// element the arithmetic of ``quantizeRuns(_:_:_:_:_:)``: the same f32 product, sum and
/// ties-to-even rounding; NaN becomes 0; after the clamp the value is an integer in the 8-bit
/// range, read off the low bits of `value + 1.5 · 2²³` (exact for |value| < 2²²) instead of a
/// trapping conversion.
@inline(__always)
private func quantizeLanes<In: TensorElement, Out: FixedWidthInteger & TensorElement>(
    _ x: UnsafeBufferPointer<In>, _ q: UnsafeMutableBufferPointer<Out>, from start: Int, count: Int,
    inv: Float, zp: Float, _ range: QuantRange, _ zeroPointFirst: Bool
) -> Bool {
    guard In.self == Float.self, Out.self == Int8.self || Out.self == UInt8.self, let xBase = x.baseAddress,
          let qBase = q.baseAddress else { return false }
    let source = UnsafeRawPointer(xBase + start).assumingMemoryBound(to: Float.self)
    let target = UnsafeMutableRawPointer(qBase + start).assumingMemoryBound(to: UInt8.self)
    if zeroPointFirst {
        quantizeBytes(source, target, count, range.lower, range.upper) { ($0 * inv + zp).rounded(.toNearestOrEven) }
    } else {
        quantizeBytes(source, target, count, range.lower, range.upper) { ($0 * inv).rounded(.toNearestOrEven) + zp }
    }
    return true
}

/// `target[j] = low byte of clamp(nan→0(value(source[j])), lower, upper)`.
@inline(__always)
private func quantizeBytes(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<UInt8>, _ count: Int,
                           _ lower: Float, _ upper: Float, _ value: (Float) -> Float) {
    let magic: Float = 12_582_912  // 1.5 · 2²³: adding it puts an integer of magnitude < 2²² in the low bits
    for j in 0..<count {
        var r = value(source[j])
        r = r != r ? 0 : r
        r = r < lower ? lower : (r > upper ? upper : r)
        target[j] = UInt8(truncatingIfNeeded: (r + magic).bitPattern)
    }
}

// MARK: - Dequantize

/// Dequantizes `q` into the call's output with `params`.
private func dequantize(_ call: KernelCall, _ q: Tensor, _ params: QParams, perTensor: Bool) throws(KernelError) {
    let out = try singleOutput(call, shape: q.shape)
    guard q.elementCount > 0 else { return }
    // Dispatch on the input's integer type, then on the output's float type.
    switch q.dtype {
    case .int8: try dequantize(call, q.unsafeBuffer(of: Int8.self), out, params, perTensor)
    case .uint8: try dequantize(call, q.unsafeBuffer(of: UInt8.self), out, params, perTensor)
    case .int16: try dequantize(call, q.unsafeBuffer(of: Int16.self), out, params, perTensor)
    case .int32: try dequantize(call, q.unsafeBuffer(of: Int32.self), out, params, perTensor)
    case .int64: try dequantize(call, q.unsafeBuffer(of: Int64.self), out, params, perTensor)
    default: throw call.error("expected an integer input, got \(q.dtype)")
    }
}

private func dequantize<In: FixedWidthInteger & TensorElement>(_ call: KernelCall, _ q: UnsafeBufferPointer<In>,
                                                               _ out: Tensor, _ p: QParams, _ perTensor: Bool) throws(KernelError) {
    switch out.dtype {
    case .float32: dequantizeRuns(q, out.unsafeMutableBuffer(of: Float.self), p, perTensor)
    case .float16: dequantizeRuns(q, out.unsafeMutableBuffer(of: Float16.self), p, perTensor)
    case .bfloat16: dequantizeRuns(q, out.unsafeMutableBuffer(of: BFloat16.self), p, perTensor)
    default: throw call.error("expected a floating-point output, got \(out.dtype)")
    }
}

/// The dequantize loop: per run, fetch the qparams; per element, shift and scale as torch does.
private func dequantizeRuns<In: FixedWidthInteger & TensorElement, Out: RoundedFloat>(
    _ q: UnsafeBufferPointer<In>, _ out: UnsafeMutableBufferPointer<Out>, _ p: QParams, _ perTensor: Bool
) {
    let dtype = p.arithmetic
    if !perTensor, p.run == 1, dequantizeLastAxis(q, out, p) { return }
    for k in 0..<(q.count / p.run) {
        // 1. This run's scale and zero point.
        let s = p.scale(k % p.count)
        let start = k * p.run
        if perTensor {
            // 2a. Per-tensor: `(q.to(out) - zp) * scale`, each step rounded to the output dtype.
            let zp = p.zeroPoint(k % p.count)
            if dequantizeLanes(q, out, from: start, count: p.run, zeroPoint: zp, scale: s) { continue }
            for j in start..<(start + p.run) {
                let v = Out.rounding(Float(q[j])).floatValue
                out[j] = Out.rounding(Out.rounding(v - zp).floatValue * s)
            }
        } else if let zp = p.integerZeroPoint(k % p.count) {
            // 2b. Integer zero points: exact `q - zp`, times scales in their dtype, then `.to(out)`.
            if dtype == .float32, zp.magnitude < 1 << 24,
               dequantizeLanes(q, out, from: start, count: p.run, zeroPoint: Float(zp), scale: s) {
                continue
            }
            for j in start..<(start + p.run) {
                let d = rounded(Float(Int64(q[j]) - zp), to: dtype)
                out[j] = Out.rounding(rounded(d * s, to: dtype))
            }
        } else {
            // 2c. Float zero points: `(q - zp) * scales` in f32, then `.to(out)`.
            let zp = p.zeroPoint(k % p.count)
            for j in start..<(start + p.run) {
                out[j] = Out.rounding((Float(q[j]) - zp) * s)
            }
        }
    }
}

/// `out[j] = (Float(q[j]) - zeroPoint) * scale` for `count` elements from `start` when the input
/// is int8 or uint8 and the output f32, in a loop the compiler vectorizes; false (nothing written)
/// otherwise. The same f32 arithmetic as the element loops when the zero point is an integer of
/// magnitude below 2²⁴ (the difference is then exact) or the per-tensor form (which subtracts in f32).
@inline(__always)
private func dequantizeLanes<In: FixedWidthInteger & TensorElement, Out: RoundedFloat>(
    _ q: UnsafeBufferPointer<In>, _ out: UnsafeMutableBufferPointer<Out>, from start: Int, count: Int,
    zeroPoint: Float, scale: Float
) -> Bool {
    guard Out.self == Float.self, In.self == Int8.self || In.self == UInt8.self, let qBase = q.baseAddress,
          let outBase = out.baseAddress else { return false }
    let target = UnsafeMutableRawPointer(outBase + start).assumingMemoryBound(to: Float.self)
    let source = qBase + start
    for j in 0..<count { target[j] = (Float(source[j]) - zeroPoint) * scale }
    return true
}

/// Per-channel qparams along the last dim (runs of one element: element i uses channel
/// i % count), int8 or uint8 in, f32 out, f32 scales, integer zero points of magnitude below 2²⁴
/// or none: row by row with the scales read in place, in a loop the compiler vectorizes, with the
/// arithmetic of case 2b in ``dequantizeRuns(_:_:_:_:)``. False (nothing written) otherwise.
private func dequantizeLastAxis<In: FixedWidthInteger & TensorElement, Out: RoundedFloat>(
    _ q: UnsafeBufferPointer<In>, _ out: UnsafeMutableBufferPointer<Out>, _ p: QParams
) -> Bool {
    guard Out.self == Float.self, In.self == Int8.self || In.self == UInt8.self, p.arithmetic == .float32,
          case .tensor(let scales) = p.scales, scales.dtype == .float32, scales.elementCount == p.count,
          q.count % p.count == 0, let qBase = q.baseAddress, let outBase = out.baseAddress else { return false }
    var zeroPoints: UnsafeBufferPointer<Int64>?
    switch p.zeroPoints {
    case .absent: zeroPoints = nil
    case .tensor(let t) where t.dtype == .int64 && t.elementCount == p.count:
        zeroPoints = t.unsafeBuffer(of: Int64.self)
        guard zeroPoints!.allSatisfy({ $0.magnitude < 1 << 24 }) else { return false }
    default: return false
    }
    let s = scales.unsafeBuffer(of: Float.self)
    let target = UnsafeMutableRawPointer(outBase).assumingMemoryBound(to: Float.self)
    let count = p.count
    for row in 0..<(q.count / count) {
        // Pointers rebased per row, so the loops index with `c` alone (no overflow checks to vectorize around).
        let base = row * count
        let dst = target + base, source = qBase + base
        if let zeroPoints {
            for c in 0..<count { dst[c] = (Float(source[c]) - Float(zeroPoints[c])) * s[c] }
        } else {
            for c in 0..<count { dst[c] = Float(source[c]) * s[c] }
        }
    }
    return true
}

// MARK: - Helpers

/// A float element type a Float rounds to (ties to even).
private protocol RoundedFloat: TensorElement {
    static func rounding(_ value: Float) -> Self
}

extension Float: RoundedFloat {
    fileprivate static func rounding(_ value: Float) -> Float { value }
}

extension Float16: RoundedFloat {
    fileprivate static func rounding(_ value: Float) -> Float16 { Float16(value) }
}

extension BFloat16: RoundedFloat {
    fileprivate static func rounding(_ value: Float) -> BFloat16 { BFloat16(value) }
}


/// An integral float as Int64, saturating; NaN becomes 0.
@inline(__always)
private func integer(_ v: Float) -> Int64 {
    if v.isNaN { return 0 }
    if v <= -9.223372e18 { return .min }
    if v >= 9.223372e18 { return .max }
    return Int64(v)
}

/// Element `i` of a numeric tensor as Float.
private func elementValue(_ t: Tensor, _ i: Int) -> Float {
    switch t.dtype {
    case .float32: return t.unsafeBuffer(of: Float.self)[i]
    case .float16: return Float(t.unsafeBuffer(of: Float16.self)[i])
    case .bfloat16: return t.unsafeBuffer(of: BFloat16.self)[i].floatValue
    case .int64: return Float(t.unsafeBuffer(of: Int64.self)[i])
    case .int32: return Float(t.unsafeBuffer(of: Int32.self)[i])
    case .int16: return Float(t.unsafeBuffer(of: Int16.self)[i])
    case .int8: return Float(t.unsafeBuffer(of: Int8.self)[i])
    case .uint8: return Float(t.unsafeBuffer(of: UInt8.self)[i])
    case .bool: return t.unsafeBuffer(of: Bool.self)[i] ? 1 : 0
    }
}

/// Element `i` of an integer tensor as Int64.
private func integerElement(_ t: Tensor, _ i: Int) -> Int64 {
    switch t.dtype {
    case .int64: return t.unsafeBuffer(of: Int64.self)[i]
    case .int32: return Int64(t.unsafeBuffer(of: Int32.self)[i])
    case .int16: return Int64(t.unsafeBuffer(of: Int16.self)[i])
    case .int8: return Int64(t.unsafeBuffer(of: Int8.self)[i])
    case .uint8: return Int64(t.unsafeBuffer(of: UInt8.self)[i])
    default: return integer(elementValue(t, i))
    }
}

/// The call's single output, which must have `shape`.
private func singleOutput(_ call: KernelCall, shape: [Int]) throws(KernelError) -> Tensor {
    guard call.outputs.count == 1 else { throw call.error("expected 1 output, got \(call.outputs.count)") }
    let out = call.outputs[0]
    guard out.shape == shape else { throw call.error("expected an output of shape \(shape), got \(out)") }
    return out
}

/// The two outputs of choose_qparams: `count` f32 scales and `count` int64 zero points.
private func qparamOutputs(_ call: KernelCall, count: Int) throws(KernelError)
    -> (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Int64>) {
    guard call.outputs.count == 2 else { throw call.error("expected 2 outputs, got \(call.outputs.count)") }
    let (s, z) = (call.outputs[0], call.outputs[1])
    guard s.dtype == .float32, z.dtype == .int64, s.elementCount == count, z.elementCount == count else {
        throw call.error("expected outputs f32 and i64 of \(count) elements, got \(s) and \(z)")
    }
    return (s.unsafeMutableBuffer(of: Float.self), z.unsafeMutableBuffer(of: Int64.self))
}

private extension Tensor {
    /// Calls `body` with the elements of a float tensor read as f32: the f32 buffer itself, or an
    /// f16/bf16 one widened once into the call's scratch (``widenedInputBytes(_:)``).
    func withFloatValues<R, E: Error>(_ call: KernelCall,
                                      _ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        if dtype == .float32 { return try body(unsafeBuffer(of: Float.self)) }
        return try Scratch.with(call, Float.self, count: elementCount) { (widened) throws(E) -> R in
            switch dtype {
            case .float16: widen(unsafeBuffer(of: Float16.self), into: widened)
            case .bfloat16: widen(unsafeBuffer(of: BFloat16.self), into: widened)
            default: for i in 0..<elementCount { widened[i] = elementValue(self, i) }
            }
            return try body(UnsafeBufferPointer(widened))
        }
    }
}

/// `destination[i] = source[i]` as f32.
private func widen<E: TensorElement>(_ source: UnsafeBufferPointer<E>, into destination: UnsafeMutableBufferPointer<Float>) {
    for i in 0..<source.count { destination[i] = source[i].floatValue }
}
