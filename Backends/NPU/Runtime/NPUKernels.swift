/// The compute units: each kind's arithmetic on one tile held in on-chip memory. Integer only,
/// except quantize / dequantize at a partition's float32 edges. Operand layouts are those of
/// Backends/NPU/README.md; ``NPUProgram/verify()`` has checked every extent.
enum NPUKernels {
    static func compute(_ op: NPUOp, _ g: NPUOpGeometry, _ tile: NPUTile, sram: UnsafeMutableRawPointer) {
        let a = tile.sram, r = tile.region, p = g.p
        switch op.kind {
        case .copy:
            break
        case .quantize:
            let inv = Float(op.scales[0])
            let src = sram + a[0], dst = sram + a[1]
            for i in 0..<r[0] {
                let x = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
                let q = (x * inv).rounded(.toNearestOrEven)
                let v = q.isNaN ? Int64(p[0]) : Int64(max(-1e9, min(1e9, q))) + Int64(p[0])
                store(clamp(v, p[1], p[2]), dst, i, g.outType)
            }
        case .dequantize:
            let scale = Float(op.scales[0])
            let src = sram + a[0], dst = sram + a[1]
            for i in 0..<r[0] {
                let v = Float(load(src, i, g.inTypes[0]) - Int64(p[0])) * scale
                dst.storeBytes(of: v, toByteOffset: 4 * i, as: Float.self)
            }
        case .requantize:
            let m = op.multipliers[0], s = op.shifts[0]
            for i in 0..<r[0] {
                let x = load(sram + a[0], i, g.inTypes[0]) - Int64(p[0])
                store(clamp(npuRequantize(x, multiplier: m, shift: s) + Int64(p[1]), p[2], p[3]), sram + a[1], i, g.outType)
            }
        case .add:
            let ma = Int64(op.multipliers[0]), mb = Int64(op.multipliers[1]), s = op.shifts[0]
            for i in 0..<r[0] {
                let x = (load(sram + a[0], i, g.inTypes[0]) - Int64(p[0])) * ma
                let y = (load(sram + a[1], i, g.inTypes[1]) - Int64(p[1])) * mb
                store(clamp(npuRequantize(x + y, multiplier: 1, shift: s) + Int64(p[2]), p[3], p[4]), sram + a[2], i, g.outType)
            }
        case .mul:
            let m = op.multipliers[0], s = op.shifts[0]
            for i in 0..<r[0] {
                let x = load(sram + a[0], i, g.inTypes[0]) - Int64(p[0])
                let y = load(sram + a[1], i, g.inTypes[1]) - Int64(p[1])
                store(clamp(npuRequantize(x * y, multiplier: m, shift: s) + Int64(p[2]), p[3], p[4]), sram + a[2], i, g.outType)
            }
        case .lookup:
            for i in 0..<r[0] {
                let x = Int(load(sram + a[0], i, g.inTypes[0])) + p[0]
                store(load(sram + a[1], x, g.outType), sram + a[2], i, g.outType)
            }
        case .transpose:
            transpose(p, r, g.outType.byteSize, sram + a[0], sram + a[1])
        case .conv2d:
            conv2d(op, g, r, sram + a[0], sram + a[1], sram + a[2], sram + a[3])
        case .fullyConnected:
            fullyConnected(op, g, r, sram + a[0], sram + a[1], sram + a[2], sram + a[3])
        case .pool2d:
            pool2d(op, g, r, sram + a[0], sram + a[1])
        }
    }

    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ i: Int, _ t: NPUDType) -> Int64 {
        t == .int16 ? Int64(base.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))
            : Int64(base.loadUnaligned(fromByteOffset: i, as: Int8.self))
    }

    @inline(__always)
    static func store(_ v: Int64, _ base: UnsafeMutableRawPointer, _ i: Int, _ t: NPUDType) {
        if t == .int16 {
            base.storeBytes(of: Int16(truncatingIfNeeded: v), toByteOffset: 2 * i, as: Int16.self)
        } else {
            base.storeBytes(of: Int8(truncatingIfNeeded: v), toByteOffset: i, as: Int8.self)
        }
    }

    @inline(__always)
    static func clamp(_ v: Int64, _ lo: Int, _ hi: Int) -> Int64 { min(max(v, Int64(lo)), Int64(hi)) }

    /// Output rows `r[0]..<r[0]+r[1]` of a permutation of 4 dims; the input slice holds input
    /// dim `perm[0]` restricted to those rows, packed.
    static func transpose(_ p: [Int], _ r: [Int], _ es: Int, _ src: UnsafeMutableRawPointer, _ dst: UnsafeMutableRawPointer) {
        // The input slice's dims (dim perm[0] cut to the tile's rows) and row-major strides;
        // no arrays, so the hot path does not allocate.
        let axis = p[4]
        let d0 = axis == 0 ? r[1] : p[0], d1 = axis == 1 ? r[1] : p[1]
        let d2 = axis == 2 ? r[1] : p[2], d3 = axis == 3 ? r[1] : p[3]
        let dims = (d0, d1, d2, d3), strides = (d1 * d2 * d3, d2 * d3, d3, 1)
        @inline(__always) func pick(_ t: (Int, Int, Int, Int), _ k: Int) -> Int { k == 0 ? t.0 : k == 1 ? t.1 : k == 2 ? t.2 : t.3 }
        let (o0, o1, o2, o3) = (pick(dims, p[4]), pick(dims, p[5]), pick(dims, p[6]), pick(dims, p[7]))
        let (s0, s1, s2, s3) = (pick(strides, p[4]), pick(strides, p[5]), pick(strides, p[6]), pick(strides, p[7]))
        var o = 0
        for i0 in 0..<o0 {
            for i1 in 0..<o1 {
                for i2 in 0..<o2 {
                    var at = i0 * s0 + i1 * s1 + i2 * s2
                    for _ in 0..<o3 {
                        (dst + o * es).copyMemory(from: src + at * es, byteCount: es)
                        o += 1
                        at += s3
                    }
                }
            }
        }
    }

    /// NHWC grouped convolution of output rows `oh0..<oh0+ohCount`, channels `oc0..<oc0+ocCount`:
    /// `acc = bias + Σ (x - zp_in) * w` in wrapping int32, then requantized per channel.
    static func conv2d(_ op: NPUOp, _ g: NPUOpGeometry, _ r: [Int], _ x: UnsafeMutableRawPointer,
                       _ w: UnsafeMutableRawPointer, _ bias: UnsafeMutableRawPointer, _ y: UnsafeMutableRawPointer) {
        let p = g.p
        let (h, width, c, ow, oc, kh, kw) = (p[0], p[1], p[2], p[4], p[5], p[6], p[7])
        let (sH, sW, pH, pW, dH, dW, groups) = (p[8], p[9], p[10], p[11], p[12], p[13], p[14])
        let zpIn = Int32(p[15]), zpOut = Int64(p[16])
        let cg = c / groups, ocPerGroup = oc / groups
        let (oh0, ohCount, ih0, oc0, ocCount) = (r[0], r[1], r[2], r[4], r[5])
        let t = g.inTypes[0]
        for ohl in 0..<ohCount {
            let oh = oh0 + ohl
            for owi in 0..<ow {
                for ocl in 0..<ocCount {
                    let channel = oc0 + ocl
                    let group = channel / ocPerGroup
                    var acc = bias.loadUnaligned(fromByteOffset: 4 * ocl, as: Int32.self)
                    for ky in 0..<kh {
                        let ih = oh * sH - pH + ky * dH
                        if ih < 0 || ih >= h { continue }
                        for kx in 0..<kw {
                            let iw = owi * sW - pW + kx * dW
                            if iw < 0 || iw >= width { continue }
                            let xBase = ((ih - ih0) * width + iw) * c + group * cg
                            let wBase = ((ocl * kh + ky) * kw + kx) * cg
                            for ci in 0..<cg {
                                let xv = Int32(truncatingIfNeeded: load(x, xBase + ci, t)) &- zpIn
                                let wv = Int32(w.loadUnaligned(fromByteOffset: wBase + ci, as: Int8.self))
                                acc = acc &+ xv &* wv
                            }
                        }
                    }
                    let v = npuRequantize(Int64(acc), multiplier: op.multipliers[channel], shift: op.shifts[channel]) + zpOut
                    store(clamp(v, p[17], p[18]), y, (ohl * ow + owi) * ocCount + ocl, g.outType)
                }
            }
        }
    }

    /// `r[0]` rows by output features `n0..<n0+nCount`: `acc = bias + Σ_k (x - zp_in) * w[n][k]`
    /// in wrapping int32 (int4 weights unpacked from their nibbles), requantized per feature.
    static func fullyConnected(_ op: NPUOp, _ g: NPUOpGeometry, _ r: [Int], _ x: UnsafeMutableRawPointer,
                               _ w: UnsafeMutableRawPointer, _ bias: UnsafeMutableRawPointer, _ y: UnsafeMutableRawPointer) {
        let p = g.p
        let k = p[0], zpIn = Int32(p[2]), zpOut = Int64(p[3])
        let (rows, n0, nCount) = (r[0], r[1], r[2])
        let int4 = g.inTypes[1] == .int4
        let rowBytes = int4 ? (k + 1) / 2 : k
        let t = g.inTypes[0]
        for m in 0..<rows {
            for nl in 0..<nCount {
                var acc = bias.loadUnaligned(fromByteOffset: 4 * nl, as: Int32.self)
                let wRow = w + nl * rowBytes
                for kk in 0..<k {
                    let xv = Int32(truncatingIfNeeded: load(x, m * k + kk, t)) &- zpIn
                    let wv: Int32
                    if int4 {
                        let byte = wRow.load(fromByteOffset: kk / 2, as: UInt8.self)
                        let nibble = kk % 2 == 0 ? byte & 0x0F : byte >> 4
                        wv = Int32(Int8(bitPattern: nibble << 4) >> 4)
                    } else {
                        wv = Int32(wRow.load(fromByteOffset: kk, as: Int8.self))
                    }
                    acc = acc &+ xv &* wv
                }
                let n = n0 + nl
                let v = npuRequantize(Int64(acc), multiplier: op.multipliers[n], shift: op.shifts[n]) + zpOut
                store(clamp(v, p[4], p[5]), y, m * nCount + nl, g.outType)
            }
        }
    }

    /// NHWC max or average pooling of output rows `oh0..<oh0+ohCount`. Max: the largest value
    /// inside the image (padding excluded); average: `Σ (x - zp_in)` over the window (padding
    /// counts as zero), the divisor folded into the multiplier.
    static func pool2d(_ op: NPUOp, _ g: NPUOpGeometry, _ r: [Int], _ x: UnsafeMutableRawPointer, _ y: UnsafeMutableRawPointer) {
        let p = g.p
        let (h, width, c, ow, kh, kw, sH, sW, pH, pW) = (p[0], p[1], p[2], p[4], p[5], p[6], p[7], p[8], p[9], p[10])
        let isMax = p[11] == 1, zpIn = Int64(p[12]), zpOut = Int64(p[13])
        let m = op.multipliers[0], s = op.shifts[0]
        let (oh0, ohCount, ih0) = (r[0], r[1], r[2])
        let t = g.inTypes[0]
        for ohl in 0..<ohCount {
            let oh = oh0 + ohl
            for owi in 0..<ow {
                for ch in 0..<c {
                    var acc: Int64 = isMax ? Int64.min : 0
                    for ky in 0..<kh {
                        let ih = oh * sH - pH + ky
                        if ih < 0 || ih >= h { continue }
                        for kx in 0..<kw {
                            let iw = owi * sW - pW + kx
                            if iw < 0 || iw >= width { continue }
                            let v = load(x, ((ih - ih0) * width + iw) * c + ch, t) - zpIn
                            acc = isMax ? max(acc, v) : acc + v
                        }
                    }
                    if acc == Int64.min { acc = 0 }
                    let v = npuRequantize(acc, multiplier: m, shift: s) + zpOut
                    store(clamp(v, p[14], p[15]), y, (ohl * ow + owi) * c + ch, g.outType)
                }
            }
        }
    }
}
