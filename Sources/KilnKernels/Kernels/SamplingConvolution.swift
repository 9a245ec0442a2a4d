import KilnOps
import KilnTensor

/// conv2d and conv_transpose2d.input, the convolutions users write, as direct loops over float32
/// (CHW or NCHW input).
///
/// These ops are not ATen core ops: before portable emission they become `convolution` (im2col
/// and GEMM in `Spatial.swift`), so programs never run these loops; the graph evaluator does
/// (constant folding, calibration, reference outputs of undecomposed graphs). Direct loops keep
/// them free of scratch and independent of the GEMM. Sums run in another order than
/// `convolution`'s, so the two agree to float rounding, not bit for bit.
let convolutionFrontEndKernels: [KernelEntry] = [
    KernelEntry(op: "conv2d", name: "f32_conv2d__portable") { call throws(KernelError) in
        try directConvolution(call, transposed: false)
    },
    KernelEntry(op: "conv_transpose2d.input", name: "f32_conv_transpose2d__portable") { call throws(KernelError) in
        try directConvolution(call, transposed: true)
    },
]

/// The sizes of one direct convolution, checked so that no read or write leaves its tensor.
private struct DirectConvolution {
    var batch: Int, inChannels: Int, outChannels: Int, groups: Int
    var inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int
    var padH: Int, padW: Int, dilationH: Int, dilationW: Int

    init(_ call: KernelCall, transposed: Bool) throws(KernelError) {
        let x = call.input("input"), w = call.input("weight"), out = call.outputs[0]
        groups = call.arguments.int("groups")
        guard x.rank == 3 || x.rank == 4, w.rank == 4, out.rank == x.rank, groups > 0 else {
            throw call.error("expected a 3-D or 4-D input, a 4-D weight, an output of the input's rank and groups > 0, "
                             + "got \(x), \(w), \(out), groups \(groups)")
        }
        let r = x.rank
        batch = r == 4 ? x.shape[0] : 1
        (inChannels, inHeight, inWidth) = (x.shape[r - 3], x.shape[r - 2], x.shape[r - 1])
        (outHeight, outWidth) = (out.shape[r - 2], out.shape[r - 1])
        (kernelH, kernelW) = (w.shape[2], w.shape[3])
        // Weight [out, in / groups, kh, kw]; transposed [in, out / groups, kh, kw].
        let (perGroup, overflow) = w.shape[1].multipliedReportingOverflow(by: groups)
        outChannels = transposed ? perGroup : w.shape[0]
        let weightIn = transposed ? w.shape[0] : perGroup
        guard !overflow, weightIn == inChannels, inChannels % groups == 0, outChannels % groups == 0,
              out.shape[r - 3] == outChannels, r == 3 || out.shape[0] == batch else {
            throw call.error("input \(x), weight \(w) and output \(out) do not agree (groups \(groups))")
        }
        if let bias = call.optionalInput("bias"), bias.dtype != .float32 || bias.elementCount != outChannels {
            throw call.error("expected a float32 bias of \(outChannels) values, got \(bias)")
        }
        (strideH, strideW) = try twoValues(call, "stride")
        (padH, padW) = try twoValues(call, "padding")
        (dilationH, dilationW) = try twoValues(call, "dilation")
        guard strideH > 0, strideW > 0, dilationH > 0, dilationW > 0 else {
            throw call.error("expected positive stride and dilation")
        }
    }
}

/// Positions `p` in `0..<count` with `p·stride + offset` in `0..<limit`.
@inline(__always)
func positions(count: Int, stride: Int, offset: Int, limit: Int) -> Range<Int> {
    let first = offset >= 0 ? 0 : Swift.min((-offset + stride - 1) / stride, count)
    let end = limit - 1 - offset < 0 ? 0 : Swift.min((limit - 1 - offset) / stride + 1, count)
    return first..<Swift.max(first, end)
}

private func directConvolution(_ call: KernelCall, transposed: Bool) throws(KernelError) {
    let x = call.input("input"), w = call.input("weight"), out = call.outputs[0]
    guard x.dtype == .float32, w.dtype == .float32, out.dtype == .float32 else {
        throw call.error("the portable kernel does not compute \(x.dtype) tensors")
    }
    let c = try DirectConvolution(call, transposed: transposed)
    let (inPlane, outPlane) = (c.inHeight * c.inWidth, c.outHeight * c.outWidth)
    guard c.batch > 0, c.outChannels > 0, outPlane > 0,
          let py = out.unsafeMutableBuffer(of: Float.self).baseAddress else { return }
    // Step 1: every output plane starts at its bias, or zero.
    let pb = call.optionalInput("bias")?.unsafeBuffer(of: Float.self).baseAddress
    for n in 0..<c.batch {
        for o in 0..<c.outChannels { (py + (n * c.outChannels + o) * outPlane).update(repeating: pb?[o] ?? 0, count: outPlane) }
    }
    guard c.inChannels > 0, inPlane > 0, c.kernelH > 0, c.kernelW > 0,
          let px = x.unsafeBuffer(of: Float.self).baseAddress,
          let pw = w.unsafeBuffer(of: Float.self).baseAddress else { return }
    // Step 2: add each weight times the input plane it meets, a row at a time.
    let (cg, og) = (c.inChannels / c.groups, c.outChannels / c.groups)
    for n in 0..<c.batch {
        for ic in 0..<c.inChannels {
            let group = ic / cg
            let src = px + (n * c.inChannels + ic) * inPlane
            for oc in (group * og)..<((group + 1) * og) {
                let dst = py + (n * c.outChannels + oc) * outPlane
                // forward: weight[oc, ic % cg, ky, kx]; transposed: weight[ic, oc % og, ky, kx].
                let taps = pw + (transposed ? ic * og + oc % og : oc * cg + ic % cg) * c.kernelH * c.kernelW
                for ky in 0..<c.kernelH {
                    for kx in 0..<c.kernelW {
                        let weight = taps[ky * c.kernelW + kx]
                        let (rowOffset, colOffset) = (ky * c.dilationH - c.padH, kx * c.dilationW - c.padW)
                        if transposed {
                            // in (iy, ix) lands on out (iy·stride + rowOffset, ix·stride + colOffset).
                            let columns = positions(count: c.inWidth, stride: c.strideW, offset: colOffset, limit: c.outWidth)
                            for iy in positions(count: c.inHeight, stride: c.strideH, offset: rowOffset, limit: c.outHeight) {
                                let s = src + iy * c.inWidth, d = dst + (iy * c.strideH + rowOffset) * c.outWidth + colOffset
                                for ix in columns { d[ix &* c.strideW] += weight * s[ix] }
                            }
                        } else {
                            // out (oy, ox) reads in (oy·stride + rowOffset, ox·stride + colOffset).
                            let columns = positions(count: c.outWidth, stride: c.strideW, offset: colOffset, limit: c.inWidth)
                            for oy in positions(count: c.outHeight, stride: c.strideH, offset: rowOffset, limit: c.inHeight) {
                                let s = src + (oy * c.strideH + rowOffset) * c.inWidth + colOffset, d = dst + oy * c.outWidth
                                for ox in columns { d[ox] += weight * s[ox &* c.strideW] }
                            }
                        }
                    }
                }
            }
        }
    }
}
