import KilnOps
import KilnTensor

// Layer norm over the trailing `normalized_shape` dims: each row of N = prod(normalized_shape)
// contiguous elements is normalized by its own mean and variance (biased, as in ATen).
//
// Statistics accumulate in Double over the row's values read as Float (float16 and bfloat16 are
// computed in float32, as ATen's CPU kernel does); the output is `(x * rstd - mean * rstd) *
// weight + bias`, ATen's order and roundings, in Float, rounded once at the store.

let shapingLayerNormKernels: [KernelEntry] = [
    KernelEntry(op: "native_layer_norm", name: "f32_f16_bf16_native_layer_norm__portable", kernel: layerNorm),
    KernelEntry(op: "layer_norm", name: "f32_f16_bf16_layer_norm__portable", kernel: layerNorm),
]

/// native_layer_norm (output, mean, rstd) and layer_norm (output only).
private func layerNorm(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input")
    let weight = call.optionalInput("weight"), bias = call.optionalInput("bias")
    let normalized = call.arguments.intList("normalized_shape")
    // 1. Check the shapes: x ends in normalized_shape, weight and bias are of it, the outputs are
    //    x's shape and (for native_layer_norm) the leading dims with 1s.
    let lead = x.rank - normalized.count
    guard !normalized.isEmpty, lead >= 0, x.shape[lead...].elementsEqual(normalized) else {
        throw call.error("argument 'normalized_shape': \(x) does not end in \(normalized)")
    }
    if let weight, weight.shape != normalized || weight.dtype != x.dtype {
        throw call.error("argument 'weight': expected \(x.dtype)\(normalized), got \(weight)")
    }
    if let bias, bias.shape != normalized || bias.dtype != x.dtype {
        throw call.error("argument 'bias': expected \(x.dtype)\(normalized), got \(bias)")
    }
    let width = ShapeMath.product(normalized, 0..<normalized.count)
    let rows = ShapeMath.product(x.shape, 0..<lead)
    guard let out = call.outputs.first, out.shape == x.shape, out.dtype == x.dtype else {
        throw call.error("output 0 must be \(x)")
    }
    let stats = call.outputs.count == 3 ? (mean: call.outputs[1], rstd: call.outputs[2]) : nil
    if let stats, !isStatistics(stats.mean, of: x, lead: lead) || !isStatistics(stats.rstd, of: x, lead: lead) {
        throw call.error("outputs 1 and 2 must be \(x.dtype) of x's leading \(lead) dims and 1s, got \(stats.mean), \(stats.rstd)")
    }
    let eps = call.arguments.float("eps")
    // 2. Normalize in the input's dtype.
    switch x.dtype {
    case .float32: normalizeFloatRows(x, weight, bias, out, stats, rows, width, eps)
    case .float16: normalizeRows(x, weight, bias, out, stats, rows, width, eps, Float16.self)
    case .bfloat16: normalizeRows(x, weight, bias, out, stats, rows, width, eps, BFloat16.self)
    default: throw call.error("argument 'input': expected a floating-point tensor, got \(x.dtype)")
    }
}

/// True when `t` is `x.shape[..<lead] + [1, ...]` in x's dtype (mean and rstd's shape).
private func isStatistics(_ t: Tensor, of x: Tensor, lead: Int) -> Bool {
    guard t.dtype == x.dtype, t.rank == x.rank else { return false }
    for d in 0..<t.rank where t.shape[d] != (d < lead ? x.shape[d] : 1) { return false }
    return true
}

/// The float32 rows, on raw pointers (the statistics run over SIMD lanes and the output loop
/// vectorizes); the same arithmetic as `normalizeRows`, in another order of additions.
private func normalizeFloatRows(_ x: Tensor, _ weight: Tensor?, _ bias: Tensor?, _ out: Tensor,
                                _ stats: (mean: Tensor, rstd: Tensor)?, _ rows: Int, _ width: Int, _ eps: Double) {
    guard width > 0, let px = x.unsafeBuffer(of: Float.self).baseAddress,
          let py = out.unsafeMutableBuffer(of: Float.self).baseAddress else { return }
    let pw = weight?.unsafeBuffer(of: Float.self).baseAddress, pb = bias?.unsafeBuffer(of: Float.self).baseAddress
    let pm = stats?.mean.unsafeMutableBuffer(of: Float.self), pr = stats?.rstd.unsafeMutableBuffer(of: Float.self)
    for r in 0..<rows {
        let (src, dst) = (px + r * width, py + r * width)
        let mean = FloatLoops.sum(src, width) / Double(width)
        let variance = FloatLoops.squaredDeviations(src, width, mean: mean) / Double(width)
        let rstd = 1 / (Swift.max(variance, 0) + eps).squareRoot()
        pm?[r] = Float(mean)
        pr?[r] = Float(rstd)
        let scale = Float(rstd), shift = -Float(mean) * scale
        switch (pw, pb) {
        case let (w?, b?): for j in 0..<width { dst[j] = (src[j] * scale + shift) * w[j] + b[j] }
        case let (w?, nil): for j in 0..<width { dst[j] = (src[j] * scale + shift) * w[j] }
        case let (nil, b?): for j in 0..<width { dst[j] = (src[j] * scale + shift) + b[j] }
        case (nil, nil): for j in 0..<width { dst[j] = src[j] * scale + shift }
        }
    }
}

private func normalizeRows<T: ComputedElement>(_ x: Tensor, _ weight: Tensor?, _ bias: Tensor?, _ out: Tensor,
                                               _ stats: (mean: Tensor, rstd: Tensor)?, _ rows: Int, _ width: Int,
                                               _ eps: Double, _: T.Type) where T.Compute == Float {
    let px = x.unsafeBuffer(of: T.self), py = out.unsafeMutableBuffer(of: T.self)
    let pw = weight?.unsafeBuffer(of: T.self), pb = bias?.unsafeBuffer(of: T.self)
    let pm = stats?.mean.unsafeMutableBuffer(of: T.self), pr = stats?.rstd.unsafeMutableBuffer(of: T.self)
    for r in 0..<rows {
        let row = r * width
        // 1. Mean, then the mean of squared deviations (two passes, in Double).
        var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
        var i = 0
        while i + 4 <= width {
            s0 += Double(px[row + i].computeValue)
            s1 += Double(px[row + i + 1].computeValue)
            s2 += Double(px[row + i + 2].computeValue)
            s3 += Double(px[row + i + 3].computeValue)
            i += 4
        }
        while i < width {
            s0 += Double(px[row + i].computeValue)
            i += 1
        }
        let mean = ((s0 + s1) + (s2 + s3)) / Double(width)
        (s0, s1, s2, s3) = (0, 0, 0, 0)
        i = 0
        while i + 4 <= width {
            let (a, b) = (Double(px[row + i].computeValue) - mean, Double(px[row + i + 1].computeValue) - mean)
            let (c, d) = (Double(px[row + i + 2].computeValue) - mean, Double(px[row + i + 3].computeValue) - mean)
            s0 += a * a
            s1 += b * b
            s2 += c * c
            s3 += d * d
            i += 4
        }
        while i < width {
            let a = Double(px[row + i].computeValue) - mean
            s0 += a * a
            i += 1
        }
        let variance = ((s0 + s1) + (s2 + s3)) / Double(width)
        let rstd = 1 / (Swift.max(variance, 0) + eps).squareRoot()
        pm?[r] = T(computed: Float(mean))
        pr?[r] = T(computed: Float(rstd))
        // 2. y = (x * scale + shift) * weight + bias with scale = rstd, shift = -mean * rstd, both
        //    in Float as ATen rounds them (a constant row then gives exactly `bias`).
        let scale = Float(rstd), shift = -Float(mean) * scale
        switch (pw, pb) {
        case let (w?, b?):
            for j in 0..<width {
                py[row + j] = T(computed: (px[row + j].computeValue * scale + shift) * w[j].computeValue + b[j].computeValue)
            }
        case let (w?, nil):
            for j in 0..<width { py[row + j] = T(computed: (px[row + j].computeValue * scale + shift) * w[j].computeValue) }
        case let (nil, b?):
            for j in 0..<width { py[row + j] = T(computed: (px[row + j].computeValue * scale + shift) + b[j].computeValue) }
        case (nil, nil):
            for j in 0..<width { py[row + j] = T(computed: px[row + j].computeValue * scale + shift) }
        }
    }
}
