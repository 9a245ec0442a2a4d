// The float32 inner loops of the shaping kernels, on raw pointers so they vectorize: element-wise
// loops are plain loops (LLVM vectorizes them as they are); reductions run over SIMD lanes, since
// LLVM does not reassociate a scalar floating-point reduction by itself.

enum FloatLoops {
    @inline(__always)
    private static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// `Σ p[0..<n]`, accumulated in Double.
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var (a0, a1) = (SIMD4<Double>(), SIMD4<Double>())
        var i = 0
        while i + 8 <= n {
            let v = load8(p + i)
            a0 += SIMD4<Double>(v.lowHalf)
            a1 += SIMD4<Double>(v.highHalf)
            i += 8
        }
        var s = (a0 + a1).sum()
        while i < n {
            s += Double(p[i])
            i += 1
        }
        return s
    }

    /// `Σ (p[0..<n] - mean)²`, in Double.
    static func squaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, mean: Double) -> Double {
        let m = SIMD4<Double>(repeating: mean)
        var (a0, a1) = (SIMD4<Double>(), SIMD4<Double>())
        var i = 0
        while i + 8 <= n {
            let v = load8(p + i)
            let (d0, d1) = (SIMD4<Double>(v.lowHalf) - m, SIMD4<Double>(v.highHalf) - m)
            a0 += d0 * d0
            a1 += d1 * d1
            i += 8
        }
        var s = (a0 + a1).sum()
        while i < n {
            let d = Double(p[i]) - mean
            s += d * d
            i += 1
        }
        return s
    }

    /// `acc[0..<n] += p[0..<n]`, each in Double.
    static func accumulate(_ acc: UnsafeMutablePointer<Double>, _ p: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { acc[i] += Double(p[i]) }
    }

    /// The largest (or smallest) of `start` and `p[0..<n]`; NaN when any is NaN.
    static func extremum(_ p: UnsafePointer<Float>, _ n: Int, from start: Float, largest: Bool) -> Float {
        if start.isNaN { return start }
        var m = SIMD8<Float>(repeating: start)
        var nan = SIMDMask<SIMD8<Int32>>(repeating: false)
        var i = 0
        while i + 8 <= n {
            let v = load8(p + i)
            nan .|= v .!= v
            m = largest ? m.replacing(with: v, where: v .> m) : m.replacing(with: v, where: v .< m)
            i += 8
        }
        if any(nan) { return .nan }
        var r = largest ? m.max() : m.min()
        while i < n {
            let v = p[i]
            if v.isNaN { return v }
            if largest ? v > r : v < r { r = v }
            i += 1
        }
        return r
    }

    /// `acc[i] = v[i]` where `v[i]` is larger (or smaller) than `acc[i]` or is NaN; a NaN in
    /// `acc` stays.
    static func extremum(into acc: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ n: Int, largest: Bool) {
        if largest {
            for i in 0..<n {
                let (v, a) = (p[i], acc[i])
                acc[i] = v > a || v != v ? v : a
            }
        } else {
            for i in 0..<n {
                let (v, a) = (p[i], acc[i])
                acc[i] = v < a || v != v ? v : a
            }
        }
    }

    /// `a[0..<n] · b[0..<n]` in Float, over eight lanes.
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            s += load8(a + i) * load8(b + i)
            i += 8
        }
        var r = s.sum()
        while i < n {
            r += a[i] * b[i]
            i += 1
        }
        return r
    }

    /// `acc[0..<n] += alpha * v[0..<n]`.
    static func addScaled(_ acc: UnsafeMutablePointer<Float>, _ alpha: Float, _ v: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { acc[i] += alpha * v[i] }
    }
}
