#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

// Portable kernels for the creation ops (full, zeros, ones, arange.start_step, which take no
// tensor) and the triangles (tril, triu). The output's dtype and shape come from the op's shape
// rule, so a kernel only fills it.

let creationKernels: [KernelEntry] = [
    KernelEntry(op: "full", name: "any_full__portable") { call throws(KernelError) in
        try fill(call, fillValue: call.arguments["fill_value"], name: "fill_value")
    },
    KernelEntry(op: "zeros", name: "any_zeros__portable") { call throws(KernelError) in
        try fill(call, fillValue: .int(0), name: "zeros")
    },
    KernelEntry(op: "ones", name: "any_ones__portable") { call throws(KernelError) in
        try fill(call, fillValue: .int(1), name: "ones")
    },
    KernelEntry(op: "arange.start_step", name: "f32_f16_bf16_i64_i32_i16_i8_u8_arange__portable", kernel: arange),
    KernelEntry(op: "tril", name: "any_tril__portable") { call throws(KernelError) in
        try triangle(call, lower: true)
    },
    KernelEntry(op: "triu", name: "any_triu__portable") { call throws(KernelError) in
        try triangle(call, lower: false)
    },
]

// MARK: - Fills

/// Fills the output with `fillValue` converted to its dtype.
private func fill(_ call: KernelCall, fillValue: Argument<Int>, name: String) throws(KernelError) {
    guard let out = call.outputs.first else { throw call.error("no output tensor") }
    if let size = call.arguments.optionalIntList("size"), size != out.shape {
        throw call.error("output must have shape \(size), got \(out.shape)")
    }
    switch out.dtype {
    case .float32: try fill(call, out, Float.self, fillValue, name)
    case .float16: try fill(call, out, Float16.self, fillValue, name)
    case .bfloat16: try fill(call, out, BFloat16.self, fillValue, name)
    case .int64: try fill(call, out, Int64.self, fillValue, name)
    case .int32: try fill(call, out, Int32.self, fillValue, name)
    case .int16: try fill(call, out, Int16.self, fillValue, name)
    case .int8: try fill(call, out, Int8.self, fillValue, name)
    case .uint8: try fill(call, out, UInt8.self, fillValue, name)
    case .bool: try fill(call, out, Bool.self, fillValue, name)
    }
}

@inline(__always)
private func fill<Out: CastTarget>(_ call: KernelCall, _ out: Tensor, _: Out.Type, _ fillValue: Argument<Int>,
                                   _ name: String) throws(KernelError) {
    let value: Out = try scalar(call, fillValue, name, as: out.dtype)
    guard out.elementCount > 0, let o = out.unsafeMutableBuffer(of: Out.self).baseAddress else { return }
    o.update(repeating: value, count: out.elementCount)
}

/// A scalar converted to `dtype`'s element as ATen's `Scalar::to<scalar_t>()` does: floats round
/// (through float32), floats to integers truncate toward zero, anything to bool is `!= 0`; a value
/// the dtype cannot hold (an integer out of range, a finite float that overflows) is an error.
private func scalar<Out: CastTarget>(_ call: KernelCall, _ argument: Argument<Int>, _ name: String,
                                     as dtype: DType) throws(KernelError) -> Out {
    switch argument {
    case .int(let v):
        if dtype != .bool, let range = dtype.integerRange, !range.contains(Int64(v)) {
            throw call.error("\(name) = \(v) does not fit \(dtype)")
        }
        return Out(castingInteger: Int64(v))
    case .float(let v):
        if dtype == .bool { return Out(castingInteger: v != 0 ? 1 : 0) }
        if let range = dtype.integerRange {
            let t = v.rounded(.towardZero)
            guard t.isFinite, let i = Int64(exactly: t), range.contains(i) else {
                throw call.error("\(name) = \(v) does not fit \(dtype)")
            }
            return Out(castingInteger: i)
        }
        let value = Out(castingFloat: Float(v))
        guard value.floatValue.isFinite || !v.isFinite else {
            throw call.error("\(name) = \(v) overflows \(dtype)")
        }
        return value
    default:
        throw call.error("\(name) must be a number")
    }
}

// MARK: - arange

/// arange.start_step: `start + step * i` for each index, computed as ATen's CPU kernel does: in
/// Double for float32, in Float for float16/bfloat16, in Int64 (from start and step truncated
/// toward zero) for integers.
private func arange(_ call: KernelCall) throws(KernelError) {
    guard let out = call.outputs.first, out.rank == 1 else { throw call.error("output must be 1-D") }
    let n = out.elementCount
    let args = call.arguments
    let (start, step) = (args.float("start"), args.float("step"))
    switch out.dtype {
    case .float32:
        let o = out.unsafeMutableBuffer(of: Float.self)
        for i in 0..<n { o[i] = Float(start + step * Double(i)) }
    case .float16: arangeInFloat(out, Float16.self, Float(start), Float(step))
    case .bfloat16: arangeInFloat(out, BFloat16.self, Float(start), Float(step))
    case .int64: try arangeInInteger(call, out, Int64.self)
    case .int32: try arangeInInteger(call, out, Int32.self)
    case .int16: try arangeInInteger(call, out, Int16.self)
    case .int8: try arangeInInteger(call, out, Int8.self)
    case .uint8: try arangeInInteger(call, out, UInt8.self)
    case .bool: throw call.error("arange cannot produce bool")
    }
}

@inline(__always)
private func arangeInFloat<Out: CastTarget>(_ out: Tensor, _: Out.Type, _ start: Float, _ step: Float) {
    let o = out.unsafeMutableBuffer(of: Out.self)
    for i in 0..<o.count { o[i] = Out(castingFloat: start + step * Float(i)) }
}

@inline(__always)
private func arangeInInteger<Out: CastTarget>(_ call: KernelCall, _ out: Tensor, _: Out.Type) throws(KernelError) {
    func truncated(_ name: String) throws(KernelError) -> Int64 {
        if case .int(let v) = call.arguments[name] { return Int64(v) }
        guard let v = Int64(exactly: call.arguments.float(name).rounded(.towardZero)) else {
            throw call.error("\(name) does not fit a 64-bit integer")
        }
        return v
    }
    let (start, step) = (try truncated("start"), try truncated("step"))
    let o = out.unsafeMutableBuffer(of: Out.self)
    for i in 0..<o.count { o[i] = Out(castingInteger: start &+ step &* Int64(i)) }
}

// MARK: - Triangles

/// tril (`lower`) keeps `x[..., i, j]` where `j - i <= diagonal`, triu where `j - i >= diagonal`;
/// the rest is zero (all-zero bytes in every dtype). Each row is one copy and one fill.
private func triangle(_ call: KernelCall, lower: Bool) throws(KernelError) {
    let x = call.input("self")
    let out = try call.output(shaped: x.shape)
    guard out.dtype == x.dtype else { throw call.error("output must be \(x.dtype), got \(out.dtype)") }
    let rank = x.rank
    guard rank >= 2 else { throw call.error("expected rank 2 or more, got \(x.shape)") }
    let rows = x.shape[rank - 2], cols = x.shape[rank - 1]
    guard out.elementCount > 0, let source = x.withUnsafeRawBytes({ $0.baseAddress }),
          let destination = out.unsafeMutableRawBytes.baseAddress else { return }
    let size = x.dtype.byteSize
    let matrices = ShapeMath.product(x.shape, 0..<(rank - 2))
    // Clamped so that row + diagonal cannot overflow.
    let diagonal = min(max(call.arguments.int("diagonal"), -rows - 1), cols + 1)
    for m in 0..<matrices {
        for i in 0..<rows {
            let row = (m * rows + i) * cols * size
            // Columns [0, split) and [split, cols): kept then zeroed (tril), zeroed then kept (triu).
            let split = min(max(i + diagonal + (lower ? 1 : 0), 0), cols)
            let (keptStart, keptEnd) = lower ? (0, split) : (split, cols)
            let (zeroStart, zeroEnd) = lower ? (split, cols) : (0, split)
            if keptEnd > keptStart {
                (destination + row + keptStart * size)
                    .copyMemory(from: source + row + keptStart * size, byteCount: (keptEnd - keptStart) * size)
            }
            if zeroEnd > zeroStart {
                memset(destination + row + zeroStart * size, 0, (zeroEnd - zeroStart) * size)
            }
        }
    }
}
