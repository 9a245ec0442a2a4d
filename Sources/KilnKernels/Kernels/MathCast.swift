import KilnOps
import KilnTensor

// The portable `_to_copy` kernel: a dtype cast by the rules of `CastTarget` (MathSupport.swift).
// Every (source, target) pair runs its own specialized flat loop over plain pointers, so the
// common conversions (f32 <-> f16/bf16, f32 <-> i64, bool -> f32) vectorize.

let castKernels: [KernelEntry] = [
    KernelEntry(op: "_to_copy", name: "any_any_to_copy__portable", kernel: toCopy),
]

/// _to_copy: `out[i] = cast(x[i])` (floats to integers truncate toward zero, to bool is `!= 0`,
/// floats round to nearest even).
private func toCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let out = try call.output(shaped: x.shape)
    if let dtype = call.arguments.optionalDType("dtype"), dtype != out.dtype {
        throw call.error("output must be \(dtype), got \(out.dtype)")
    }
    guard out.elementCount > 0 else { return }
    switch x.dtype {
    case .float32: cast(from: x, Float.self, to: out)
    case .float16: cast(from: x, Float16.self, to: out)
    case .bfloat16: cast(from: x, BFloat16.self, to: out)
    case .int64: cast(from: x, Int64.self, to: out)
    case .int32: cast(from: x, Int32.self, to: out)
    case .int16: cast(from: x, Int16.self, to: out)
    case .int8: cast(from: x, Int8.self, to: out)
    case .uint8: cast(from: x, UInt8.self, to: out)
    case .bool: castBool(x, to: out)
    }
}

/// Dispatches on the target dtype for a source of `In`.
@inline(__always)
private func cast<In: CastSource>(from x: Tensor, _: In.Type, to out: Tensor) {
    let p = x.unsafeBuffer(of: In.self).baseAddress!
    switch out.dtype {
    case .float32: castLoop(p, out, Float.self)
    case .float16: castLoop(p, out, Float16.self)
    case .bfloat16: castLoop(p, out, BFloat16.self)
    case .int64: castLoop(p, out, Int64.self)
    case .int32: castLoop(p, out, Int32.self)
    case .int16: castLoop(p, out, Int16.self)
    case .int8: castLoop(p, out, Int8.self)
    case .uint8: castLoop(p, out, UInt8.self)
    case .bool: castLoop(p, out, Bool.self)
    }
}

@inline(__always)
private func castLoop<In: CastSource, Out: CastTarget>(_ p: UnsafePointer<In>, _ out: Tensor, _: Out.Type) {
    let o = out.unsafeMutableBuffer(of: Out.self).baseAddress!
    for i in 0..<out.elementCount { o[i] = p[i].cast(to: Out.self) }
}

/// A bool source: its bytes, any nonzero byte true.
private func castBool(_ x: Tensor, to out: Tensor) {
    let p = boolBytes(x)!
    switch out.dtype {
    case .float32: castBoolLoop(p, out, Float.self)
    case .float16: castBoolLoop(p, out, Float16.self)
    case .bfloat16: castBoolLoop(p, out, BFloat16.self)
    case .int64: castBoolLoop(p, out, Int64.self)
    case .int32: castBoolLoop(p, out, Int32.self)
    case .int16: castBoolLoop(p, out, Int16.self)
    case .int8: castBoolLoop(p, out, Int8.self)
    case .uint8: castBoolLoop(p, out, UInt8.self)
    case .bool: castBoolLoop(p, out, Bool.self)
    }
}

@inline(__always)
private func castBoolLoop<Out: CastTarget>(_ p: UnsafeRawPointer, _ out: Tensor, _: Out.Type) {
    let o = out.unsafeMutableBuffer(of: Out.self).baseAddress!
    for i in 0..<out.elementCount { o[i] = Out(castingInteger: p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0) }
}
