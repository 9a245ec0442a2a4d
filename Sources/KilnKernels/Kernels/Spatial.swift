import KilnOps
import KilnTensor

/// Convolution and adaptive average pooling over NCHW float32 tensors.
let spatialKernels: [KernelEntry] = [
    KernelEntry(op: "convolution", name: "f32_convolution_14x32__simd", scratchBytes: convolutionScratchBytes,
                prepack: KernelPrepack(bytes: convolutionPackedBytes, pack: packConvolutionWeight), kernel: convolution),
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
    /// The planes and the kernel window.
    var window: ConvolutionWindow

    var inPlane: Int { window.inPlane }
    var outPlane: Int { window.outPlane }
    var kernelArea: Int { window.kernelArea }
    /// Input and output channels of one group.
    var groupIn: Int { inChannels / groups }
    var groupOut: Int { outChannels / groups }

    /// How the kernel computes it.
    enum Method { case pointwise, shifted, unfolded, depthwise, transposed }

    var method: Method {
        if transposed { return .transposed }
        // One input channel per output channel: the direct kernel.
        if groups == inChannels && groups == outChannels { return .depthwise }
        // A 1x1, stride-1, unpadded convolution: its input already is the unfolded matrix.
        let w = window
        if w.kernelArea == 1 && w.strideY == 1 && w.strideX == 1 && w.padY == 0 && w.padX == 0 { return .pointwise }
        // Stride 1: one GEMM over the zero-padded input, each tap a shifted view of it.
        if w.strideY == 1 && w.strideX == 1 { return .shifted }
        return .unfolded
    }

    /// The GEMM of one group of one image: `out[m, n] (+)= A[m, k] · B[k, n]`. Forward, `A` is
    /// the weight group `[Og, Cg·kh·kw]`; transposed, `A` is the weight group `[Cg, Og·kh·kw]`
    /// read transposed and the product is the columns `[Og·kh·kw, H·W]`.
    var product: (m: Int, n: Int, k: Int) {
        transposed ? (groupOut * kernelArea, inPlane, groupIn) : (groupOut, outPlane, groupIn * kernelArea)
    }

    /// Floats of the columns the transposed convolution scatters from (one group of one image).
    var columnsCount: Int { transposed ? groupOut * kernelArea * inPlane : 0 }

    /// The zero-padded input of the shifted method: its rows and row length.
    var paddedHeight: Int { window.outHeight + (window.kernelHeight - 1) * window.dilationY }
    var paddedWidth: Int { window.outWidth + (window.kernelWidth - 1) * window.dilationX }

    /// Floats of the shifted method's buffers: one group's padded input `[Cg, PH, PW]` and its
    /// output in the padded width `[Og, (OH - 1)·PW + OW]`.
    var shiftedCount: (padded: Int, output: Int) {
        guard method == .shifted, outPlane > 0 else { return (0, 0) }
        return (groupIn * paddedHeight * paddedWidth, groupOut * ((window.outHeight - 1) * paddedWidth + window.outWidth))
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
        let (strideY, strideX) = pair(args.intList("stride"))
        let (padY, padX) = pair(args.intList("padding"))
        let (dilationY, dilationX) = pair(args.intList("dilation"))
        window = ConvolutionWindow(inHeight: x.shape[2], inWidth: x.shape[3], outHeight: out.shape[2],
                                   outWidth: out.shape[3], kernelHeight: w.shape[2], kernelWidth: w.shape[3],
                                   strideY: strideY, strideX: strideX, padY: padY, padX: padX,
                                   dilationY: dilationY, dilationX: dilationX)
    }
}

/// The weight packed as each group's GEMM `A` panels (``FloatGemm/packA(_:m:k:into:)``), group
/// after group; the depthwise kernel reads the weight as it is.
private func packedWeightCount(_ g: ConvolutionGeometry) -> Int {
    g.method == .depthwise ? 0 : g.groups * FloatGemm.packedACount(m: g.product.m, k: g.product.k)
}

/// convolution's prepacking: the float32 weight, when constant (see ``packedWeightCount(_:)``).
@Sendable private func convolutionPackedBytes(_ call: KernelCall, _ index: Int) -> Int {
    guard index == call.arguments.tensor("weight"), call.input("weight").dtype == .float32,
          let g = try? ConvolutionGeometry(call) else { return 0 }
    return Scratch.bytes(Float.self, count: packedWeightCount(g))
}

@Sendable private func packConvolutionWeight(_ call: KernelCall, _ index: Int, _ destination: UnsafeMutableRawBufferPointer) {
    guard let g = try? ConvolutionGeometry(call), destination.count >= Scratch.bytes(Float.self, count: packedWeightCount(g)),
          let base = destination.baseAddress else { return }
    let dst = base.bindMemory(to: Float.self, capacity: destination.count / 4)
    let w = call.input("weight").unsafeBuffer(of: Float.self).baseAddress!
    let (m, _, k) = g.product
    let perGroup = FloatGemm.packedACount(m: m, k: k)
    for group in 0..<g.groups {
        _ = FloatGemm.packA(weightGroup(g, w, group), m: m, k: k, into: dst + group * perGroup)
    }
}

/// Weight group `group` as the GEMM's `A` (see ``ConvolutionGeometry/product``).
private func weightGroup(_ g: ConvolutionGeometry, _ w: UnsafePointer<Float>, _ group: Int) -> Gemm.Operand<Float> {
    let (m, _, k) = g.product
    return g.transposed ? .transposed(w + group * m * k, columns: m) : .rowMajor(w + group * m * k, columns: k)
}

/// The packed weight the method made, when it is there and of the right size.
private func packedWeight(_ call: KernelCall, _ g: ConvolutionGeometry) -> UnsafePointer<Float>? {
    let count = packedWeightCount(g)
    guard count > 0, let packed = call.prepackedInput(call.arguments.tensor("weight")), let base = packed.baseAddress,
          packed.count >= Scratch.bytes(Float.self, count: count) else { return nil }
    return base.assumingMemoryBound(to: Float.self)
}

/// Floats of convolution's working memory, for `threads` threads (``convolutionScratchBytes(_:)``).
private func scratchCount(_ g: ConvolutionGeometry, threads: Int, packingWeight: Bool) -> Int {
    if g.method == .depthwise { return DepthwiseConvolution.paddedCount(g.window) * threads }
    var (m, n, k) = g.product
    let shifted = g.shiftedCount
    if g.method == .shifted { n = (g.window.outHeight - 1) * g.paddedWidth + g.window.outWidth }
    let gemm = FloatGemm.workspaceCount(m: m, n: n, k: k, threads: threads, packingA: packingWeight)
    return roundUp(g.columnsCount, 16) + roundUp(shifted.padded, 16) + roundUp(shifted.output, 16) + gemm
}

/// convolution's scratch: the GEMM's working memory (and the transposed convolution's columns,
/// the depthwise kernel's padded planes).
@Sendable private func convolutionScratchBytes(_ call: KernelCall) -> Int {
    guard call.input("input").dtype == .float32, let g = try? ConvolutionGeometry(call) else { return 0 }
    return Scratch.bytes(Float.self, count: scratchCount(g, threads: call.threadPool.threadCount,
                                                         packingWeight: packedWeight(call, g) == nil))
}

/// 2-D convolution of NCHW input with OIHW weight (`[in, out / groups, kh, kw]` when transposed).
///
/// Every output starts at its channel's bias (or zero); then, by the geometry:
/// - depthwise (`groups == in == out channels`): ``DepthwiseConvolution``, directly;
/// - pointwise (1x1, stride 1, no padding): per image and group, `out[Og, H·W] += weight[Og, Cg] ·
///   input[Cg, H·W]`, the input read in place;
/// - other stride-1 forward: the same GEMM over a zero-padded copy of the input in its padded
///   width, each tap's row of `B` a shifted view of it (``ShiftedPanels``), into a buffer whose
///   rows are then copied out without the padding columns;
/// - otherwise forward: the same GEMM with `B` the unfolded input `[Cg·kh·kw, OH·OW]`, unfolded
///   straight into the GEMM's panels (``Im2colPanels``) block by block;
/// - transposed: `cols[Og·kh·kw, H·W] = weight[Cg, Og·kh·kw]^T · input[Cg, H·W]` into scratch,
///   then col2im adds each column entry into the output pixel it lands on (the adjoint of im2col).
/// The weight's GEMM panels come prepacked when the method made them. The forward paths all
/// round as ``FloatGemm`` does: `fma` over `(c, ky, kx)` in order from the bias.
@Sendable private func convolution(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input"), w = call.input("weight"), bias = call.optionalInput("bias")
    let out = call.outputs[0]
    guard x.dtype == .float32 else { throw call.error("the portable kernel does not compute \(x.dtype) tensors") }
    // Step 1: the geometry.
    let g = try ConvolutionGeometry(call)
    let px = x.unsafeBuffer(of: Float.self).baseAddress!
    let pw = w.unsafeBuffer(of: Float.self).baseAddress!
    let py = out.unsafeMutableBuffer(of: Float.self).baseAddress!
    // Step 2: every output channel starts at its bias, or zero (the shifted and depthwise
    //         methods start their sums at the bias themselves and write every output).
    let pb = bias?.unsafeBuffer(of: Float.self).baseAddress
    // Nothing to add without input or output pixels.
    let proceeds = g.batch > 0 && g.outChannels > 0 && g.inChannels > 0 && g.inPlane > 0 && g.outPlane > 0
    if !proceeds || (g.method != .shifted && g.method != .depthwise) {
        for image in 0..<g.batch {
            for o in 0..<g.outChannels {
                (py + (image * g.outChannels + o) * g.outPlane).update(repeating: pb?[o] ?? 0, count: g.outPlane)
            }
        }
    }
    guard proceeds else { return }
    // Step 3: the convolution proper, adding into the output, with its working memory in scratch.
    let packed = packedWeight(call, g)
    let threads = call.threadPool
    Scratch.with(call, Float.self, count: scratchCount(g, threads: threads.threadCount, packingWeight: packed == nil)) {
        scratch in
        switch g.method {
        case .depthwise:
            DepthwiseConvolution.run(g.window, planes: g.batch * g.inChannels, channels: g.inChannels, input: px,
                                     weight: pw, bias: pb, output: py, workspace: scratch, threads: threads)
        case .pointwise, .unfolded, .shifted:
            forwardConvolution(g, px, pw, packed: packed, py, bias: pb, workspace: scratch, threads: threads)
        case .transposed:
            let columns = roundUp(g.columnsCount, 16)
            transposedConvolution(g, px, pw, packed: packed, py, cols: scratch.baseAddress!,
                                  workspace: UnsafeMutableBufferPointer(rebasing: scratch[columns...]), threads: threads)
        }
    }
}

/// Adds the forward convolution of `x` with `w` into `y`, one GEMM per image and group.
private func forwardConvolution(_ g: ConvolutionGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                packed: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                                workspace: UnsafeMutableBufferPointer<Float>, threads: ThreadPool) {
    let (m, k) = (g.product.m, g.product.k)
    if let packed {
        let perGroup = FloatGemm.packedACount(m: m, k: k)
        forwardGroups(g, x, y, bias: bias, workspace: workspace, threads: threads) { group in
            PrepackedPanels(base: packed + group * perGroup, width: FloatGemm.mr, depth: k, wide: m)
        }
    } else {
        forwardGroups(g, x, y, bias: bias, workspace: workspace, threads: threads) { group in
            StridedPanels(a: weightGroup(g, w, group))
        }
    }
}

/// The forward GEMMs with each group's weight from `weight`.
private func forwardGroups<A: GemmPanelSource>(_ g: ConvolutionGeometry, _ x: UnsafePointer<Float>,
                                               _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                                               workspace: UnsafeMutableBufferPointer<Float>, threads: ThreadPool,
                                               weight: (Int) -> A) {
    let (m, n, k) = g.product
    for image in 0..<g.batch {
        for group in 0..<g.groups {
            let input = x + (image * g.inChannels + group * g.groupIn) * g.inPlane
            let output = y + (image * g.outChannels + group * g.groupOut) * g.outPlane
            if g.method == .shifted {
                shiftedProduct(g, weight(group), input, output, bias: bias.map { $0 + group * g.groupOut },
                               workspace: workspace, threads: threads)
            } else if g.method == .pointwise {
                FloatGemm.product(m: m, n: n, k: k, a: weight(group), b: StridedPanels(b: .rowMajor(input, columns: n)),
                                  c: output, ldc: n, accumulate: true, workspace: workspace, threads: threads)
            } else {
                FloatGemm.product(m: m, n: n, k: k, a: weight(group), b: Im2colPanels(input: input, window: g.window),
                                  c: output, ldc: n, accumulate: true, workspace: workspace, threads: threads)
            }
        }
    }
}

/// One group of one image by the shifted method: pad the input, run the GEMM in the padded
/// width from the bias, copy the real columns out (see ``ShiftedPanels``).
private func shiftedProduct<A: GemmPanelSource>(_ g: ConvolutionGeometry, _ weight: A, _ input: UnsafePointer<Float>,
                                                _ output: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                                                workspace: UnsafeMutableBufferPointer<Float>, threads: ThreadPool) {
    let w = g.window
    let (ph, pw) = (g.paddedHeight, g.paddedWidth)
    let counts = g.shiftedCount
    let padded = workspace.baseAddress!, wide = padded + roundUp(counts.padded, 16)
    let gemmWorkspace = UnsafeMutableBufferPointer(rebasing: workspace[(roundUp(counts.padded, 16) + roundUp(counts.output, 16))...])
    ShiftedPanels.pad(w, channels: g.groupIn, input, into: padded, height: ph, width: pw)
    let b = ShiftedPanels(padded: padded, paddedHeight: ph, paddedWidth: pw, window: w)
    let n = b.wideCount
    for o in 0..<g.groupOut { (wide + o * n).update(repeating: bias?[o] ?? 0, count: n) }
    FloatGemm.product(m: g.groupOut, n: n, k: g.product.k, a: weight, b: b, c: wide, ldc: n, accumulate: true,
                      workspace: gemmWorkspace, threads: threads)
    for o in 0..<g.groupOut {
        for oy in 0..<w.outHeight {
            (output + o * w.outPlane + oy * w.outWidth).update(from: wide + o * n + oy * pw, count: w.outWidth)
        }
    }
}

/// Adds the transposed convolution of `x` with `w` (`[in, out / groups, kh, kw]`) into `y`,
/// through one group's columns in `cols` (``ConvolutionGeometry/columnsCount`` floats).
private func transposedConvolution(_ g: ConvolutionGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                   packed: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                                   cols: UnsafeMutablePointer<Float>, workspace: UnsafeMutableBufferPointer<Float>,
                                   threads: ThreadPool) {
    let (m, n, k) = g.product
    let perGroup = FloatGemm.packedACount(m: m, k: k)
    for image in 0..<g.batch {
        for group in 0..<g.groups {
            // cols[Og·kh·kw, H·W] = (weight group [Cg, Og·kh·kw])^T · input group [Cg, H·W].
            let input = StridedPanels(b: .rowMajor(x + (image * g.inChannels + group * g.groupIn) * g.inPlane, columns: n))
            if let packed {
                FloatGemm.product(m: m, n: n, k: k, a: PrepackedPanels(base: packed + group * perGroup, width: FloatGemm.mr,
                                                                       depth: k, wide: m),
                                  b: input, c: cols, ldc: n, accumulate: false, workspace: workspace, threads: threads)
            } else {
                FloatGemm.product(m: m, n: n, k: k, a: StridedPanels(a: weightGroup(g, w, group)), b: input, c: cols, ldc: n,
                                  accumulate: false, workspace: workspace, threads: threads)
            }
            col2im(g, channels: g.groupOut, UnsafePointer(cols), y + (image * g.outChannels + group * g.groupOut) * g.outPlane)
        }
    }
}

/// The adjoint of im2col: adds column `(o, ky, kx)`'s entry for input pixel `(iy, ix)` into output
/// pixel `(iy·stride - pad + ky·dilation, ix·stride - pad + kx·dilation)` of plane `o`, when
/// that pixel exists (output_padding only makes the output larger; nothing lands there but bias).
private func col2im(_ g: ConvolutionGeometry, channels: Int, _ cols: UnsafePointer<Float>,
                    _ output: UnsafeMutablePointer<Float>) {
    let w = g.window
    var row = cols
    for o in 0..<channels {
        let plane = output + o * w.outPlane
        for ky in 0..<w.kernelHeight {
            for kx in 0..<w.kernelWidth {
                for iy in 0..<w.inHeight {
                    let oy = iy * w.strideY - w.padY + ky * w.dilationY
                    guard oy >= 0, oy < w.outHeight else { continue }
                    let src = row + iy * w.inWidth, dst = plane + oy * w.outWidth
                    for ix in 0..<w.inWidth {
                        let ox = ix * w.strideX - w.padX + kx * w.dilationX
                        if ox >= 0 && ox < w.outWidth { dst[ox] += src[ix] }
                    }
                }
                row += w.inPlane
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
