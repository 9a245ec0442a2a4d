import KilnOps
import KilnTensor

/// The portable kernel for Kiln's packed 4-bit weights: `kiln.dequantize_per_channel_group_int4`.
///
/// Byte `i` of a row holds element `2i` in its low nibble and `2i+1` in its high nibble, each a
/// two's-complement int4 (``KilnTensor/Int4Packing``). Unpacked, the arithmetic is torch's
/// `dequantize_per_channel_group` on the int8 tensor of those values: `q - zp` exactly, times the
/// group's scale in the scales' dtype, rounded once to the output dtype.
let int4QuantizationKernels: [KernelEntry] = [
    KernelEntry(op: "kiln.dequantize_per_channel_group_int4",
                name: "u4_dequantize_per_channel_group__portable", kernel: dequantizePerChannelGroupInt4),
]

private func dequantizePerChannelGroupInt4(_ call: KernelCall) throws(KernelError) {
    // 1. Shapes: [rows, bytes] packed in, [rows, 2 * bytes] out, scales [rows, 2 * bytes / group].
    let packed = call.input("input")
    guard packed.dtype == .uint8, packed.rank == 2 else { throw call.error("expected a rank-2 uint8 input, got \(packed)") }
    let (rows, bytes) = (packed.shape[0], packed.shape[1])
    let columns = 2 * bytes
    let group = call.arguments.int("group_size")
    guard group > 0, columns % group == 0 else {
        throw call.error("unpacked dim 1 (\(columns)) is not a multiple of group_size \(group)")
    }
    let groupsPerRow = columns / group
    let scales = call.input("scales")
    guard scales.dtype.isFloatingPoint, scales.elementCount == rows * groupsPerRow else {
        throw call.error("expected \(rows * groupsPerRow) floating-point scales, got \(scales)")
    }
    let zeroPoints = call.optionalInput("zero_points")
    if let z = zeroPoints, !(z.dtype.isInteger && z.elementCount == rows * groupsPerRow) {
        throw call.error("expected \(rows * groupsPerRow) integer zero points, got \(z)")
    }
    // (Shape compared dim by dim: an array literal would allocate on every call.)
    guard call.outputs.count == 1, call.outputs[0].rank == 2, call.outputs[0].shape[0] == rows,
          call.outputs[0].shape[1] == columns else {
        throw call.error("expected one output of shape [\(rows), \(columns)]")
    }
    let out = call.outputs[0]
    let (lo, hi) = (call.arguments.int("quant_min"), call.arguments.int("quant_max"))
    guard -8 <= lo, lo <= hi, hi <= 7 else { throw call.error("range \(lo)...\(hi) does not fit int4 (-8...7)") }

    // 2. Per element: unpack and sign-extend the nibble, subtract the zero point, scale.
    let source = packed.unsafeBuffer(of: UInt8.self)
    let dtype = scales.dtype
    func value(_ j: Int) -> Float {
        let byte = source[j / 2]
        let nibble = j % 2 == 0 ? byte & 0x0F : byte >> 4
        let q = Int64(Int8(bitPattern: nibble << 4) >> 4)
        let k = (j / columns) * groupsPerRow + (j % columns) / group
        let zp = zeroPoints.map { integerValue($0, k) } ?? 0
        let d = rounded(Float(q - zp), to: dtype)
        return rounded(d * floatValue(scales, k), to: dtype)
    }
    let count = rows * columns
    switch out.dtype {
    case .float32:
        let o = out.unsafeMutableBuffer(of: Float.self)
        for j in 0..<count { o[j] = value(j) }
    case .float16:
        let o = out.unsafeMutableBuffer(of: Float16.self)
        for j in 0..<count { o[j] = Float16(value(j)) }
    case .bfloat16:
        let o = out.unsafeMutableBuffer(of: BFloat16.self)
        for j in 0..<count { o[j] = BFloat16(value(j)) }
    default:
        throw call.error("expected a floating-point output, got \(out.dtype)")
    }
}

/// Element `i` of a float tensor (f32, f16 or bf16) as Float.
private func floatValue(_ t: Tensor, _ i: Int) -> Float {
    switch t.dtype {
    case .float16: return Float(t.unsafeBuffer(of: Float16.self)[i])
    case .bfloat16: return t.unsafeBuffer(of: BFloat16.self)[i].floatValue
    default: return t.unsafeBuffer(of: Float.self)[i]
    }
}

/// Element `i` of an integer tensor as Int64.
private func integerValue(_ t: Tensor, _ i: Int) -> Int64 {
    switch t.dtype {
    case .int32: return Int64(t.unsafeBuffer(of: Int32.self)[i])
    case .int16: return Int64(t.unsafeBuffer(of: Int16.self)[i])
    case .int8: return Int64(t.unsafeBuffer(of: Int8.self)[i])
    case .uint8: return Int64(t.unsafeBuffer(of: UInt8.self)[i])
    default: return t.unsafeBuffer(of: Int64.self)[i]
    }
}
