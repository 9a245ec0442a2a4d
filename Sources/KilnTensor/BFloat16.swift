/// A 16-bit brain floating-point number: the top half of an IEEE float32.
///
/// Conversion from `Float` rounds to nearest, ties to even, and keeps NaN a NaN.
///
/// ```swift
/// let b = BFloat16(1.0 / 3.0)
/// Float(b)   // 0.33398438
/// ```
public struct BFloat16: Hashable, Sendable, CustomStringConvertible {
    /// The raw 16 bits.
    public var bitPattern: UInt16

    /// Wraps raw bits without conversion.
    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// Rounds a float32 to the nearest bfloat16 (ties to even).
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            // Keep sign, force a quiet NaN so truncation cannot turn it into infinity.
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
            return
        }
        let lsb = (bits >> 16) & 1
        let rounded = bits &+ 0x7FFF &+ lsb
        bitPattern = UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// The exact float32 value.
    public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }

    public var description: String { floatValue.description }
}

extension Float {
    /// The exact value of a bfloat16.
    public init(_ value: BFloat16) { self = value.floatValue }
}
