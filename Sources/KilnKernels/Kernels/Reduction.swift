#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

// Portable reduction kernels: mean over dims and softmax along one dim, as in ATen.
//
// Both read their input as float32, accumulate in Double, and round once at the store. As in ATen,
// softmax.int's `dtype` casts the input first, while mean's only sets the result's dtype.

/// The portable reduction kernels, one per op of `reductionOps` (names list the output dtypes).
let reductionKernels: [KernelEntry] = [
    KernelEntry(op: "mean.dim", name: "f32_f16_bf16_mean__portable", scratchBytes: meanScratchBytes, kernel: meanDim),
    KernelEntry(op: "_softmax", name: "f32_f16_bf16__softmax__portable", kernel: softmax),
    KernelEntry(op: "softmax.int", name: "f32_f16_bf16_softmax_int__portable", kernel: softmax),
]

// MARK: - mean

/// mean.dim's scratch: one Double accumulator per output element.
private func meanScratchBytes(_ call: KernelCall) -> Int {
    Scratch.bytes(Double.self, count: call.outputs.first?.elementCount ?? 0)
}

/// mean.dim: the mean over `dim` (all dims when none or empty), keeping reduced dims as size 1
/// when `keepdim`, in the output's dtype (`dtype`, else the input's); the mean of no elements is NaN.
private func meanDim(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    guard let out = call.outputs.first else { throw call.error("no output tensor") }
    guard out.dtype.isFloatingPoint else { throw call.error("expected a floating-point output, got \(out.dtype)") }
    let rank = x.rank
    try withTemporaryInts(rank, rank) { (reduced, accumulatorStrides) throws(KernelError) in
        // 1. The reduced dims (1 in `reduced`): none or [] means all; negative dims count from the end.
        let requested = call.arguments.optionalIntList("dim") ?? []
        if requested.isEmpty { reduced.update(repeating: 1) }
        for d in requested {
            let axis = try normalizedAxis(call, d, rank: rank)
            if rank > 0 { reduced[axis] = 1 }
        }
        // 2. Each input dim's stride in the accumulators: row-major over the kept dims, 0 along the
        //    reduced ones, so every input element lands in its output's accumulator.
        var (kept, count) = (1, 1)
        for d in stride(from: rank - 1, through: 0, by: -1) {
            if reduced[d] != 0 {
                count *= x.shape[d]
            } else {
                accumulatorStrides[d] = kept
                kept *= x.shape[d]
            }
        }
        guard out.elementCount == kept else {
            throw call.error("output has \(out.elementCount) elements, the reduction of \(x.shape) gives \(kept)")
        }
        // 3. Sum in Double accumulators (the call's scratch), then divide by the reduced count
        //    (0 / 0 is NaN) and store in the output dtype.
        Scratch.with(call, Double.self, count: kept) { sums in
            sum(x, UnsafeBufferPointer(accumulatorStrides), into: sums)
            let n = Double(count)
            switch out.dtype {
            case .float16: store(sums, n, into: out, as: Float16.self)
            case .bfloat16: store(sums, n, into: out, as: BFloat16.self)
            default: store(sums, n, into: out, as: Float.self)
            }
        }
    }
}

/// `sums[j] = Σ x[i]` over the input elements `i` whose accumulator (at `strides`) is `j`, in one
/// row-major pass over the input, read as float32 (ATen casts integer inputs to float32 and sums
/// half types in float32; a float16/bfloat16 `dtype` rounds only the mean, not the inputs).
private func sum(_ x: Tensor, _ strides: UnsafeBufferPointer<Int>, into sums: UnsafeMutableBufferPointer<Double>) {
    sums.update(repeating: 0)
    x.shape.withUnsafeBufferPointer { shape in
        if x.dtype == .float32 {
            let src = x.unsafeBuffer(of: Float.self)
            Broadcast.forEach(shape, strides, strides) { i, j, _ in sums[j] += Double(src[i]) }
        } else {
            let src = ConvertingReader<Float>(x)
            Broadcast.forEach(shape, strides, strides) { i, j, _ in sums[j] += Double(src[i]) }
        }
    }
}

/// `out[i] = sums[i] / count`, rounded to `Out`.
private func store<Out: ComputedElement>(_ sums: UnsafeMutableBufferPointer<Double>, _ count: Double, into out: Tensor,
                                         as _: Out.Type) where Out.Compute == Float {
    let o = out.unsafeMutableBuffer(of: Out.self)
    for i in 0..<o.count { o[i] = Out(computed: Float(sums[i] / count)) }
}

// MARK: - softmax

/// _softmax and softmax.int: `exp(x - max) / sum(exp(x - max))` along `dim`, subtracting the
/// row's max so large inputs cannot overflow. softmax.int's `dtype` casts the input first.
private func softmax(_ call: KernelCall) throws(KernelError) {
    try softmaxFamily(call, logarithm: false)
}

/// The softmax family along `dim`: softmax (`logarithm` false), or log_softmax (`logarithm` true:
/// `(x - max) - log(sum(exp(x - max)))`, as ATen computes it). The row's max is subtracted first,
/// so exp cannot overflow; sums run in Double. A `dtype` argument casts the input first.
func softmaxFamily(_ call: KernelCall, logarithm: Bool) throws(KernelError) {
    let x = call.input("self")
    guard let out = call.outputs.first, out.shape == x.shape else {
        throw call.error("output must have the input's shape \(x.shape)")
    }
    // 1. View the shape as outer × n × inner around `dim` (a 0-d tensor is one row of one).
    let axis = try normalizedAxis(call, call.arguments.int("dim"), rank: x.rank)
    let n = x.rank == 0 ? 1 : x.shape[axis]
    let inner = x.rank == 0 ? 1 : x.shape[(axis + 1)...].reduce(1, *)
    guard n > 0, inner > 0 else { return }
    let outer = x.elementCount / (n * inner)
    // 2. Run the rows, reading the input as the output dtype.
    let reader = ConvertingReader<Float>(x), dtype = out.dtype
    switch dtype {
    case .float32 where x.dtype == .float32 && inner == 1:
        // Contiguous rows: the max and the output loop vectorize (exp does not).
        guard let p = x.unsafeBuffer(of: Float.self).baseAddress,
              let o = out.unsafeMutableBuffer(of: Float.self).baseAddress else { return }
        for r in 0..<outer {
            let (row, dst) = (p + r * n, o + r * n)
            let m = FloatLoops.extremum(row, n, from: -.infinity, largest: true)
            var total = 0.0
            for k in 0..<n { total += Double(exp(row[k] - m)) }
            if logarithm {
                let shift = Float(log(total))
                for k in 0..<n { dst[k] = (row[k] - m) - shift }
            } else {
                for k in 0..<n { dst[k] = Float(Double(exp(row[k] - m)) / total) }
            }
        }
    case .float32 where x.dtype == .float32:
        let src = x.unsafeBuffer(of: Float.self)
        softmaxRows(outer, n, inner, out, logarithm: logarithm, as: Float.self) { src[$0] }
    case .float32: softmaxRows(outer, n, inner, out, logarithm: logarithm, as: Float.self) { reader[$0] }
    case .float16: softmaxRows(outer, n, inner, out, logarithm: logarithm, as: Float16.self) { rounded(reader[$0], to: dtype) }
    case .bfloat16: softmaxRows(outer, n, inner, out, logarithm: logarithm, as: BFloat16.self) { rounded(reader[$0], to: dtype) }
    default: throw call.error("expected a floating-point output, got \(dtype)")
    }
}

/// Softmax (or log_softmax) of each row of `n` elements `inner` apart, for `outer * inner` rows.
@inline(__always)
private func softmaxRows<Out: ComputedElement>(_ outer: Int, _ n: Int, _ inner: Int, _ out: Tensor, logarithm: Bool,
                                               as _: Out.Type, _ load: (Int) -> Float) where Out.Compute == Float {
    let o = out.unsafeMutableBuffer(of: Out.self)
    for row in 0..<(outer * inner) {
        let base = (row / inner) * n * inner + row % inner
        // 1. The row's max (a NaN anywhere makes the whole row NaN below).
        var m = -Float.infinity
        for k in 0..<n { m = max(m, load(base + k * inner)) }
        // 2. The sum of exp(x - max), in Double. For log_softmax a row of -inf gives
        //    -inf - -inf = NaN, as in ATen.
        var sum = 0.0
        for k in 0..<n { sum += Double(exp(load(base + k * inner) - m)) }
        // 3. Each exp(x - max) over the sum, rounded once; or (x - max) - log(sum).
        let shift = logarithm ? Float(log(sum)) : 0
        for k in 0..<n {
            let i = base + k * inner
            o[i] = Out(computed: logarithm ? (load(i) - m) - shift : Float(Double(exp(load(i) - m)) / sum))
        }
    }
}

// MARK: - Helpers

/// `d` made non-negative for a tensor of `rank` (a 0-d tensor takes 0 and -1).
private func normalizedAxis(_ call: KernelCall, _ d: Int, rank: Int) throws(KernelError) -> Int {
    let r = max(rank, 1)
    guard d >= -r, d < r else { throw call.error("dim \(d) is out of range for rank \(rank)") }
    return d < 0 ? d + r : d
}

