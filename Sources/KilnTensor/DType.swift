/// The element types a Kiln tensor can hold.
///
/// Sub-byte weights (int4) are not a dtype: they are stored packed two per byte in a
/// ``DType/uint8`` tensor (see ``Int4Packing``), and quantization parameters travel as op
/// arguments, as in PT2E's quantize/dequantize ops.
///
/// ```swift
/// let t = DType(textName: "bf16")   // .bfloat16
/// t?.byteSize                         // 2
/// ```
public enum DType: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case float32
    case float16
    case bfloat16
    case int64
    case int32
    case int16
    case int8
    case uint8
    case bool

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int64: return 8
        case .int8, .uint8, .bool: return 1
        }
    }

    /// True for float32, float16 and bfloat16.
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16: return true
        default: return false
        }
    }

    /// True for the signed and unsigned integer types (not bool).
    public var isInteger: Bool {
        switch self {
        case .int64, .int32, .int16, .int8, .uint8: return true
        default: return false
        }
    }

    /// The short name used by the `.kir` text form: `f32`, `f16`, `bf16`, `i64`, `i32`, `i16`,
    /// `i8`, `u8`, `bool`.
    public var textName: String {
        switch self {
        case .float32: return "f32"
        case .float16: return "f16"
        case .bfloat16: return "bf16"
        case .int64: return "i64"
        case .int32: return "i32"
        case .int16: return "i16"
        case .int8: return "i8"
        case .uint8: return "u8"
        case .bool: return "bool"
        }
    }

    /// Looks a dtype up by its ``textName``.
    public init?(textName: String) {
        guard let match = DType.allCases.first(where: { $0.textName == textName }) else { return nil }
        self = match
    }

    /// The smallest and largest value an integer dtype holds (bool: 0...1); nil for floats.
    public var integerRange: ClosedRange<Int64>? {
        switch self {
        case .int64: return Int64.min...Int64.max
        case .int32: return Int64(Int32.min)...Int64(Int32.max)
        case .int16: return Int64(Int16.min)...Int64(Int16.max)
        case .int8: return Int64(Int8.min)...Int64(Int8.max)
        case .uint8: return 0...Int64(UInt8.max)
        case .bool: return 0...1
        case .float32, .float16, .bfloat16: return nil
        }
    }

    public var description: String { textName }
}
