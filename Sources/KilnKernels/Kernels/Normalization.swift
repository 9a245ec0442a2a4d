import KilnOps
import KilnTensor

/// Normalizations over float32 tensors: inference batch norm (both forms) and RMS norm.
let normalizationKernels: [KernelEntry] = [
    KernelEntry(op: "batch_norm", name: "f32_batch_norm__portable", kernel: batchNorm),
    KernelEntry(op: "_native_batch_norm_legit_no_training",
                name: "f32__native_batch_norm_legit_no_training__portable", kernel: batchNorm),
    KernelEntry(op: "rms_norm", name: "f32_rms_norm__portable", kernel: rmsNorm),
]

// MARK: - batch norm

/// Inference batch norm over dim 1 of `[N, C, *]`:
/// `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`, computed as torch does:
/// a per-channel `scale = weight / sqrt(var + eps)` and `shift = bias - mean * scale` (in Double,
/// rounded to Float once), then `y = x * scale + shift`.
///
/// Serves `batch_norm` (one result) and `_native_batch_norm_legit_no_training`, whose second and
/// third results (the saved mean and inverse std of training) are empty `[0]` tensors.
@Sendable private func batchNorm(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input"), out = call.outputs[0]
    guard x.dtype == .float32 else { throw call.error("the portable kernel does not compute \(x.dtype) tensors") }
    guard let mean = call.optionalInput("running_mean"), let variance = call.optionalInput("running_var") else {
        throw call.error("inference batch norm needs running_mean and running_var")
    }
    guard out.shape == x.shape else { throw call.error("output is \(out), expected shape \(x.shape)") }
    let eps = call.arguments.float("eps")
    // Step 1: the sizes: images, channels, and elements per channel of one image.
    let (batch, channels) = (x.shape[0], x.shape[1])
    let inner = x.shape.dropFirst(2).reduce(1, *)
    let pm = mean.unsafeBuffer(of: Float.self), pv = variance.unsafeBuffer(of: Float.self)
    let pw = call.optionalInput("weight")?.unsafeBuffer(of: Float.self)
    let pb = call.optionalInput("bias")?.unsafeBuffer(of: Float.self)
    let px = x.unsafeBuffer(of: Float.self).baseAddress!
    let py = out.unsafeMutableBuffer(of: Float.self).baseAddress!
    for c in 0..<channels {
        // Step 2: this channel's scale and shift (missing weight is 1, missing bias 0).
        let invStd = 1 / (Double(pv[c]) + eps).squareRoot()
        let scale = Float(Double(pw?[c] ?? 1) * invStd)
        let shift = Float(Double(pb?[c] ?? 0) - Double(pm[c]) * Double(scale))
        // Step 3: y = x * scale + shift over the channel's plane in every image.
        for n in 0..<batch {
            let offset = (n * channels + c) * inner
            let src = px + offset, dst = py + offset
            for i in 0..<inner { dst[i] = src[i] * scale + shift }
        }
    }
}

// MARK: - RMS norm

/// `y = x / sqrt(mean(x² over the trailing normalized_shape dims) + eps) * weight`.
///
/// The mean of squares accumulates in Double. `eps` none means torch's default, the dtype's
/// machine epsilon (`torch.finfo(torch.float32).eps`, `Float.ulpOfOne`).
@Sendable private func rmsNorm(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input"), out = call.outputs[0]
    guard x.dtype == .float32 else { throw call.error("the portable kernel does not compute \(x.dtype) tensors") }
    guard out.shape == x.shape else { throw call.error("output is \(out), expected shape \(x.shape)") }
    let eps = call.arguments.optionalFloat("eps") ?? Double(Float.ulpOfOne)
    // Step 1: rows of `size` elements each (size: the product of normalized_shape).
    let size = call.arguments.intList("normalized_shape").reduce(1, *)
    guard size > 0 else { return }
    let rows = x.elementCount / size
    let pw = call.optionalInput("weight")?.unsafeBuffer(of: Float.self).baseAddress
    let px = x.unsafeBuffer(of: Float.self).baseAddress!
    let py = out.unsafeMutableBuffer(of: Float.self).baseAddress!
    for r in 0..<rows {
        let src = px + r * size, dst = py + r * size
        // Step 2: the row's mean of squares, in Double.
        var sumOfSquares = 0.0
        for i in 0..<size {
            let v = Double(src[i])
            sumOfSquares += v * v
        }
        let inverseRMS = Float(1 / (sumOfSquares / Double(size) + eps).squareRoot())
        // Step 3: scale the row, then apply the weight (as torch: (x * rsqrt) * weight).
        if let pw {
            for i in 0..<size { dst[i] = src[i] * inverseRMS * pw[i] }
        } else {
            for i in 0..<size { dst[i] = src[i] * inverseRMS }
        }
    }
}
