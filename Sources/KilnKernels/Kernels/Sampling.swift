import KilnOps
import KilnTensor

/// Portable kernels for `samplingOps`: pooling (here), upsampling (`SamplingUpsample.swift`),
/// constant padding (`SamplingPad.swift`) and the conv2d / conv_transpose2d front ends
/// (`SamplingConvolution.swift`).
///
/// Tensors are NCHW (or CHW: every leading dim is a plane). The loops walk a whole output row per
/// window tap, so with stride 1 the innermost loop runs over contiguous W and vectorizes; each
/// output element still sees its window's taps in ATen's order (rows, then columns), which
/// decides ties, NaNs and float sums exactly as ATen's CPU kernels do.
let samplingKernels: [KernelEntry] = [
    KernelEntry(op: "max_pool2d", name: "f32_f16_bf16_i64_i32_i16_i8_u8_max_pool2d__portable",
                scratchBytes: { call in Scratch.bytes(Int64.self, count: call.outputs.first?.shape.last ?? 0) },
                kernel: maxPool2d),
    KernelEntry(op: "max_pool2d_with_indices", name: "f32_f16_bf16_i64_i32_i16_i8_u8_max_pool2d_with_indices__portable",
                kernel: maxPool2dWithIndices),
    KernelEntry(op: "avg_pool2d", name: "f32_f16_bf16_i64_avg_pool2d__portable",
                scratchBytes: { call in Scratch.bytes(Int64.self, count: call.outputs.first?.shape.last ?? 0) },
                kernel: avgPool2d),
] + upsampleKernels + [
    KernelEntry(op: "constant_pad_nd", name: "any_constant_pad_nd__portable", kernel: constantPadNd),
] + convolutionFrontEndKernels

// MARK: - Geometry

/// The sizes of one 2-D pooling call: planes (every leading dim), the input and output planes
/// (the output's size comes from the op's rule, through the output), and the window.
struct PoolGeometry {
    var planes: Int
    var inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int
    var padH: Int, padW: Int, dilationH: Int, dilationW: Int

    /// Reads the window from the call (`kernel_size`, `stride` (empty: the kernel), `padding`,
    /// `dilation` when the op has it; one value stands for both axes) and checks the output
    /// against the input's leading dims.
    init(_ call: KernelCall) throws(KernelError) {
        let x = call.input("self"), out = call.outputs[0]
        let args = call.arguments
        guard x.rank == 3 || x.rank == 4, out.rank == x.rank else {
            throw call.error("expected a [C, H, W] or [N, C, H, W] input and an output of its rank, got \(x) and \(out)")
        }
        for d in 0..<(x.rank - 2) where out.shape[d] != x.shape[d] {
            throw call.error("output \(out) does not keep the leading dims of the input \(x)")
        }
        planes = ShapeMath.product(x.shape, 0..<(x.rank - 2))
        (inHeight, inWidth) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        (outHeight, outWidth) = (out.shape[out.rank - 2], out.shape[out.rank - 1])
        (kernelH, kernelW) = try twoValues(call, "kernel_size")
        (strideH, strideW) = args.intList("stride").isEmpty ? (kernelH, kernelW) : try twoValues(call, "stride")
        (padH, padW) = try twoValues(call, "padding")
        (dilationH, dilationW) = args.schema.parameterIndex("dilation") == nil ? (1, 1) : try twoValues(call, "dilation")
        guard kernelH > 0, kernelW > 0, strideH > 0, strideW > 0, dilationH > 0, dilationW > 0, padH >= 0, padW >= 0 else {
            throw call.error("expected positive kernel_size, stride and dilation and non-negative padding")
        }
    }

    /// The output columns whose window tap `offset` (`kx·dilation - pad`) lands inside the input:
    /// `0 <= ox·stride + offset < inWidth`.
    @inline(__always)
    func columns(tapOffset offset: Int) -> Range<Int> {
        positions(count: outWidth, stride: strideW, offset: offset, limit: inWidth)
    }
}

/// A two-value int-list argument; one value stands for both.
func twoValues(_ call: KernelCall, _ name: String) throws(KernelError) -> (Int, Int) {
    let values = call.arguments.intList(name)
    switch values.count {
    case 1: return (values[0], values[0])
    case 2: return (values[0], values[1])
    default: throw call.error("expected 1 or 2 values for \(name), got \(values)")
    }
}

// MARK: - Max pooling

/// What a max-pooling window starts from (ATen: -inf for floats, the lowest value for integers),
/// and ATen's replacement test: a value takes over when it is larger or NaN.
protocol MaxPoolElement: ComputedElement {
    static var poolStart: Self { get }
}

extension Float: MaxPoolElement { static var poolStart: Float { -.infinity } }
extension Float16: MaxPoolElement { static var poolStart: Float16 { -.infinity } }
extension BFloat16: MaxPoolElement { static var poolStart: BFloat16 { BFloat16(-Float.infinity) } }
extension Int64: MaxPoolElement { static var poolStart: Int64 { .min } }
extension Int32: MaxPoolElement { static var poolStart: Int32 { .min } }
extension Int16: MaxPoolElement { static var poolStart: Int16 { .min } }
extension Int8: MaxPoolElement { static var poolStart: Int8 { .min } }
extension UInt8: MaxPoolElement { static var poolStart: UInt8 { .min } }

/// max_pool2d: the values of max_pool2d_with_indices; each row's indices go to scratch.
@Sendable private func maxPool2d(_ call: KernelCall) throws(KernelError) {
    let g = try PoolGeometry(call)
    try Scratch.with(call, Int64.self, count: g.outWidth) { (row) throws(KernelError) in
        try maxPool(call, g, indices: nil, indexRow: row.baseAddress)
    }
}

/// max_pool2d_with_indices: values and, for each, the flat index `ih·W + iw` of the element it
/// came from in its input plane (int64).
@Sendable private func maxPool2dWithIndices(_ call: KernelCall) throws(KernelError) {
    let g = try PoolGeometry(call)
    guard call.outputs.count == 2, call.outputs[1].dtype == .int64, call.outputs[1].shape == call.outputs[0].shape else {
        throw call.error("expected an int64 indices output shaped like the values, got \(call.outputs)")
    }
    try maxPool(call, g, indices: call.outputs[1].unsafeMutableBuffer(of: Int64.self).baseAddress, indexRow: nil)
}

/// Dispatches on the dtype; indices go to `indices` (the whole output) or, row by row, to
/// `indexRow`.
private func maxPool(_ call: KernelCall, _ g: PoolGeometry, indices: UnsafeMutablePointer<Int64>?,
                     indexRow: UnsafeMutablePointer<Int64>?) throws(KernelError) {
    let x = call.input("self")
    guard call.outputs[0].dtype == x.dtype else { throw call.error("output is \(call.outputs[0]), expected \(x.dtype)") }
    switch x.dtype {
    case .float32: maxPool(call, g, Float.self, indices, indexRow)
    case .float16: maxPool(call, g, Float16.self, indices, indexRow)
    case .bfloat16: maxPool(call, g, BFloat16.self, indices, indexRow)
    case .int64: maxPool(call, g, Int64.self, indices, indexRow)
    case .int32: maxPool(call, g, Int32.self, indices, indexRow)
    case .int16: maxPool(call, g, Int16.self, indices, indexRow)
    case .int8: maxPool(call, g, Int8.self, indices, indexRow)
    case .uint8: maxPool(call, g, UInt8.self, indices, indexRow)
    case .bool: throw call.error("the portable kernel does not compute bool tensors")
    }
}

/// ATen's `cpu_max_pool`, a row of outputs at a time. For output `(oy, ox)` the window's rows
/// are `oy·stride - pad + ky·dilation` inside the input (the same for columns); the running
/// maximum starts at ``MaxPoolElement/poolStart`` with the index of the window's first in-range
/// element, and a value replaces it when larger or NaN (so NaN wins, the last NaN's index).
private func maxPool<E: MaxPoolElement>(_ call: KernelCall, _ g: PoolGeometry, _: E.Type,
                                        _ indices: UnsafeMutablePointer<Int64>?,
                                        _ indexRow: UnsafeMutablePointer<Int64>?) {
    guard g.planes > 0, g.outHeight > 0, g.outWidth > 0,
          let px = call.input("self").unsafeBuffer(of: E.self).baseAddress,
          let py = call.outputs[0].unsafeMutableBuffer(of: E.self).baseAddress,
          let indexBase = indices ?? indexRow else { return }
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    for p in 0..<g.planes {
        let plane = px + p * inPlane
        for oy in 0..<g.outHeight {
            let dst = py + p * outPlane + oy * g.outWidth
            let idx = indices == nil ? indexBase : indexBase + p * outPlane + oy * g.outWidth
            // Step 1: the window's rows: from the first in range, below min(start + span, H).
            let rowStart = oy * g.strideH - g.padH
            let rowEnd = Swift.min(rowStart + (g.kernelH - 1) * g.dilationH + 1, g.inHeight)
            let firstRow = rowStart >= 0 ? rowStart : rowStart + (-rowStart + g.dilationH - 1) / g.dilationH * g.dilationH
            // Step 2: start every window at poolStart, with the index of its first in-range tap.
            for ox in 0..<g.outWidth {
                let colStart = ox * g.strideW - g.padW
                let firstCol = colStart >= 0 ? colStart : colStart + (-colStart + g.dilationW - 1) / g.dilationW * g.dilationW
                dst[ox] = E.poolStart
                idx[ox] = Int64(firstRow * g.inWidth + firstCol)
            }
            // Step 3: the taps in ATen's order (rows, then columns), each over the row of outputs.
            var iy = firstRow
            while iy < rowEnd {
                let src = plane + iy * g.inWidth
                for kx in 0..<g.kernelW {
                    // Output ox meets input column ox·stride + offset, flat index rowIndex + ox·stride.
                    let offset = kx * g.dilationW - g.padW
                    let columns = g.columns(tapOffset: offset)
                    guard !columns.isEmpty else { continue }
                    let tap = src + columns.lowerBound * g.strideW + offset
                    let rowIndex = Int64(iy * g.inWidth + columns.lowerBound * g.strideW + offset)
                    let (out, at) = (dst + columns.lowerBound, idx + columns.lowerBound)
                    // Constant strides let the compiler vectorize (stride 2 as interleaved loads).
                    if g.strideW == 1 {
                        maxTap(out, at, tap, count: columns.count, stride: 1, rowIndex: rowIndex)
                    } else if g.strideW == 2 {
                        maxTap(out, at, tap, count: columns.count, stride: 2, rowIndex: rowIndex)
                    } else {
                        maxTap(out, at, tap, count: columns.count, stride: g.strideW, rowIndex: rowIndex)
                    }
                }
                iy += g.dilationH
            }
        }
    }
}

/// One window tap over `count` outputs: output `i` meets `tap[i·stride]` (flat index
/// `rowIndex + i·stride`), which replaces the running maximum when larger or NaN. Wrapping
/// arithmetic and selects, so a stride-1 call vectorizes.
@inline(__always)
private func maxTap<E: MaxPoolElement>(_ out: UnsafeMutablePointer<E>, _ at: UnsafeMutablePointer<Int64>,
                                       _ tap: UnsafePointer<E>, count: Int, stride: Int, rowIndex: Int64) {
    for i in 0..<count {
        let x = tap[i &* stride]
        let (v, current) = (x.computeValue, out[i].computeValue)
        let take = v > current || v != v
        out[i] = take ? x : out[i]
        at[i] = take ? rowIndex &+ Int64(truncatingIfNeeded: i &* stride) : at[i]
    }
}

// MARK: - Average pooling

/// One window tap over `count` outputs: `sums[i] += tap[i·stride]`.
@inline(__always)
private func sumTap<E: ComputedElement>(_ sums: UnsafeMutablePointer<E.Compute>, _ tap: UnsafePointer<E>,
                                        count: Int, stride: Int) where E.Compute: AveragingNumber {
    for i in 0..<count { sums[i] = E.Compute.wrappingAdd(sums[i], tap[i &* stride].computeValue) }
}

/// avg_pool2d (float32, float16, bfloat16, int64): ATen's `cpu_avg_pool`. Each window is
/// `oy·stride - pad ..< +kernel`, cut at `H + pad` for the divisor with padding and at the input
/// for the sum; the sum (Float for floats, wrapping Int64 for int64, in row-major order) is
/// divided by `divisor_override`, or the window's size with padding (`count_include_pad`), or its
/// in-input size. A window entirely in padding gives 0. Int64 divides with truncation, as ATen.
@Sendable private func avgPool2d(_ call: KernelCall) throws(KernelError) {
    let g = try PoolGeometry(call)
    let x = call.input("self")
    guard call.outputs[0].dtype == x.dtype else { throw call.error("output is \(call.outputs[0]), expected \(x.dtype)") }
    switch x.dtype {
    case .float32: avgPool(call, g, Float.self)
    case .float16: avgPool(call, g, Float16.self)
    case .bfloat16: avgPool(call, g, BFloat16.self)
    case .int64: avgPool(call, g, Int64.self)
    default: throw call.error("the portable kernel does not compute \(x.dtype) tensors")
    }
}

/// The division at the end of a window's average, in the compute type.
protocol AveragingNumber: KernelNumber {
    static func average(_ sum: Self, _ divisor: Int) -> Self
}

extension Float: AveragingNumber {
    @inline(__always) static func average(_ sum: Float, _ divisor: Int) -> Float { sum / Float(divisor) }
}

extension Int64: AveragingNumber {
    @inline(__always) static func average(_ sum: Int64, _ divisor: Int) -> Int64 {
        // Int64.min / -1 is the one quotient that overflows; ATen's would trap, this wraps.
        divisor == -1 ? 0 &- sum : sum / Int64(divisor)
    }
}

private func avgPool<E: ComputedElement>(_ call: KernelCall, _ g: PoolGeometry, _: E.Type)
    where E.Compute: AveragingNumber {
    guard g.planes > 0, g.outHeight > 0, g.outWidth > 0,
          let px = call.input("self").unsafeBuffer(of: E.self).baseAddress,
          let py = call.outputs[0].unsafeMutableBuffer(of: E.self).baseAddress else { return }
    let divisorOverride = call.arguments.optionalInt("divisor_override")
    let countIncludePad = call.arguments.bool("count_include_pad")
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    Scratch.with(call, E.Compute.self, count: g.outWidth) { sums in
        for p in 0..<g.planes {
            let plane = px + p * inPlane
            for oy in 0..<g.outHeight {
                let dst = py + p * outPlane + oy * g.outWidth
                // Step 1: the rows: with padding (for the divisor), and inside the input.
                let rowStart = oy * g.strideH - g.padH
                let paddedRows = Swift.min(rowStart + g.kernelH, g.inHeight + g.padH) - rowStart
                let (firstRow, rowEnd) = (Swift.max(rowStart, 0), Swift.min(rowStart + g.kernelH, g.inHeight))
                // Step 2: the sums, tap by tap in row-major order over the row of outputs.
                sums.update(repeating: .zero)
                if firstRow < rowEnd {
                    for iy in firstRow..<rowEnd {
                        let src = plane + iy * g.inWidth
                        for kx in 0..<g.kernelW {
                            let offset = kx - g.padW
                            let columns = g.columns(tapOffset: offset)
                            guard !columns.isEmpty else { continue }
                            let tap = src + columns.lowerBound * g.strideW + offset
                            let row = sums.baseAddress! + columns.lowerBound
                            if g.strideW == 1 {
                                sumTap(row, tap, count: columns.count, stride: 1)
                            } else if g.strideW == 2 {
                                sumTap(row, tap, count: columns.count, stride: 2)
                            } else {
                                sumTap(row, tap, count: columns.count, stride: g.strideW)
                            }
                        }
                    }
                }
                // Step 3: divide each sum by its window's divisor.
                for ox in 0..<g.outWidth {
                    let colStart = ox * g.strideW - g.padW
                    let paddedCols = Swift.min(colStart + g.kernelW, g.inWidth + g.padW) - colStart
                    let (firstCol, colEnd) = (Swift.max(colStart, 0), Swift.min(colStart + g.kernelW, g.inWidth))
                    guard firstRow < rowEnd, firstCol < colEnd else {
                        dst[ox] = E(computed: .zero)
                        continue
                    }
                    let divisor = divisorOverride
                        ?? (countIncludePad ? paddedRows * paddedCols : (rowEnd - firstRow) * (colEnd - firstCol))
                    dst[ox] = E(computed: E.Compute.average(sums[ox], divisor))
                }
            }
        }
    }
}
