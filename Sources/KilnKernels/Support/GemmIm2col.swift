/// The sizes of one 2-D convolution's unfolding: the input plane, the output plane it produces
/// and the kernel window (strides, padding, dilation).
struct ConvolutionWindow {
    var inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    var kernelHeight: Int, kernelWidth: Int
    var strideY: Int, strideX: Int, padY: Int, padX: Int, dilationY: Int, dilationX: Int

    var inPlane: Int { inHeight * inWidth }
    var outPlane: Int { outHeight * outWidth }
    var kernelArea: Int { kernelHeight * kernelWidth }
}

/// A forward convolution's `B` operand, unfolded straight into the GEMM's panels (im2col without
/// the intermediate columns matrix): depth `p = (c, ky, kx)` (channel-major, as the weight's
/// `[Og, Cg, kh, kw]` rows), wide index `j = (oy, ox)`, element `input[c, oy·sy - py + ky·dy,
/// ox·sx - px + kx·dx]`, zero in the padding.
///
/// Each block's panels are written run by run: a run is the pixels of one output row that fall
/// in one panel, whose inputs (at stride 1) are one contiguous stretch of an input row.
struct Im2colPanels: GemmPanelSource {
    /// The group's first input channel plane (`[Cg, H, W]` follow).
    let input: UnsafePointer<Float>
    let window: ConvolutionWindow

    var packs: Bool { true }
    var vectorLayout: GemmVectorLayout? { nil }
    var depthRun: (UnsafePointer<Float>, Int)? { nil }

    func panels(width: Int, depth d0: Int, count dc: Int, wide w0: Int, count wc: Int,
                buffer: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int) {
        let dst = buffer!
        let w = window
        let panelFloats = dc * width
        // The depth row's (c, ky, kx), advanced row by row.
        var c = d0 / w.kernelArea, ky = d0 % w.kernelArea / w.kernelWidth, kx = d0 % w.kernelWidth
        for row in 0..<dc {
            let plane = input + c * w.inPlane
            let offsetY = ky * w.dilationY - w.padY, offsetX = kx * w.dilationX - w.padX
            let rowStart = dst + row * width
            var j = w0, oy = w0 / w.outWidth, ox = w0 % w.outWidth
            while j < w0 + wc {
                // One run: pixels of output row oy, up to the end of the row, the panel or the block.
                let lane = (j - w0) % width
                let count = Swift.min(width - lane, w.outWidth - ox, w0 + wc - j)
                let d = rowStart + (j - w0) / width * panelFloats + lane
                let iy = oy * w.strideY + offsetY
                if iy < 0 || iy >= w.inHeight {
                    d.update(repeating: 0, count: count)
                } else if w.strideX == 1 {
                    // Input columns ix = ox + offsetX + l: zero before column 0 and from column W.
                    let first = ox + offsetX
                    let lower = Swift.min(Swift.max(-first, 0), count)
                    let upper = Swift.max(Swift.min(w.inWidth - first, count), lower)
                    let s = plane + iy * w.inWidth + first
                    for l in 0..<lower { d[l] = 0 }
                    for l in lower..<upper { d[l] = s[l] }
                    for l in upper..<count { d[l] = 0 }
                } else {
                    let s = plane + iy * w.inWidth
                    for l in 0..<count {
                        let ix = (ox + l) * w.strideX + offsetX
                        d[l] = ix >= 0 && ix < w.inWidth ? s[ix] : 0
                    }
                }
                j += count
                ox += count
                if ox == w.outWidth {
                    ox = 0
                    oy += 1
                }
            }
            // The last panel's lanes past the block's pixels.
            let tail = wc % width
            if tail > 0 { (rowStart + wc / width * panelFloats + tail).update(repeating: 0, count: width - tail) }
            kx += 1
            if kx == w.kernelWidth {
                kx = 0
                ky += 1
                if ky == w.kernelHeight {
                    ky = 0
                    c += 1
                }
            }
        }
        return (UnsafePointer(dst), panelFloats)
    }
}

/// A stride-1 forward convolution's `B` operand over a zero-padded copy of the input, in the
/// padded width: wide index `j = oy·PW + ox` (`PW` the padded row length, so `ox` runs past the
/// output row into columns that are computed and dropped) and depth `p = (c, ky, kx)`; element
/// `padded[c][j + ky·dy·PW + kx·dx]`. Each depth row is one contiguous stretch of the padded
/// plane, shifted by its tap: the panels are straight vector copies, no per-pixel index math.
/// The values (input pixels or padding zeros) are those ``Im2colPanels`` gives, so the products
/// round alike.
struct ShiftedPanels: GemmPanelSource {
    /// The padded planes, `[Cg, PH, PW]`.
    let padded: UnsafePointer<Float>
    let paddedHeight: Int, paddedWidth: Int
    let window: ConvolutionWindow

    var packs: Bool { true }
    var vectorLayout: GemmVectorLayout? { nil }
    var depthRun: (UnsafePointer<Float>, Int)? { nil }

    /// Output pixels `(oy, ox)` of the padded width the product covers: up to the last real one.
    var wideCount: Int { (window.outHeight - 1) * paddedWidth + window.outWidth }

    func panels(width: Int, depth d0: Int, count dc: Int, wide w0: Int, count wc: Int,
                buffer: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int) {
        let dst = buffer!
        let w = window, plane = paddedHeight * paddedWidth
        let panelFloats = dc * width
        let fullPanels = wc / width, tail = wc % width
        var c = d0 / w.kernelArea, ky = d0 % w.kernelArea / w.kernelWidth, kx = d0 % w.kernelWidth
        for row in 0..<dc {
            let src = padded + c * plane + ky * w.dilationY * paddedWidth + kx * w.dilationX + w0
            var d = dst + row * width
            for t in 0..<fullPanels {
                let s = src + t * width
                if width == 32 {
                    UnsafeMutableRawPointer(d).storeBytes(of: UnsafeRawPointer(s).loadUnaligned(as: SIMD16<Float>.self),
                                                          as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(d + 16).storeBytes(of: UnsafeRawPointer(s + 16).loadUnaligned(as: SIMD16<Float>.self),
                                                               as: SIMD16<Float>.self)
                } else {
                    d.update(from: s, count: width)
                }
                d += panelFloats
            }
            if tail > 0 {
                d.update(from: src + fullPanels * width, count: tail)
                (d + tail).update(repeating: 0, count: width - tail)
            }
            kx += 1
            if kx == w.kernelWidth {
                kx = 0
                ky += 1
                if ky == w.kernelHeight {
                    ky = 0
                    c += 1
                }
            }
        }
        return (UnsafePointer(dst), panelFloats)
    }

    /// Copies `channels` input planes (`x`, `[C, H, W]`) into `padded` (`[C, PH, PW]`):
    /// `padded[c][r][s] = x[c][r - padY][s - padX]`, zero outside `x`.
    static func pad(_ w: ConvolutionWindow, channels: Int, _ x: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>,
                    height ph: Int, width pw: Int) {
        for c in 0..<channels {
            let plane = x + c * w.inPlane
            for r in 0..<ph {
                let dst = padded + (c * ph + r) * pw
                let iy = r - w.padY
                guard iy >= 0, iy < w.inHeight else {
                    dst.update(repeating: 0, count: pw)
                    continue
                }
                let lower = Swift.min(w.padX, pw), upper = Swift.max(Swift.min(w.padX + w.inWidth, pw), lower)
                let src = plane + iy * w.inWidth - w.padX
                for s in 0..<lower { dst[s] = 0 }
                (dst + lower).update(from: src + lower, count: upper - lower)
                for s in upper..<pw { dst[s] = 0 }
            }
        }
    }
}
