#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

/// Nearest and bilinear upsampling of NCHW tensors, in both ATen forms (`.vec` with
/// `output_size` or `scale_factors`; the plain form with `output_size` and optional scales).
///
/// Source indices and weights follow ATen's `UpSample.h` exactly, in Float as ATen computes
/// them, once per output row and column (in the call's scratch); the planes then gather.
let upsampleKernels: [KernelEntry] = [
    KernelEntry(op: "upsample_nearest2d.vec", name: "any_upsample_nearest2d_vec__portable",
                scratchBytes: nearestScratchBytes, kernel: upsampleNearest2d),
    KernelEntry(op: "upsample_nearest2d", name: "any_upsample_nearest2d__portable",
                scratchBytes: nearestScratchBytes, kernel: upsampleNearest2d),
    KernelEntry(op: "upsample_bilinear2d.vec", name: "f32_f16_bf16_upsample_bilinear2d_vec__portable",
                scratchBytes: bilinearScratchBytes, kernel: upsampleBilinear2d),
    KernelEntry(op: "upsample_bilinear2d", name: "f32_f16_bf16_upsample_bilinear2d__portable",
                scratchBytes: bilinearScratchBytes, kernel: upsampleBilinear2d),
]

/// The sizes of one upsampling call and the scales the caller gave (nil: none, or not positive,
/// which ATen also ignores).
private struct UpsampleGeometry {
    var input: Tensor
    var planes: Int
    var inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    var scaleH: Double?, scaleW: Double?

    init(_ call: KernelCall) throws(KernelError) {
        let args = call.arguments
        input = call.input(args.schema.parameterIndex("input") != nil ? "input" : "self")
        let out = call.outputs[0]
        guard input.rank == 4, out.rank == 4, out.dtype == input.dtype,
              out.shape[0] == input.shape[0], out.shape[1] == input.shape[1] else {
            throw call.error("expected a 4-D input and an output of its dtype, batch and channels, got \(input) and \(out)")
        }
        planes = input.shape[0] * input.shape[1]
        (inHeight, inWidth, outHeight, outWidth) = (input.shape[2], input.shape[3], out.shape[2], out.shape[3])
        guard planes == 0 || (inHeight > 0 && inWidth > 0) else {
            throw call.error("expected a non-empty input plane, got \(input)")
        }
        if args.schema.parameterIndex("scale_factors") != nil {
            if let factors = args.optionalFloatList("scale_factors") {
                guard factors.count == 2 else { throw call.error("expected 2 scale factors, got \(factors)") }
                (scaleH, scaleW) = (factors[0], factors[1])
            }
        } else {
            (scaleH, scaleW) = (args.optionalFloat("scales_h"), args.optionalFloat("scales_w"))
        }
        if let s = scaleH, !(s > 0) { scaleH = nil }
        if let s = scaleW, !(s > 0) { scaleW = nil }
    }
}

/// ATen's `compute_scales_value`: `Float(1 / scale)` when a scale was given, else `in / out`
/// in Float.
@inline(__always)
private func sourceScale(_ scale: Double?, input: Int, output: Int) -> Float {
    if let scale { return Float(1.0 / scale) }
    return Float(input) / Float(output)
}

/// `floor(value)` as an index in `0...limit` (NaN and negatives give 0; huge values the limit),
/// so no scale can make a read leave the input.
@inline(__always)
private func clampedFloor(_ value: Float, limit: Int) -> Int {
    guard value > 0 else { return 0 }
    let f = value.rounded(.down)
    return f >= Float(limit) ? limit : Swift.min(Int(f), limit)
}

// MARK: - Nearest

private func nearestScratchBytes(_ call: KernelCall) -> Int {
    guard let out = call.outputs.first, out.rank == 4 else { return 0 }
    return Scratch.bytes(Int.self, count: out.shape[2] + out.shape[3])
}

/// ATen's `nearest_idx`: the same index when the sizes are equal, half of it when the output is
/// twice the input, else `min(floor(dst · scale), in - 1)` in Float.
@inline(__always)
private func nearestIndex(_ dst: Int, input: Int, output: Int, scale: Double?) -> Int {
    if output == input { return dst }
    if output == 2 * input { return dst >> 1 }
    return clampedFloor(Float(dst) * sourceScale(scale, input: input, output: output), limit: input - 1)
}

/// upsample_nearest2d (both forms), for every dtype: a gather of whole elements; an output row
/// whose source row is the previous one's is one copy of that row.
@Sendable private func upsampleNearest2d(_ call: KernelCall) throws(KernelError) {
    let g = try UpsampleGeometry(call)
    let out = call.outputs[0]
    guard g.planes > 0, g.outHeight > 0, g.outWidth > 0 else { return }
    try Scratch.with(call, Int.self, count: g.outHeight + g.outWidth) { (sources) throws(KernelError) in
        // Step 1: each output row's and column's source.
        let rows = sources.baseAddress!, columns = rows + g.outHeight
        for oy in 0..<g.outHeight { rows[oy] = nearestIndex(oy, input: g.inHeight, output: g.outHeight, scale: g.scaleH) }
        for ox in 0..<g.outWidth { columns[ox] = nearestIndex(ox, input: g.inWidth, output: g.outWidth, scale: g.scaleW) }
        // Step 2: gather, by element size.
        switch out.dtype.byteSize {
        case 1: gatherNearest(g, out, UInt8.self, rows, columns)
        case 2: gatherNearest(g, out, UInt16.self, rows, columns)
        case 4: gatherNearest(g, out, UInt32.self, rows, columns)
        case 8: gatherNearest(g, out, UInt64.self, rows, columns)
        default: throw call.error("the portable kernel does not move \(out.dtype.byteSize)-byte elements")
        }
    }
}

/// Copies element `(rows[oy], columns[ox])` of each input plane to `(oy, ox)`, moving the bytes
/// as `Word`s (of the dtype's size).
private func gatherNearest<Word: FixedWidthInteger>(_ g: UpsampleGeometry, _ out: Tensor, _: Word.Type,
                                                    _ rows: UnsafePointer<Int>, _ columns: UnsafePointer<Int>) {
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    guard let outBase = out.unsafeMutableRawBytes.baseAddress else { return }
    let py = outBase.assumingMemoryBound(to: Word.self)
    g.input.withUnsafeRawBytes { raw in
        guard let inBase = raw.baseAddress else { return }
        let px = inBase.assumingMemoryBound(to: Word.self)
        for p in 0..<g.planes {
            for oy in 0..<g.outHeight {
                let dst = py + p * outPlane + oy * g.outWidth
                if oy > 0 && rows[oy] == rows[oy - 1] {
                    dst.update(from: dst - g.outWidth, count: g.outWidth)
                    continue
                }
                let src = px + p * inPlane + rows[oy] * g.inWidth
                for ox in 0..<g.outWidth { dst[ox] = src[columns[ox]] }
            }
        }
    }
}

// MARK: - Bilinear

/// One output row's (or column's) two source rows and their weights.
private struct LinearTap {
    var index0: Int, index1: Int
    var lambda0: Float, lambda1: Float
}

private func bilinearScratchBytes(_ call: KernelCall) -> Int {
    guard let out = call.outputs.first, out.rank == 4 else { return 0 }
    return Scratch.bytes(LinearTap.self, count: out.shape[2] + out.shape[3])
}

/// ATen's `compute_source_index_and_lambda` for output index `dst`: with equal sizes a copy;
/// else the source position (`scale · dst` aligning corners, `scale · (dst + 0.5) - 0.5` clamped
/// at 0 otherwise), its floor (at most `in - 1`) and the next index (or the same at the edge),
/// with weight `1 - λ` and `λ` (λ the distance from the floor, in [0, 1]), each rounded to `E`
/// as ATen stores them.
@inline(__always)
private func linearTap<E: ComputedElement>(_ dst: Int, input: Int, output: Int, alignCorners: Bool, scale: Double?,
                                           rounding _: E.Type) -> LinearTap where E.Compute == Float {
    func round(_ v: Float) -> Float { E(computed: v).computeValue }
    if output == input { return LinearTap(index0: dst, index1: dst, lambda0: 1, lambda1: 0) }
    let ratio: Float
    if alignCorners {
        ratio = output > 1 ? Float(input - 1) / Float(output - 1) : 0
    } else {
        ratio = sourceScale(scale, input: input, output: output)
    }
    var real = alignCorners ? ratio * Float(dst) : ratio * (Float(dst) + 0.5) - 0.5
    if !alignCorners && real < 0 { real = 0 }
    let index0 = clampedFloor(real, limit: input - 1)
    let lambda1 = round(Swift.min(Swift.max(real - Float(index0), 0), 1))
    return LinearTap(index0: index0, index1: index0 < input - 1 ? index0 + 1 : index0,
                     lambda0: round(1 - lambda1), lambda1: lambda1)
}

/// upsample_bilinear2d (both forms) for float32, float16 and bfloat16, computed in Float as
/// ATen's `cpu_upsample_linear`: `(x00·w0 + x01·w1)·h0 + (x10·w0 + x11·w1)·h1`.
@Sendable private func upsampleBilinear2d(_ call: KernelCall) throws(KernelError) {
    let g = try UpsampleGeometry(call)
    switch g.input.dtype {
    case .float32: try bilinear(call, g, Float.self)
    case .float16: try bilinear(call, g, Float16.self)
    case .bfloat16: try bilinear(call, g, BFloat16.self)
    default: throw call.error("the portable kernel does not compute \(g.input.dtype) tensors")
    }
}

private func bilinear<E: ComputedElement>(_ call: KernelCall, _ g: UpsampleGeometry, _: E.Type) throws(KernelError)
    where E.Compute == Float {
    guard g.planes > 0, g.outHeight > 0, g.outWidth > 0,
          let px = g.input.unsafeBuffer(of: E.self).baseAddress,
          let py = call.outputs[0].unsafeMutableBuffer(of: E.self).baseAddress else { return }
    let alignCorners = call.arguments.bool("align_corners")
    Scratch.with(call, LinearTap.self, count: g.outHeight + g.outWidth) { taps in
        // Step 1: the taps of every output row and column; weights rounded to E as ATen keeps them.
        let rows = taps.baseAddress!, columns = rows + g.outHeight
        for oy in 0..<g.outHeight {
            rows[oy] = linearTap(oy, input: g.inHeight, output: g.outHeight, alignCorners: alignCorners,
                                 scale: g.scaleH, rounding: E.self)
        }
        for ox in 0..<g.outWidth {
            columns[ox] = linearTap(ox, input: g.inWidth, output: g.outWidth, alignCorners: alignCorners,
                                    scale: g.scaleW, rounding: E.self)
        }
        // Step 2: interpolate along W in each of the two source rows, then between them.
        let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
        for p in 0..<g.planes {
            for oy in 0..<g.outHeight {
                let h = rows[oy]
                let row0 = px + p * inPlane + h.index0 * g.inWidth, row1 = px + p * inPlane + h.index1 * g.inWidth
                let dst = py + p * outPlane + oy * g.outWidth
                for ox in 0..<g.outWidth {
                    let w = columns[ox]
                    let top = row0[w.index0].computeValue * w.lambda0 + row0[w.index1].computeValue * w.lambda1
                    let bottom = row1[w.index0].computeValue * w.lambda0 + row1[w.index1].computeValue * w.lambda1
                    dst[ox] = E(computed: top * h.lambda0 + bottom * h.lambda1)
                }
            }
        }
    }
}
