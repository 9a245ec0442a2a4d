#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

// Reductions: sum, amax, amin over any set of dims, argmax along one dim, and log-softmax.
//
// Sums read each element as the output dtype (ATen casts the input to `dtype` first), accumulate
// floats in Double and integers in wrapping Int64 (the same result modulo 2^bits as ATen's
// narrower wrapping sums), and round once at the store. amax/amin compare exactly and propagate
// NaN; argmax returns the first index of the largest element, a NaN counting as the largest.

let shapingReductionKernels: [KernelEntry] = [
    KernelEntry(op: "sum.dim_IntList", name: "f32_f16_bf16_i64_i32_i16_i8_u8_b8_sum__portable",
                scratchBytes: eightBytesPerOutput, kernel: sum),
    KernelEntry(op: "amax", name: "any_amax__portable", scratchBytes: extremumScratchBytes, kernel: amax),
    KernelEntry(op: "amin", name: "any_amin__portable", scratchBytes: extremumScratchBytes, kernel: amin),
    KernelEntry(op: "argmax", name: "f32_f16_bf16_i64_i32_i16_i8_u8_argmax__portable",
                scratchBytes: eightBytesPerOutput, kernel: argmax),
    KernelEntry(op: "_log_softmax", name: "f32_f16_bf16__log_softmax__portable", kernel: logSoftmax),
    KernelEntry(op: "log_softmax.int", name: "f32_f16_bf16_log_softmax_int__portable", kernel: logSoftmax),
]

/// One 8-byte accumulator (Double, Int64) per output element.
private func eightBytesPerOutput(_ call: KernelCall) -> Int {
    Scratch.bytes(Int64.self, count: call.outputs.first?.elementCount ?? 0)
}

/// amax/amin of 16-bit floats compare in a Float accumulator per output element.
private func extremumScratchBytes(_ call: KernelCall) -> Int {
    guard let out = call.outputs.first, out.dtype == .float16 || out.dtype == .bfloat16 else { return 0 }
    return Scratch.bytes(Float.self, count: out.elementCount)
}

// MARK: - The walk

/// Walks a row-major input once, in order, as runs of its innermost dim, telling each run's
/// accumulator offset: `body(inputOffset, outputOffset, length, isReduced)`.
///
/// The reduced dims are those with `reduced[d] != 0`; the accumulators are row-major over the
/// kept dims. Dims of size 1 are dropped and neighbours that are both kept or both reduced merge
/// first, so a run is as long as it can be: a kept run adds `length` inputs to as many
/// consecutive accumulators (a loop that vectorizes), a reduced run folds `length` consecutive
/// inputs into one.
@inline(__always)
private func walkReduction(_ shape: [Int], reduced: UnsafeMutableBufferPointer<Int>,
                           _ body: (Int, Int, Int, Bool) -> Void) {
    let rank = shape.count
    var total = 1
    for d in shape { total *= d }
    if total == 0 { return }
    withTemporaryInts(rank, rank, rank, rank) { sizes, strides, flags, index in
        // 1. Merge: the accumulator stride of each kept dim, 0 for reduced ones.
        var keptStride = 1
        var count = 0
        for d in stride(from: rank - 1, through: 0, by: -1) where shape[d] != 1 {
            let isReduced = reduced[d] != 0
            let s = isReduced ? 0 : keptStride
            if !isReduced { keptStride *= shape[d] }
            // Dims are visited innermost first: merge into the previous (inner) entry.
            if count > 0, (flags[count - 1] != 0) == isReduced {
                sizes[count - 1] *= shape[d]
            } else {
                (sizes[count], strides[count], flags[count]) = (shape[d], s, isReduced ? 1 : 0)
                count += 1
            }
        }
        // 2. Every dim had size 1: a single element, kept.
        guard count > 0 else {
            body(0, 0, 1, false)
            return
        }
        // The entries are innermost first; walk them as an odometer over entries 1..<count.
        let inner = sizes[0], innerReduced = flags[0] != 0
        var outOffset = 0
        var input = 0
        while input < total {
            body(input, outOffset, inner, innerReduced)
            input += inner
            var d = 1
            while d < count {
                index[d] += 1
                outOffset += strides[d]
                if index[d] < sizes[d] { break }
                outOffset -= strides[d] * sizes[d]
                index[d] = 0
                d += 1
            }
        }
    }
}

/// Marks the dims a call reduces in `reduced`: those listed in its `dim` argument (an absent or
/// empty list means all).
private func markReduced(_ call: KernelCall, rank: Int, _ reduced: UnsafeMutableBufferPointer<Int>) throws(KernelError) {
    let dims: [Int]
    switch call.arguments["dim"] {
    case .intList(let list): dims = list
    default: dims = []
    }
    if dims.isEmpty {
        reduced.update(repeating: 1)
        return
    }
    for d in dims {
        let a = try ShapingSupport.axis(call, d, rank: rank)
        if rank > 0 {
            guard reduced[a] == 0 else { throw call.error("argument 'dim': dim \(d) appears more than once in \(dims)") }
            reduced[a] = 1
        }
    }
}

/// The number of outputs a reduction of `shape` over `reduced` has.
private func keptCount(_ shape: [Int], _ reduced: UnsafeMutableBufferPointer<Int>) -> Int {
    var n = 1
    for d in 0..<shape.count where reduced[d] == 0 { n *= shape[d] }
    return n
}

// MARK: - sum

/// sum.dim_IntList: the sum over `dim` (all dims when none or empty) in the output's dtype.
private func sum(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    guard let out = call.outputs.first, call.outputs.count == 1 else { throw call.error("expected 1 output") }
    try withTemporaryInts(Swift.max(x.rank, 1)) { (reduced) throws(KernelError) in
        try markReduced(call, rank: x.rank, reduced)
        guard out.elementCount == keptCount(x.shape, reduced) else {
            throw call.error("output \(out) does not hold the sum of \(x) over the reduced dims")
        }
        switch out.dtype {
        case .float32, .float16, .bfloat16:
            // Floats: Double accumulators, each input first rounded to the output dtype.
            Scratch.with(call, Double.self, count: out.elementCount) { acc in
                acc.update(repeating: 0)
                if x.dtype == .float32 && out.dtype == .float32, let p = x.unsafeBuffer(of: Float.self).baseAddress,
                   let a = acc.baseAddress {
                    // float32: whole runs at a time (the loops vectorize).
                    walkReduction(x.shape, reduced: reduced) { i, o, n, isReduced in
                        if isReduced { a[o] += FloatLoops.sum(p + i, n) } else { FloatLoops.accumulate(a + o, p + i, n) }
                    }
                } else {
                    let reader = ConvertingReader<Float>(x), dtype = out.dtype
                    sumRuns(x.shape, reduced, acc) { Double(rounded(reader[$0], to: dtype)) }
                }
                switch out.dtype {
                case .float16: store(acc, into: out, as: Float16.self)
                case .bfloat16: store(acc, into: out, as: BFloat16.self)
                default: store(acc, into: out, as: Float.self)
                }
            }
        case .bool:
            // A bool sum is "any": count the nonzero inputs.
            Scratch.with(call, Int64.self, count: out.elementCount) { acc in
                acc.update(repeating: 0)
                let reader = ConvertingReader<Float>(x)
                integerSumRuns(x.shape, reduced, acc) { reader[$0] != 0 ? 1 : 0 }
                let o = out.unsafeMutableBuffer(of: Bool.self)
                for i in 0..<o.count { o[i] = acc[i] != 0 }
            }
        default:
            // Integers: wrapping Int64 accumulators, each input truncated to an integer.
            Scratch.with(call, Int64.self, count: out.elementCount) { acc in
                acc.update(repeating: 0)
                if x.dtype == .int64 {
                    let p = x.unsafeBuffer(of: Int64.self)
                    integerSumRuns(x.shape, reduced, acc) { p[$0] }
                } else {
                    let reader = ConvertingReader<Int64>(x)
                    integerSumRuns(x.shape, reduced, acc) { reader[$0] }
                }
                switch out.dtype {
                case .int32: storeIntegers(acc, into: out, as: Int32.self)
                case .int16: storeIntegers(acc, into: out, as: Int16.self)
                case .int8: storeIntegers(acc, into: out, as: Int8.self)
                case .uint8: storeIntegers(acc, into: out, as: UInt8.self)
                default: storeIntegers(acc, into: out, as: Int64.self)
                }
            }
        }
    }
}

/// Float sums: a kept run adds element-wise; a reduced run folds into four partial sums.
@inline(__always)
private func sumRuns(_ shape: [Int], _ reduced: UnsafeMutableBufferPointer<Int>,
                     _ acc: UnsafeMutableBufferPointer<Double>, _ load: (Int) -> Double) {
    walkReduction(shape, reduced: reduced) { i, o, n, isReduced in
        if !isReduced {
            for t in 0..<n { acc[o + t] += load(i + t) }
            return
        }
        var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
        var t = 0
        while t + 4 <= n {
            s0 += load(i + t)
            s1 += load(i + t + 1)
            s2 += load(i + t + 2)
            s3 += load(i + t + 3)
            t += 4
        }
        while t < n {
            s0 += load(i + t)
            t += 1
        }
        acc[o] += (s0 + s1) + (s2 + s3)
    }
}

/// Integer sums, wrapping (so the order of the additions does not matter).
@inline(__always)
private func integerSumRuns(_ shape: [Int], _ reduced: UnsafeMutableBufferPointer<Int>,
                            _ acc: UnsafeMutableBufferPointer<Int64>, _ load: (Int) -> Int64) {
    walkReduction(shape, reduced: reduced) { i, o, n, isReduced in
        if !isReduced {
            for t in 0..<n { acc[o + t] &+= load(i + t) }
        } else {
            var s: Int64 = 0
            for t in 0..<n { s &+= load(i + t) }
            acc[o] &+= s
        }
    }
}

private func store<Out: ComputedElement>(_ acc: UnsafeMutableBufferPointer<Double>, into out: Tensor,
                                         as _: Out.Type) where Out.Compute == Float {
    let o = out.unsafeMutableBuffer(of: Out.self)
    for i in 0..<o.count { o[i] = Out(computed: Float(acc[i])) }
}

private func storeIntegers<Out: FixedWidthInteger & TensorElement>(_ acc: UnsafeMutableBufferPointer<Int64>,
                                                                   into out: Tensor, as _: Out.Type) {
    let o = out.unsafeMutableBuffer(of: Out.self)
    for i in 0..<o.count { o[i] = Out(truncatingIfNeeded: acc[i]) }
}


// MARK: - amax, amin

/// amax: the largest element over `dim` (all when empty); NaN when any is NaN.
private func amax(_ call: KernelCall) throws(KernelError) { try extremum(call, largest: true) }

/// amin: the smallest element over `dim` (all when empty); NaN when any is NaN.
private func amin(_ call: KernelCall) throws(KernelError) { try extremum(call, largest: false) }

private func extremum(_ call: KernelCall, largest: Bool) throws(KernelError) {
    let x = call.input("self")
    let out = try ShapingSupport.onlyOutput(call, dtype: x.dtype)
    try withTemporaryInts(Swift.max(x.rank, 1)) { (reduced) throws(KernelError) in
        try markReduced(call, rank: x.rank, reduced)
        guard out.elementCount == keptCount(x.shape, reduced) else {
            throw call.error("output \(out) does not hold the reduction of \(x) over the reduced dims")
        }
        for d in 0..<x.rank where reduced[d] != 0 && x.shape[d] == 0 {
            throw call.error("argument 'dim': cannot reduce over dim \(d), which has size 0")
        }
        switch x.dtype {
        case .float32:
            // Whole runs at a time (the loops vectorize), into the output.
            let acc = out.unsafeMutableBuffer(of: Float.self)
            acc.update(repeating: largest ? -.infinity : .infinity)
            guard let p = x.unsafeBuffer(of: Float.self).baseAddress, let a = acc.baseAddress else { return }
            walkReduction(x.shape, reduced: reduced) { i, o, n, isReduced in
                if isReduced {
                    a[o] = FloatLoops.extremum(p + i, n, from: a[o], largest: largest)
                } else {
                    FloatLoops.extremum(into: a + o, p + i, n, largest: largest)
                }
            }
        case .float16, .bfloat16:
            // Compared as Float (exact), stored back (exact).
            Scratch.with(call, Float.self, count: out.elementCount) { acc in
                let reader = ConvertingReader<Float>(x)
                extremumRuns(x.shape, reduced, acc, largest: largest) { reader[$0] }
                if x.dtype == .float16 {
                    let o = out.unsafeMutableBuffer(of: Float16.self)
                    for i in 0..<o.count { o[i] = Float16(acc[i]) }
                } else {
                    let o = out.unsafeMutableBuffer(of: BFloat16.self)
                    for i in 0..<o.count { o[i] = BFloat16(acc[i]) }
                }
            }
        case .int64: integerExtremum(x, out, reduced, Int64.self, largest: largest)
        case .int32: integerExtremum(x, out, reduced, Int32.self, largest: largest)
        case .int16: integerExtremum(x, out, reduced, Int16.self, largest: largest)
        case .int8: integerExtremum(x, out, reduced, Int8.self, largest: largest)
        case .uint8: integerExtremum(x, out, reduced, UInt8.self, largest: largest)
        case .bool:
            // Bools as 0 and 1: amax is "any", amin is "all".
            let src = UnsafeRawBufferPointer(x.unsafeBuffer(of: Bool.self))
            let o = out.unsafeMutableBuffer(of: Bool.self)
            o.update(repeating: !largest)
            walkReduction(x.shape, reduced: reduced) { i, j, n, isReduced in
                for t in 0..<n {
                    let v = src[i + t] != 0
                    let k = isReduced ? j : j + t
                    o[k] = largest ? (o[k] || v) : (o[k] && v)
                }
            }
        }
    }
}

/// Float extremum into `acc`: a NaN wins and stays; otherwise the larger (or smaller) value.
@inline(__always)
private func extremumRuns(_ shape: [Int], _ reduced: UnsafeMutableBufferPointer<Int>,
                          _ acc: UnsafeMutableBufferPointer<Float>, largest: Bool, _ load: (Int) -> Float) {
    acc.update(repeating: largest ? -.infinity : .infinity)
    @inline(__always) func pick(_ a: Float, _ v: Float) -> Float {
        // (v beyond a) or v is NaN; a NaN accumulator never changes.
        (largest ? v > a : v < a) || v.isNaN ? v : a
    }
    walkReduction(shape, reduced: reduced) { i, o, n, isReduced in
        if !isReduced {
            for t in 0..<n { acc[o + t] = pick(acc[o + t], load(i + t)) }
            return
        }
        var (m0, m1, m2, m3) = (acc[o], acc[o], acc[o], acc[o])
        var t = 0
        while t + 4 <= n {
            m0 = pick(m0, load(i + t))
            m1 = pick(m1, load(i + t + 1))
            m2 = pick(m2, load(i + t + 2))
            m3 = pick(m3, load(i + t + 3))
            t += 4
        }
        while t < n {
            m0 = pick(m0, load(i + t))
            t += 1
        }
        acc[o] = pick(pick(m0, m1), pick(m2, m3))
    }
}

private func integerExtremum<T: FixedWidthInteger & TensorElement>(_ x: Tensor, _ out: Tensor,
                                                                   _ reduced: UnsafeMutableBufferPointer<Int>,
                                                                   _: T.Type, largest: Bool) {
    let p = x.unsafeBuffer(of: T.self), acc = out.unsafeMutableBuffer(of: T.self)
    acc.update(repeating: largest ? T.min : T.max)
    walkReduction(x.shape, reduced: reduced) { i, o, n, isReduced in
        if !isReduced {
            for t in 0..<n { acc[o + t] = largest ? Swift.max(acc[o + t], p[i + t]) : Swift.min(acc[o + t], p[i + t]) }
        } else {
            var m = acc[o]
            for t in 0..<n { m = largest ? Swift.max(m, p[i + t]) : Swift.min(m, p[i + t]) }
            acc[o] = m
        }
    }
}

// MARK: - argmax

/// argmax: the first index of the largest element along `dim` (of the flattened input when
/// none); a NaN counts as larger than any number.
private func argmax(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let out = try ShapingSupport.onlyOutput(call, dtype: .int64)
    // 1. The input as outer × n × inner around the dim (the flattened input is one row).
    var (outer, n, inner) = (1, x.elementCount, 1)
    if let d = call.arguments.optionalInt("dim"), x.rank > 0 {
        let axis = try ShapingSupport.axis(call, d, rank: x.rank)
        (outer, n, inner) = (ShapeMath.product(x.shape, 0..<axis), x.shape[axis],
                             ShapeMath.product(x.shape, (axis + 1)..<x.rank))
    }
    guard out.elementCount == outer * inner else {
        throw call.error("output \(out) does not hold one index per row of \(x)")
    }
    if out.elementCount == 0 { return }
    guard n > 0 else { throw call.error("argument 'dim': cannot take the argmax over an empty dim") }
    // 2. Compare floats as Float and integers as Int64 (both exact).
    let indices = out.unsafeMutableBuffer(of: Int64.self)
    switch x.dtype {
    case .float32 where inner == 1:
        // Contiguous rows: the row's max (vectorized), then its first occurrence (or first NaN).
        guard let p = x.unsafeBuffer(of: Float.self).baseAddress else { return }
        for r in 0..<outer {
            let row = p + r * n
            let m = FloatLoops.extremum(row, n, from: -.infinity, largest: true)
            var at = 0
            while at < n - 1 && !(m.isNaN ? row[at].isNaN : row[at] == m) { at += 1 }
            indices[r] = Int64(at)
        }
    case .float32:
        let p = x.unsafeBuffer(of: Float.self)
        argmaxRows(call, outer, n, inner, indices, Float.self) { p[$0] }
    case .float16, .bfloat16:
        let reader = ConvertingReader<Float>(x)
        argmaxRows(call, outer, n, inner, indices, Float.self) { reader[$0] }
    case .bool:
        throw call.error("argument 'self': argmax does not take bool tensors")
    default:
        let reader = ConvertingReader<Int64>(x)
        argmaxRows(call, outer, n, inner, indices, Int64.self) { reader[$0] }
    }
}

/// A value argmax compares: `v` replaces the best so far when it is larger (or a first NaN).
private protocol ArgmaxKey {
    static func beats(_ v: Self, _ best: Self) -> Bool
}

extension Float: ArgmaxKey {
    @inline(__always) static func beats(_ v: Float, _ best: Float) -> Bool { !best.isNaN && (v > best || v.isNaN) }
}

extension Int64: ArgmaxKey {
    @inline(__always) static func beats(_ v: Int64, _ best: Int64) -> Bool { v > best }
}

/// The index of the first best element of each row (`n` elements, `inner` apart).
@inline(__always)
private func argmaxRows<K: ArgmaxKey>(_ call: KernelCall, _ outer: Int, _ n: Int, _ inner: Int,
                                      _ indices: UnsafeMutableBufferPointer<Int64>, _: K.Type,
                                      _ load: (Int) -> K) {
    if inner == 1 {
        // Contiguous rows.
        for r in 0..<outer {
            let base = r * n
            var (best, at) = (load(base), 0)
            for k in 1..<n where K.beats(load(base + k), best) { (best, at) = (load(base + k), k) }
            indices[r] = Int64(at)
        }
        return
    }
    // Rows `inner` apart: sweep k over whole contiguous lines of `inner` elements, keeping each
    // column's best value in the scratch.
    Scratch.with(call, K.self, count: inner) { best in
        for r in 0..<outer {
            let base = r * n * inner
            let idx = UnsafeMutableBufferPointer(rebasing: indices[(r * inner)..<((r + 1) * inner)])
            for t in 0..<inner {
                best[t] = load(base + t)
                idx[t] = 0
            }
            for k in 1..<n {
                let line = base + k * inner
                for t in 0..<inner where K.beats(load(line + t), best[t]) {
                    best[t] = load(line + t)
                    idx[t] = Int64(k)
                }
            }
        }
    }
}

// MARK: - log_softmax

/// _log_softmax and log_softmax.int: `x - max - log(sum(exp(x - max)))` along `dim`, the max
/// subtracted first so exp cannot overflow. log_softmax.int's `dtype` casts the input first.
private func logSoftmax(_ call: KernelCall) throws(KernelError) {
    try softmaxFamily(call, logarithm: true)
}
