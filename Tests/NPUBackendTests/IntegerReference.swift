/// An integer reference for the NPU's ops, written apart from the simulator: NCHW loops over
/// plain arrays, its own fixed-point folding (by doubling, not by reading the exponent) and its
/// own rounding (floor division and a remainder test, not a biased shift). The machine model
/// it follows is Backends/NPU/README.md.
enum Ref {
    /// `real ≈ m * 2^-s` with m in [2^30, 2^31) (or s capped at 62).
    static func multiplier(_ real: Double) -> (m: Int64, s: Int) {
        var v = real, s = 0
        while v < 1073741824.0 && s < 62 { v *= 2; s += 1 }
        while v >= 2147483648.0 { v /= 2; s -= 1 }
        var m = v.rounded(.toNearestOrEven)
        if m >= 2147483648.0 { m /= 2; s -= 1 }
        return (Int64(m), s)
    }

    /// Multipliers sharing the shift of the largest real.
    static func multipliers(_ reals: [Double]) -> (m: [Int64], s: Int) {
        let s = multiplier(reals.max()!).s
        return (reals.map { Int64(($0 * pow2(s)).rounded(.toNearestOrEven)) }, s)
    }

    static func pow2(_ s: Int) -> Double { var v = 1.0; for _ in 0..<s { v *= 2 }; return v }

    /// `acc * m / 2^s` rounded half up.
    static func scale(_ acc: Int64, _ m: Int64, _ s: Int) -> Int64 {
        let p = Int128(acc) * Int128(m)
        guard s > 0 else { return Int64(p) }
        let d = Int128(1) << s
        var q = p / d, r = p % d
        if r < 0 { q -= 1; r += d }      // floor division
        return Int64(r * 2 >= d ? q + 1 : q)
    }

    static func clamp(_ v: Int64, _ lo: Int, _ hi: Int) -> Int { Int(min(max(v, Int64(lo)), Int64(hi))) }

    struct Q { var scale: Double; var zp: Int; var lo: Int; var hi: Int }

    /// NCHW convolution: bias folded to int32 at sx * sw[c], int32 accumulation, per-channel requantization.
    static func conv(_ x: [Int], _ xs: [Int], _ qx: Q, _ w: [Int], _ ws: [Int], _ sw: [Double], _ bias: [Float]?,
                     stride: [Int], pad: [Int], dilation: [Int], groups: Int, _ qo: Q) -> (out: [Int], shape: [Int]) {
        let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3])
        let (oc, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3])
        let oh = (h + 2 * pad[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1
        let ow = (wd + 2 * pad[1] - dilation[1] * (kw - 1) - 1) / stride[1] + 1
        var out = [Int](repeating: 0, count: n * oc * oh * ow)
        for b in 0..<n { for o in 0..<oc {
            let g = o / (oc / groups)
            let (m, s) = multiplier(qx.scale * sw[o] / qo.scale)
            let b32 = bias.map { Int64((Double($0[o]) / (qx.scale * sw[o])).rounded(.toNearestOrEven)) } ?? 0
            for y in 0..<oh { for z in 0..<ow {
                var acc = b32
                for i in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
                    let iy = y * stride[0] - pad[0] + ky * dilation[0], ix = z * stride[1] - pad[1] + kx * dilation[1]
                    guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                    let xv = x[((b * c + g * cg + i) * h + iy) * wd + ix] - qx.zp
                    acc += Int64(xv * w[((o * cg + i) * kh + ky) * kw + kx])
                } } }
                out[((b * oc + o) * oh + y) * ow + z] = clamp(scale(acc, m, s) + Int64(qo.zp), qo.lo, qo.hi)
            } }
        } }
        _ = c
        return (out, [n, oc, oh, ow])
    }

    /// `x [rows, k] @ w[n, k]^T + bias`, per-feature requantization.
    static func linear(_ x: [Int], k: Int, _ qx: Q, _ w: [Int], n: Int, _ sw: [Double], _ bias: [Float]?, _ qo: Q) -> [Int] {
        let rows = x.count / k
        var out = [Int](repeating: 0, count: rows * n)
        for r in 0..<rows { for j in 0..<n {
            let (m, s) = multiplier(qx.scale * sw[j] / qo.scale)
            var acc = bias.map { Int64((Double($0[j]) / (qx.scale * sw[j])).rounded(.toNearestOrEven)) } ?? 0
            for i in 0..<k { acc += Int64((x[r * k + i] - qx.zp) * w[j * k + i]) }
            out[r * n + j] = clamp(scale(acc, m, s) + Int64(qo.zp), qo.lo, qo.hi)
        } }
        return out
    }

    static func add(_ a: [Int], _ qa: Q, _ b: [Int], _ qb: Q, _ qo: Q) -> [Int] {
        let (ms, s) = multipliers([qa.scale / qo.scale, qb.scale / qo.scale])
        return a.indices.map { i in
            let acc = Int64(a[i] - qa.zp) * ms[0] + Int64(b[i] - qb.zp) * ms[1]
            return clamp(scale(acc, 1, s) + Int64(qo.zp), qo.lo, qo.hi)
        }
    }

    static func mul(_ a: [Int], _ qa: Q, _ b: [Int], _ qb: Q, _ qo: Q) -> [Int] {
        let (m, s) = multiplier(qa.scale * qb.scale / qo.scale)
        return a.indices.map { i in clamp(scale(Int64((a[i] - qa.zp) * (b[i] - qb.zp)), m, s) + Int64(qo.zp), qo.lo, qo.hi) }
    }

    /// Requantize then clamp to the quantized bounds `lo...hi` (relu: lo = zp_out).
    static func requantize(_ x: [Int], _ qx: Q, _ qo: Q, lo: Int, hi: Int) -> [Int] {
        let (m, s) = multiplier(qx.scale / qo.scale)
        return x.map { clamp(scale(Int64($0 - qx.zp), m, s) + Int64(qo.zp), max(lo, qo.lo), min(hi, qo.hi)) }
    }

    /// `q(f(dq(x)))` evaluated per element in double precision.
    static func function(_ x: [Int], _ qx: Q, _ qo: Q, _ f: (Double) -> Double) -> [Int] {
        x.map { v in
            let y = (f(Double(v - qx.zp) * qx.scale) / qo.scale).rounded(.toNearestOrEven) + Double(qo.zp)
            return Int(min(max(y, Double(qo.lo)), Double(qo.hi)))
        }
    }

    /// NCHW pooling; average divides by the window area (padding counted as zero).
    static func pool(_ x: [Int], _ xs: [Int], _ qx: Q, kernel: [Int], stride: [Int], pad: [Int], max isMax: Bool, _ qo: Q) -> [Int] {
        let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3])
        let oh = (h + 2 * pad[0] - kernel[0]) / stride[0] + 1, ow = (w + 2 * pad[1] - kernel[1]) / stride[1] + 1
        let (m, s) = multiplier(isMax ? qx.scale / qo.scale : qx.scale / (qo.scale * Double(kernel[0] * kernel[1])))
        var out: [Int] = []
        for b in 0..<n { for ch in 0..<c { for y in 0..<oh { for z in 0..<ow {
            var values: [Int64] = []
            for ky in 0..<kernel[0] { for kx in 0..<kernel[1] {
                let iy = y * stride[0] - pad[0] + ky, ix = z * stride[1] - pad[1] + kx
                if iy >= 0, iy < h, ix >= 0, ix < w { values.append(Int64(x[((b * c + ch) * h + iy) * w + ix] - qx.zp)) }
            } }
            let acc = isMax ? values.max() ?? 0 : values.reduce(0, +)
            out.append(clamp(scale(acc, m, s) + Int64(qo.zp), qo.lo, qo.hi))
        } } } }
        return out
    }
}
