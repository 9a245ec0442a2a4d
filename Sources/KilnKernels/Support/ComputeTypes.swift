#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

// The types kernels compute in, shared by the elementwise, reduction and other kernels: how each
// dtype's elements convert to them, how a result converts back, and the wrapping arithmetic
// PyTorch uses for integers.

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

/// `v` rounded to a floating-point `dtype` and back: the cast ATen makes for a `dtype` argument,
/// or one step of torch arithmetic in f16/bf16; float32 and other dtypes leave it unchanged.
@inline(__always)
func rounded(_ v: Float, to dtype: DType) -> Float {
    switch dtype {
    case .float16: return Float(Float16(v))
    case .bfloat16: return BFloat16(v).floatValue
    default: return v
    }
}
