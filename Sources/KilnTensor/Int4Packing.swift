/// Packing of 4-bit integers two per byte, as Kiln stores int4 weights in a uint8 tensor.
///
/// Element `2i` goes in the low nibble of byte `i` and element `2i+1` in the high nibble (ONNX's
/// int4 order); an odd count leaves the last high nibble zero. Signed values use two's complement
/// nibbles (-8...7), unsigned ones 0...15.
///
/// ```swift
/// let bytes = try Int4Packing.pack([-1, 2, 7])   // [0x2F, 0x07]
/// Int4Packing.unpack(bytes, count: 3)             // [-1, 2, 7]
/// ```
public enum Int4Packing {
    /// Packs signed 4-bit values (each in -8...7).
    public static func pack(_ values: [Int8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (values.count + 1) / 2)
        for (i, v) in values.enumerated() {
            guard (-8...7).contains(v) else {
                throw TensorError(.dataSizeMismatch, "int4 value \(v) at index \(i) is outside -8...7")
            }
            let nibble = UInt8(bitPattern: v) & 0x0F
            out[i / 2] |= i % 2 == 0 ? nibble : nibble << 4
        }
        return out
    }

    /// Unpacks `count` signed 4-bit values.
    public static func unpack(_ bytes: [UInt8], count: Int) -> [Int8] {
        precondition(count <= bytes.count * 2, "\(count) int4 values need \((count + 1) / 2) bytes")
        return (0..<count).map { i in
            let nibble = i % 2 == 0 ? bytes[i / 2] & 0x0F : bytes[i / 2] >> 4
            // Sign-extend the nibble.
            return Int8(bitPattern: nibble << 4) >> 4
        }
    }

    /// Packs unsigned 4-bit values (each in 0...15).
    public static func packUnsigned(_ values: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (values.count + 1) / 2)
        for (i, v) in values.enumerated() {
            guard v <= 15 else {
                throw TensorError(.dataSizeMismatch, "uint4 value \(v) at index \(i) is outside 0...15")
            }
            out[i / 2] |= i % 2 == 0 ? v : v << 4
        }
        return out
    }

    /// Unpacks `count` unsigned 4-bit values.
    public static func unpackUnsigned(_ bytes: [UInt8], count: Int) -> [UInt8] {
        precondition(count <= bytes.count * 2, "\(count) uint4 values need \((count + 1) / 2) bytes")
        return (0..<count).map { i in i % 2 == 0 ? bytes[i / 2] & 0x0F : bytes[i / 2] >> 4 }
    }
}
