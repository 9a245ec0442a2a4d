import KilnOps
import KilnTensor

/// Convolution and adaptive average pooling over NCHW float32 tensors.
let spatialKernels: [KernelEntry] = [
    KernelEntry(op: "convolution", name: "f32_convolution__portable", scratchBytes: convolutionScratchBytes,
                kernel: convolution),
    KernelEntry(op: "_adaptive_avg_pool2d", name: "f32__adaptive_avg_pool2d__portable", kernel: adaptiveAvgPool2d),
    KernelEntry(op: "adaptive_avg_pool2d", name: "f32_adaptive_avg_pool2d__portable", kernel: adaptiveAvgPool2d),
]

// MARK: - convolution

/// The sizes of one 2-D convolution, read from the call (and the output the caller sized).
private struct ConvolutionGeometry {
    var transposed: Bool
    var batch: Int
    /// Channels of the input and the output, and the group count.
    var inChannels: Int, outChannels: Int, groups: Int
    var inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    var kernelHeight: Int, kernelWidth: Int
    var strideY: Int, strideX: Int, padY: Int, padX: Int, dilationY: Int, dilationX: Int

    var inPlane: Int { inHeight * inWidth }
    var outPlane: Int { outHeight * outWidth }
    var kernelArea: Int { kernelHeight * kernelWidth }

    /// A 1x1, stride-1, unpadded forward convolution: its input already is the unfolded matrix.
    var isPointwise: Bool {
        !transposed && kernelArea == 1 && strideY == 1 && strideX == 1 && padY == 0 && padX == 0
    }

    /// Floats of the unfolded group the GEMMs work on (one group of one image, reused):
    /// `[Cg·kh·kw, OH·OW]` forward, `[Og·kh·kw, H·W]` transposed, none when pointwise.
    var columnsCount: Int {
        if transposed { return outChannels / groups * kernelArea * inPlane }
        return isPointwise ? 0 : inChannels / groups * kernelArea * outPlane
    }

    /// The geometry of `call`; the output's spatial size comes from the rule, through the output.
    init(_ call: KernelCall) throws(KernelError) {
        let x = call.input("input"), w = call.input("weight"), out = call.outputs[0]
        let args = call.arguments
        transposed = args.bool("transposed")
        groups = args.int("groups")
        guard x.rank == 4, w.rank == 4, groups > 0 else {
            throw call.error("expected 4-D input and weight and groups > 0, got \(x), \(w), groups \(groups)")
        }
        outChannels = transposed ? w.shape[1] * groups : w.shape[0]
        guard out.rank == 4, out.shape[0] == x.shape[0], out.shape[1] == outChannels else {
            throw call.error("output is \(out), expected [\(x.shape[0]), \(outChannels), H, W]")
        }
        (batch, inChannels) = (x.shape[0], x.shape[1])
        (inHeight, inWidth, outHeight, outWidth) = (x.shape[2], x.shape[3], out.shape[2], out.shape[3])
        (kernelHeight, kernelWidth) = (w.shape[2], w.shape[3])
        (strideY, strideX) = pair(args.intList("stride"))
        (padY, padX) = pair(args.intList("padding"))
        (dilationY, dilationX) = pair(args.intList("dilation"))
    }
}

/// convolution's scratch: one group's unfolded columns (see ``ConvolutionGeometry/columnsCount``).
private func convolutionScratchBytes(_ call: KernelCall) -> Int {
    guard let g = try? ConvolutionGeometry(call) else { return 0 }
    return Scratch.bytes(Float.self, count: g.columnsCount)
}

/// 2-D convolution of NCHW input with OIHW weight (`[in, out / groups, kh, kw]` when transposed).
///
/// Both directions are "unfold + GEMM", one group of one image at a time, through a columns
/// buffer (the call's scratch) reused for every group and image:
/// - forward: im2col unfolds the input into `cols[Cg·kh·kw, OH·OW]`, then
///   `out[Og, OH·OW] = weight[Og, Cg·kh·kw] · cols` (a 1x1, stride-1, unpadded convolution
///   skips the unfolding: the input already is `cols`);
/// - transposed: `cols[Og·kh·kw, H·W] = weight[Cg, Og·kh·kw]^T · input[Cg, H·W]`, then col2im
///   adds each column entry into the output pixel it lands on (the adjoint of im2col).
/// The bias, when given, is the initial value of each output channel.
@Sendable private func convolution(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input"), w = call.input("weight"), bias = call.optionalInput("bias")
    let out = call.outputs[0]
    guard x.dtype == .float32 else { throw call.error("the portable kernel does not compute \(x.dtype) tensors") }
    // Step 1: the geometry.
    let g = try ConvolutionGeometry(call)
    let px = x.unsafeBuffer(of: Float.self).baseAddress!
    let pw = w.unsafeBuffer(of: Float.self).baseAddress!
    let py = out.unsafeMutableBuffer(of: Float.self).baseAddress!
    // Step 2: every output channel starts at its bias, or zero.
    let pb = bias?.unsafeBuffer(of: Float.self).baseAddress
    for image in 0..<g.batch {
        for o in 0..<g.outChannels {
            (py + (image * g.outChannels + o) * g.outPlane).update(repeating: pb?[o] ?? 0, count: g.outPlane)
        }
    }
    // Nothing to add without input or output pixels (when the columns are empty, so is one side).
    guard g.batch > 0, g.outChannels > 0, g.inChannels > 0, g.isPointwise || g.columnsCount > 0 else { return }
    // Step 3: the convolution proper, adding into the output, with the columns in scratch.
    Scratch.with(call, Float.self, count: g.columnsCount) { cols in
        if g.transposed {
            transposedConvolution(g, px, pw, py, cols: cols.baseAddress!)
        } else {
            forwardConvolution(g, px, pw, py, cols: cols.baseAddress)   // nil when pointwise
        }
    }
}

/// Adds the forward convolution of `x` with `w` into `y`, unfolding each group into `cols`
/// (``ConvolutionGeometry/columnsCount`` floats; nil when pointwise).
private func forwardConvolution(_ g: ConvolutionGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                _ y: UnsafeMutablePointer<Float>, cols: UnsafeMutablePointer<Float>?) {
    let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
    let depth = cg * g.kernelArea
    for image in 0..<g.batch {
        for group in 0..<g.groups {
            let input = x + (image * g.inChannels + group * cg) * g.inPlane
            var columns = input
            if let cols {
                im2col(g, channels: cg, input, cols)
                columns = UnsafePointer(cols)
            }
            Gemm.multiply(m: og, n: g.outPlane, k: depth,
                          a: .rowMajor(w + group * og * depth, columns: depth),
                          b: .rowMajor(columns, columns: g.outPlane),
                          c: y + (image * g.outChannels + group * og) * g.outPlane, ldc: g.outPlane,
                          accumulate: true)
        }
    }
}

/// Unfolds `channels` input planes: row `(c, ky, kx)` of `cols` holds, for every output pixel, the
/// input pixel that kernel tap meets (zero in the padding).
private func im2col(_ g: ConvolutionGeometry, channels: Int, _ input: UnsafePointer<Float>,
                    _ cols: UnsafeMutablePointer<Float>) {
    var row = cols
    for c in 0..<channels {
        let plane = input + c * g.inPlane
        for ky in 0..<g.kernelHeight {
            for kx in 0..<g.kernelWidth {
                for oy in 0..<g.outHeight {
                    let iy = oy * g.strideY - g.padY + ky * g.dilationY
                    let dst = row + oy * g.outWidth
                    guard iy >= 0, iy < g.inHeight else {
                        dst.update(repeating: 0, count: g.outWidth)
                        continue
                    }
                    let src = plane + iy * g.inWidth
                    for ox in 0..<g.outWidth {
                        let ix = ox * g.strideX - g.padX + kx * g.dilationX
                        dst[ox] = ix >= 0 && ix < g.inWidth ? src[ix] : 0
                    }
                }
                row += g.outPlane
            }
        }
    }
}

/// Adds the transposed convolution of `x` with `w` (`[in, out / groups, kh, kw]`) into `y`,
/// through one group's columns in `cols` (``ConvolutionGeometry/columnsCount`` floats).
private func transposedConvolution(_ g: ConvolutionGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                   _ y: UnsafeMutablePointer<Float>, cols: UnsafeMutablePointer<Float>) {
    let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
    let depth = og * g.kernelArea
    for image in 0..<g.batch {
        for group in 0..<g.groups {
            // cols[Og·kh·kw, H·W] = (weight group [Cg, Og·kh·kw])^T · input group [Cg, H·W].
            Gemm.multiply(m: depth, n: g.inPlane, k: cg,
                          a: .transposed(w + group * cg * depth, columns: depth),
                          b: .rowMajor(x + (image * g.inChannels + group * cg) * g.inPlane, columns: g.inPlane),
                          c: cols, ldc: g.inPlane, accumulate: false)
            col2im(g, channels: og, UnsafePointer(cols), y + (image * g.outChannels + group * og) * g.outPlane)
        }
    }
}

/// The adjoint of im2col: adds column `(o, ky, kx)`'s entry for input pixel `(iy, ix)` into output
/// pixel `(iy·stride - pad + ky·dilation, ix·stride - pad + kx·dilation)` of plane `o`, when
/// that pixel exists (output_padding only makes the output larger; nothing lands there but bias).
private func col2im(_ g: ConvolutionGeometry, channels: Int, _ cols: UnsafePointer<Float>,
                    _ output: UnsafeMutablePointer<Float>) {
    var row = cols
    for o in 0..<channels {
        let plane = output + o * g.outPlane
        for ky in 0..<g.kernelHeight {
            for kx in 0..<g.kernelWidth {
                for iy in 0..<g.inHeight {
                    let oy = iy * g.strideY - g.padY + ky * g.dilationY
                    guard oy >= 0, oy < g.outHeight else { continue }
                    let src = row + iy * g.inWidth, dst = plane + oy * g.outWidth
                    for ix in 0..<g.inWidth {
                        let ox = ix * g.strideX - g.padX + kx * g.dilationX
                        if ox >= 0 && ox < g.outWidth { dst[ox] += src[ix] }
                    }
                }
                row += g.inPlane
            }
        }
    }
}

/// A two-value attribute; the op rule also accepts one value standing for both.
private func pair(_ values: [Int]) -> (Int, Int) {
    values.count == 1 ? (values[0], values[0]) : (values[0], values[1])
}

// MARK: - adaptive average pooling

/// Averages over PyTorch's adaptive windows: output row `i` of `out` rows covers input rows
/// `floor(i·in / out) ..< ceil((i + 1)·in / out)` (the same for columns); windows may overlap.
/// Rank-3 (`[C, H, W]`) and rank-4 (`[N, C, H, W]`) inputs alike: every leading dim is a plane.
@Sendable private func adaptiveAvgPool2d(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self"), out = call.outputs[0]
    guard x.dtype == .float32 else { throw call.error("the portable kernel does not compute \(x.dtype) tensors") }
    let size = call.arguments.intList("output_size")
    let (inHeight, inWidth) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
    let (outHeight, outWidth) = (size[0], size[1])
    guard ShapeMath.shape(out.shape, is: x.shape, upTo: x.rank - 2, then: outHeight, outWidth) else {
        throw call.error("output is \(out), expected shape \(Array(x.shape.dropLast(2)) + [outHeight, outWidth])")
    }
    let planes = ShapeMath.product(x.shape, 0..<(x.rank - 2))
    guard planes == 0 || (inHeight > 0 && inWidth > 0) else {
        throw call.error("expected non-empty spatial dims, got input \(x)")
    }
    let px = x.unsafeBuffer(of: Float.self).baseAddress!
    let py = out.unsafeMutableBuffer(of: Float.self).baseAddress!
    for p in 0..<planes {
        let plane = px + p * inHeight * inWidth
        let dst = py + p * outHeight * outWidth
        for oy in 0..<outHeight {
            // Step 1: the window's rows (floor start, ceil end).
            let y0 = oy * inHeight / outHeight, y1 = ((oy + 1) * inHeight + outHeight - 1) / outHeight
            for ox in 0..<outWidth {
                // Step 2: its columns, then the sum in Float divided as torch does.
                let x0 = ox * inWidth / outWidth, x1 = ((ox + 1) * inWidth + outWidth - 1) / outWidth
                var sum: Float = 0
                for iy in y0..<y1 {
                    let row = plane + iy * inWidth
                    for ix in x0..<x1 { sum += row[ix] }
                }
                dst[oy * outWidth + ox] = sum / Float(y1 - y0) / Float(x1 - x0)
            }
        }
    }
}
