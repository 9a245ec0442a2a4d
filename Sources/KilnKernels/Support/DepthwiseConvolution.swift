/// Depthwise convolution (one input channel per output channel, `groups == channels`), computed
/// directly: vector multiply-adds along the output rows (four rows at a time), from a zero-padded
/// copy of the channel's input plane (so the loop has no edge tests).
///
/// Every output element is `fma(w[ky, kx], x[...], acc)` over the taps in `(ky, kx)` order,
/// starting from the channel's bias (or zero): the order and rounding of the GEMM path
/// (``FloatGemm``) on the same convolution, padding zeros included, so both give the same bits.
enum DepthwiseConvolution {
    /// Floats of the zero-padded plane one thread works in, plus 16 of slack that the last
    /// row's short tile may read.
    static func paddedCount(_ w: ConvolutionWindow) -> Int {
        paddedHeight(w) * paddedWidth(w) + 16
    }

    static func paddedHeight(_ w: ConvolutionWindow) -> Int {
        w.outHeight > 0 ? (w.outHeight - 1) * w.strideY + (w.kernelHeight - 1) * w.dilationY + 1 : 0
    }

    static func paddedWidth(_ w: ConvolutionWindow) -> Int {
        w.outWidth > 0 ? (w.outWidth - 1) * w.strideX + (w.kernelWidth - 1) * w.dilationX + 1 : 0
    }

    /// Writes the convolution of `planes` input planes (`[N·C, H, W]`, plane `q` of channel
    /// `q % channels`) with `weight` (`[C, 1, kh, kw]`) plus `bias` (`[C]`, or none) into
    /// `output` (`[N·C, OH, OW]`), planes split across `threads`; `workspace` holds
    /// ``paddedCount(_:)`` floats per thread (else it is allocated here).
    static func run(_ w: ConvolutionWindow, planes: Int, channels: Int, input: UnsafePointer<Float>,
                    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                    workspace: UnsafeMutableBufferPointer<Float>, threads: ThreadPool) {
        let padded = paddedCount(w)
        guard planes > 0, w.outPlane > 0 else { return }
        // Planes are small work items; split them only when there is enough work overall.
        let flops = 2 * planes * w.outPlane * w.kernelArea
        let parts = flops >= FloatGemm.parallelMinimumFlops / 4 ? Swift.min(threads.threadCount, planes) : 1
        let owned: UnsafeMutablePointer<Float>? = workspace.count >= parts * padded ? nil : .allocate(capacity: parts * padded)
        defer { owned?.deallocate() }
        let work = Parts(window: w, planes: planes, channels: channels, input: input, weight: weight, bias: bias,
                         output: output, memory: owned ?? workspace.baseAddress!, padded: padded, parts: parts)
        if parts == 1 { work.run(0) } else { threads.parallelFor(parts, work) }
    }

    /// The planes split into `parts` runs, each with its padded-plane buffer.
    struct Parts: ParallelWork {
        let window: ConvolutionWindow
        let planes: Int, channels: Int
        let input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?
        let output: UnsafeMutablePointer<Float>
        let memory: UnsafeMutablePointer<Float>, padded: Int, parts: Int

        func run(_ part: Int) {
            let buffer = memory + part * padded
            for q in (part * planes / parts)..<((part + 1) * planes / parts) {
                let c = q % channels
                plane(window, input + q * window.inPlane, weight + c * window.kernelArea, bias?[c] ?? 0,
                      output + q * window.outPlane, padded: buffer)
            }
        }
    }

    /// One plane: pad the input into `padded`, then each output row from `start`.
    static func plane(_ w: ConvolutionWindow, _ x: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ start: Float,
                      _ y: UnsafeMutablePointer<Float>, padded: UnsafeMutablePointer<Float>) {
        let ph = paddedHeight(w), pw = paddedWidth(w)
        // Step 1: the padded plane: padded[r, s] = x[r - padY, s - padX], zero outside x.
        for r in 0..<ph {
            let dst = padded + r * pw
            let iy = r - w.padY
            guard iy >= 0, iy < w.inHeight else {
                dst.update(repeating: 0, count: pw)
                continue
            }
            let lower = Swift.min(w.padX, pw), upper = Swift.max(Swift.min(w.padX + w.inWidth, pw), lower)
            let src = x + iy * w.inWidth - w.padX
            for s in 0..<lower { dst[s] = 0 }
            for s in lower..<upper { dst[s] = src[s] }
            for s in upper..<pw { dst[s] = 0 }
        }
        // Step 2: every output, the taps in (ky, kx) order from `start`: at stride 1 four rows by
        //         16 columns at a time (four independent accumulators), else one by one.
        var oy = 0
        if w.strideX == 1 {
            while oy + 4 <= w.outHeight {
                var ox = 0
                while ox < w.outWidth {
                    rows4(w, taps, start, padded + oy * w.strideY * pw + ox, pw, y + oy * w.outWidth + ox,
                          columns: Swift.min(16, w.outWidth - ox))
                    ox += 16
                }
                oy += 4
            }
        }
        while oy < w.outHeight {
            let row = y + oy * w.outWidth
            let top = padded + oy * w.strideY * pw
            for ox in 0..<w.outWidth {
                var sum = start
                let base = top + ox * w.strideX
                for ky in 0..<w.kernelHeight {
                    let line = base + ky * w.dilationY * pw
                    for kx in 0..<w.kernelWidth {
                        sum = FloatGemm.multiplyAdd(sum, taps[ky * w.kernelWidth + kx], line[kx * w.dilationX])
                    }
                }
                row[ox] = sum
            }
            oy += 1
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always)
    private static func store(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    /// Four output rows by `columns` (1...16) columns at stride 1, from `start`: the padded input
    /// of the first at `base` (rows `strideY * pw` apart), the outputs at `out` (rows `outWidth`
    /// apart). A short tile reads past its row's end (into the next row, or the buffer's slack)
    /// and keeps only its `columns` lanes.
    @inline(__always)
    private static func rows4(_ w: ConvolutionWindow, _ taps: UnsafePointer<Float>, _ start: Float,
                              _ base: UnsafePointer<Float>, _ pw: Int, _ out: UnsafeMutablePointer<Float>, columns: Int) {
        let inStep = w.strideY * pw, outStep = w.outWidth
        var a0 = SIMD16<Float>(repeating: start), a1 = a0, a2 = a0, a3 = a0
        for ky in 0..<w.kernelHeight {
            let line = base + ky * w.dilationY * pw
            for kx in 0..<w.kernelWidth {
                let t = SIMD16<Float>(repeating: taps[ky * w.kernelWidth + kx])
                let p = line + kx * w.dilationX
                FloatGemm.multiplyAdd(&a0, t, load(p))
                FloatGemm.multiplyAdd(&a1, t, load(p + inStep))
                FloatGemm.multiplyAdd(&a2, t, load(p + 2 * inStep))
                FloatGemm.multiplyAdd(&a3, t, load(p + 3 * inStep))
            }
        }
        if columns == 16 {
            store(out, a0)
            store(out + outStep, a1)
            store(out + 2 * outStep, a2)
            store(out + 3 * outStep, a3)
        } else {
            FloatGemm.storeRow(out, columns, a0, .zero)
            FloatGemm.storeRow(out + outStep, columns, a1, .zero)
            FloatGemm.storeRow(out + 2 * outStep, columns, a2, .zero)
            FloatGemm.storeRow(out + 3 * outStep, columns, a3, .zero)
        }
    }
}
