import KilnOps
import KilnTensor

// What the math kernels share: ATen's cast rules between dtypes (used by `_to_copy`, `where`,
// `clamp.Tensor` and `full`), a reader that applies them to a tensor of any dtype, a broadcast
// walk over three inputs, and the output checks.

// MARK: - Casts

/// An element type a cast writes, converting as ATen's `static_cast` does on x86-64.
///
/// - Floats round to nearest even (an integer reaches float16/bfloat16 through float32, as
///   `c10::Half(float)` does).
/// - Floats to integers truncate toward zero. Out of range (and NaN), C++ leaves the result
///   undefined; Kiln gives what PyTorch's scalar code gives on x86-64: the integer indefinite
///   value (`min`) for int32 and int64, the low bits of the int32 conversion for smaller types.
/// - Integers to narrower integers keep the low bits; anything to bool is `!= 0` (NaN is true).
protocol CastTarget: TensorElement {
    /// From a floating-point value (float16 and bfloat16 arrive as their exact Float value).
    init(castingFloat value: Float)
    /// From an integer or bool (0 or 1) value.
    init(castingInteger value: Int64)
}

extension Float: CastTarget {
    init(castingFloat value: Float) { self = value }
    init(castingInteger value: Int64) { self.init(value) }
}

extension Float16: CastTarget {
    init(castingFloat value: Float) { self.init(value) }
    init(castingInteger value: Int64) { self.init(Float(value)) }
}

extension BFloat16: CastTarget {
    init(castingFloat value: Float) { self.init(value) }
    init(castingInteger value: Int64) { self.init(Float(value)) }
}

extension Int64: CastTarget {
    init(castingFloat value: Float) {
        // cvttss2si: NaN and values outside [-2^63, 2^63) give Int64.min.
        self = value >= -0x1p63 && value < 0x1p63 ? Int64(value) : .min
    }
    init(castingInteger value: Int64) { self = value }
}

extension Int32: CastTarget {
    init(castingFloat value: Float) { self = Int32.x86Truncating(value) }
    init(castingInteger value: Int64) { self.init(truncatingIfNeeded: value) }

    /// cvttss2si to 32 bits: NaN and values outside [-2^31, 2^31) give Int32.min.
    @inline(__always)
    static func x86Truncating(_ value: Float) -> Int32 {
        value >= -0x1p31 && value < 0x1p31 ? Int32(value) : .min
    }
}

extension Int16: CastTarget {
    init(castingFloat value: Float) { self.init(truncatingIfNeeded: Int32.x86Truncating(value)) }
    init(castingInteger value: Int64) { self.init(truncatingIfNeeded: value) }
}

extension Int8: CastTarget {
    init(castingFloat value: Float) { self.init(truncatingIfNeeded: Int32.x86Truncating(value)) }
    init(castingInteger value: Int64) { self.init(truncatingIfNeeded: value) }
}

extension UInt8: CastTarget {
    init(castingFloat value: Float) { self.init(truncatingIfNeeded: Int32.x86Truncating(value)) }
    init(castingInteger value: Int64) { self.init(truncatingIfNeeded: value) }
}

extension Bool: CastTarget {
    init(castingFloat value: Float) { self = value != 0 }
    init(castingInteger value: Int64) { self = value != 0 }
}

/// An element type a cast reads (every dtype but bool, whose bytes are read as bytes).
protocol CastSource: TensorElement {
    func cast<T: CastTarget>(to: T.Type) -> T
}

extension Float: CastSource {
    @inline(__always) func cast<T: CastTarget>(to: T.Type) -> T { T(castingFloat: self) }
}
extension Float16: CastSource {
    @inline(__always) func cast<T: CastTarget>(to: T.Type) -> T { T(castingFloat: Float(self)) }
}
extension BFloat16: CastSource {
    @inline(__always) func cast<T: CastTarget>(to: T.Type) -> T { T(castingFloat: floatValue) }
}
extension Int64: CastSource {
    @inline(__always) func cast<T: CastTarget>(to: T.Type) -> T { T(castingInteger: self) }
}
extension Int32: CastSource {
    @inline(__always) func cast<T: CastTarget>(to: T.Type) -> T { T(castingInteger: Int64(self)) }
}
extension Int16: CastSource {
    @inline(__always) func cast<T: CastTarget>(to: T.Type) -> T { T(castingInteger: Int64(self)) }
}
extension Int8: CastSource {
    @inline(__always) func cast<T: CastTarget>(to: T.Type) -> T { T(castingInteger: Int64(self)) }
}
extension UInt8: CastSource {
    @inline(__always) func cast<T: CastTarget>(to: T.Type) -> T { T(castingInteger: Int64(self)) }
}

/// Reads the elements of a tensor of any dtype converted to `T` by the cast rules; for the
/// general (mixed-dtype) paths, which switch on the source dtype per element.
struct CastReader<T: CastTarget> {
    private enum Source {
        case float32(UnsafePointer<Float>)
        case float16(UnsafePointer<Float16>)
        case bfloat16(UnsafePointer<BFloat16>)
        case int64(UnsafePointer<Int64>)
        case int32(UnsafePointer<Int32>)
        case int16(UnsafePointer<Int16>)
        case int8(UnsafePointer<Int8>)
        case uint8(UnsafePointer<UInt8>)
        /// Bool bytes, read as bytes (any nonzero byte is true).
        case bool(UnsafeRawPointer)
        case empty
    }

    private let source: Source

    init(_ t: Tensor) {
        guard t.elementCount > 0 else { source = .empty; return }
        switch t.dtype {
        case .float32: source = .float32(t.unsafeBuffer(of: Float.self).baseAddress!)
        case .float16: source = .float16(t.unsafeBuffer(of: Float16.self).baseAddress!)
        case .bfloat16: source = .bfloat16(t.unsafeBuffer(of: BFloat16.self).baseAddress!)
        case .int64: source = .int64(t.unsafeBuffer(of: Int64.self).baseAddress!)
        case .int32: source = .int32(t.unsafeBuffer(of: Int32.self).baseAddress!)
        case .int16: source = .int16(t.unsafeBuffer(of: Int16.self).baseAddress!)
        case .int8: source = .int8(t.unsafeBuffer(of: Int8.self).baseAddress!)
        case .uint8: source = .uint8(t.unsafeBuffer(of: UInt8.self).baseAddress!)
        case .bool: source = .bool(UnsafeRawPointer(t.unsafeBuffer(of: Bool.self).baseAddress!))
        }
    }

    /// Element `i` as `T`.
    @inline(__always)
    subscript(i: Int) -> T {
        switch source {
        case .float32(let p): return p[i].cast(to: T.self)
        case .float16(let p): return p[i].cast(to: T.self)
        case .bfloat16(let p): return p[i].cast(to: T.self)
        case .int64(let p): return p[i].cast(to: T.self)
        case .int32(let p): return p[i].cast(to: T.self)
        case .int16(let p): return p[i].cast(to: T.self)
        case .int8(let p): return p[i].cast(to: T.self)
        case .uint8(let p): return p[i].cast(to: T.self)
        case .bool(let p): return T(castingInteger: p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0)
        case .empty: return T(castingInteger: 0)
        }
    }
}

/// The bytes of a bool tensor (any nonzero byte is true), or nil when it is empty.
@inline(__always)
func boolBytes(_ t: Tensor) -> UnsafeRawPointer? {
    UnsafeRawPointer(t.unsafeBuffer(of: Bool.self).baseAddress)
}

// MARK: - Broadcasting three inputs

enum Broadcast3 {
    /// Calls `body(outIndex, aIndex, bIndex, cIndex)` for every element of `outShape`, in
    /// row-major order, with `a`, `b` and `c` (shapes that broadcast to `outShape`) read at their
    /// broadcast strides. Nothing is allocated.
    @inline(__always)
    static func forEach(_ outShape: [Int], _ a: [Int], _ b: [Int], _ c: [Int],
                        _ body: (Int, Int, Int, Int) -> Void) {
        forEachRun(outShape, a, b, c) { out, count, a, b, c in
            for j in 0..<count { body(out + j, a.start + j * a.step, b.start + j * b.step, c.start + j * c.step) }
        }
    }

    /// Where one run of the innermost dim starts in an input, and its step (0 when broadcast).
    struct Run {
        let start: Int
        let step: Int
    }

    /// Calls `body(outStart, count, a, b, c)` once per run of the innermost dim of `outShape`
    /// (`count` elements from `outStart`), in row-major order, with where each input's run starts
    /// and steps. Callers give runs whose steps are all 0 or 1 plain loops that vectorize.
    @inline(__always)
    static func forEachRun(_ outShape: [Int], _ a: [Int], _ b: [Int], _ c: [Int],
                           _ body: (Int, Int, Run, Run, Run) -> Void) {
        let rank = outShape.count
        var total = 1
        for d in outShape { total *= d }
        if total == 0 { return }
        if rank == 0 { body(0, 1, Run(start: 0, step: 0), Run(start: 0, step: 0), Run(start: 0, step: 0)); return }
        withTemporaryInts(rank, rank, rank, rank) { sa, sb, sc, index in
            Broadcast.strides(of: a, in: outShape, into: sa)
            Broadcast.strides(of: b, in: outShape, into: sb)
            Broadcast.strides(of: c, in: outShape, into: sc)
            let inner = outShape[rank - 1], (ja, jb, jc) = (sa[rank - 1], sb[rank - 1], sc[rank - 1])
            var (ia, ib, ic) = (0, 0, 0)
            var out = 0
            while out < total {
                body(out, inner, Run(start: ia, step: ja), Run(start: ib, step: jb), Run(start: ic, step: jc))
                out += inner
                // Advance the odometer over the outer dims.
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    ia += sa[d]
                    ib += sb[d]
                    ic += sc[d]
                    if index[d] < outShape[d] { break }
                    ia -= sa[d] * outShape[d]
                    ib -= sb[d] * outShape[d]
                    ic -= sc[d] * outShape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
}

// MARK: - Outputs

extension KernelCall {
    /// The first output, checked to have `shape`.
    func output(shaped shape: [Int]) throws(KernelError) -> Tensor {
        guard let out = outputs.first, out.shape == shape else {
            throw error("output must have shape \(shape), got \(outputs.first?.shape ?? [])")
        }
        return out
    }

    /// The first output, checked to be a shape that `input` (called `name`) broadcasts to.
    @discardableResult
    func output(broadcasting input: Tensor, _ name: String) throws(KernelError) -> Tensor {
        guard let out = outputs.first else { throw error("no output tensor") }
        guard ShapeMath.broadcasts(input.shape, to: out.shape) else {
            throw error("\(name) of shape \(input.shape) does not broadcast to the output shape \(out.shape)")
        }
        return out
    }
}
