#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

// scaled_dot_product_attention, computed directly (the decomposition into bmm/_softmax is what
// the portable `.pte` runs; this kernel is the evaluator's reference, checked against torch).
//
// Per batch and query row i: scores_j = (q_i · k_j) * scale + mask_ij (is_causal: -inf for j > i,
// top-left aligned as torch's `tril(ones(L, S))`), p = softmax(scores), out_i = Σ_j p_j v_j. A row
// whose scores are all -inf (fully masked) gives zeros, as torch's kernels do. Dot products and
// sums run in Float (float16 and bfloat16 inputs too); the output rounds once.

let shapingAttentionKernels: [KernelEntry] = [
    KernelEntry(op: "scaled_dot_product_attention", name: "f32_f16_bf16_scaled_dot_product_attention__portable",
                scratchBytes: attentionScratchBytes, kernel: attention),
]

/// One row of scores (S) and one output accumulator (Ev), in Float.
private func attentionScratchBytes(_ call: KernelCall) -> Int {
    let k = call.input("key"), v = call.input("value")
    guard k.rank >= 2, v.rank >= 2 else { return 0 }
    return Scratch.bytes(Float.self, count: k.shape[k.rank - 2] + v.shape[v.rank - 1])
}

private func attention(_ call: KernelCall) throws(KernelError) {
    let q = call.input("query")
    switch q.dtype {
    case .float32: try attention(call, Float.self)
    case .float16: try attention(call, Float16.self)
    case .bfloat16: try attention(call, BFloat16.self)
    default: throw call.error("argument 'query': expected a floating-point tensor, got \(q.dtype)")
    }
}

private func attention<T: ComputedElement>(_ call: KernelCall, _: T.Type) throws(KernelError) where T.Compute == Float {
    let q = call.input("query"), k = call.input("key"), v = call.input("value")
    let mask = call.optionalInput("attn_mask")
    let out = try ShapingSupport.onlyOutput(call, dtype: q.dtype)
    let rank = q.rank, batchRank = rank - 2
    // 1. Sizes and checks: q [B..., L, E], k [B..., S, E], v [B..., S, Ev], out [B..., L, Ev].
    guard rank >= 2, k.rank == rank, v.rank == rank, out.rank == rank, k.dtype == q.dtype, v.dtype == q.dtype else {
        throw call.error("query \(q), key \(k), value \(v) and output \(out) must share a dtype and a rank of 2 or more")
    }
    let (l, e, s, ev) = (q.shape[rank - 2], q.shape[rank - 1], k.shape[rank - 2], v.shape[rank - 1])
    guard k.shape[rank - 1] == e, v.shape[rank - 2] == s, out.shape[rank - 2] == l, out.shape[rank - 1] == ev else {
        throw call.error("query \(q), key \(k), value \(v) and output \(out) do not fit [..., L, E], [..., S, E], "
                         + "[..., S, Ev] and [..., L, Ev]")
    }
    let gqa = call.arguments.bool("enable_gqa")
    let causal = call.arguments.bool("is_causal")
    guard !(causal && mask != nil) else { throw call.error("argument 'attn_mask': must be none when is_causal is true") }
    guard call.arguments.float("dropout_p") == 0 else { throw call.error("argument 'dropout_p': dropout is not supported") }
    // Each input's batch dim either matches the output's or is 1 (broadcast); with grouped-query
    // attention, key and value heads (dim -3) divide the output's.
    for d in 0..<batchRank {
        let o = out.shape[d]
        for t in 0..<3 {
            let size = t == 0 ? q.shape[d] : t == 1 ? k.shape[d] : v.shape[d]
            let grouped = gqa && t > 0 && d == batchRank - 1 && size > 0 && o % size == 0
            guard size == o || size == 1 || grouped else {
                throw call.error("batch dim \(d) of \(t == 0 ? "query" : t == 1 ? "key" : "value") is \(size), "
                                 + "the output's is \(o)")
            }
        }
    }
    let scale = Float(call.arguments.optionalFloat("scale") ?? 1 / Double(e).squareRoot())
    let isBoolMask = mask?.dtype == .bool
    if let mask, !(mask.dtype == .bool || mask.dtype == q.dtype) || mask.rank > rank {
        throw call.error("argument 'attn_mask': expected a bool or \(q.dtype) mask of rank \(rank) or less, got \(mask)")
    }

    let pq = q.unsafeBuffer(of: T.self), pk = k.unsafeBuffer(of: T.self), pv = v.unsafeBuffer(of: T.self)
    let po = out.unsafeMutableBuffer(of: T.self)
    let maskBool = isBoolMask ? mask.map { UnsafeRawBufferPointer($0.unsafeBuffer(of: Bool.self)) } : nil
    let maskFloat = isBoolMask ? nil : mask.map { $0.unsafeBuffer(of: T.self) }
    let batches = ShapeMath.product(out.shape, 0..<batchRank)
    try withTemporaryInts(rank, rank) { (maskStrides, coordinate) throws(KernelError) in
        // 2. The mask's strides in [B..., L, S] (0 where it broadcasts).
        if let mask {
            var running = 1
            for i in stride(from: mask.rank - 1, through: 0, by: -1) {
                let o = rank - mask.rank + i
                let full = o == rank - 1 ? s : o == rank - 2 ? l : out.shape[o]
                guard mask.shape[i] == full || mask.shape[i] == 1 else {
                    throw call.error("argument 'attn_mask': \(mask) does not broadcast to the scores of \(q) and \(k)")
                }
                maskStrides[o] = mask.shape[i] == 1 ? 0 : running
                running *= mask.shape[i]
            }
        }
        Scratch.with(call, Float.self, count: s + ev) { scratch in
            let scores = UnsafeMutableBufferPointer(rebasing: scratch[0..<s])
            let acc = UnsafeMutableBufferPointer(rebasing: scratch[s..<(s + ev)])
            for b in 0..<batches {
                // 3. This batch's offsets into q, k, v and the mask (batch coordinates innermost last).
                var rest = b
                for d in stride(from: batchRank - 1, through: 0, by: -1) {
                    coordinate[d] = rest % out.shape[d]
                    rest /= out.shape[d]
                }
                var (qBase, kBase, vBase, mBase) = (0, 0, 0, 0)
                var (qStride, kStride, vStride) = (l * e, s * e, s * ev)
                for d in stride(from: batchRank - 1, through: 0, by: -1) {
                    let c = coordinate[d], o = out.shape[d]
                    qBase += (q.shape[d] == 1 ? 0 : c) * qStride
                    // Grouped heads: output head c reads key/value head c / (o / heads).
                    kBase += (k.shape[d] == 1 ? 0 : k.shape[d] == o ? c : c / (o / k.shape[d])) * kStride
                    vBase += (v.shape[d] == 1 ? 0 : v.shape[d] == o ? c : c / (o / v.shape[d])) * vStride
                    mBase += c * maskStrides[d]
                    qStride *= q.shape[d]
                    kStride *= k.shape[d]
                    vStride *= v.shape[d]
                }
                for i in 0..<l {
                    // 4. The row's scores and their max.
                    let qRow = qBase + i * e
                    var best = -Float.infinity
                    for j in 0..<s {
                        var score: Float
                        if causal && j > i {
                            score = -.infinity
                        } else {
                            score = dot(pq, qRow, pk, kBase + j * e, e, T.self) * scale
                            let m = mBase + i * maskStrides[rank - 2] + j * maskStrides[rank - 1]
                            if let maskBool, maskBool[m] == 0 { score = -.infinity }
                            if let maskFloat { score += maskFloat[m].computeValue }
                        }
                        scores[j] = score
                        best = Swift.max(best, score)
                    }
                    let outRow = (b * l + i) * ev
                    // 5. A fully masked row is zeros; else softmax-weighted rows of v.
                    guard best > -.infinity else {
                        for t in 0..<ev { po[outRow + t] = T(computed: 0) }
                        continue
                    }
                    acc.update(repeating: 0)
                    var total: Float = 0
                    for j in 0..<s {
                        let p = exp(scores[j] - best)
                        total += p
                        addScaled(acc, p, pv, vBase + j * ev, ev)
                    }
                    for t in 0..<ev { po[outRow + t] = T(computed: acc[t] / total) }
                }
            }
        }
    }
}

/// `a[i..<i+n] · b[j..<j+n]` in Float: ``FloatLoops/dot(_:_:_:)`` for float32, four partial sums
/// for the 16-bit types.
@inline(__always)
private func dot<T: ComputedElement>(_ a: UnsafeBufferPointer<T>, _ i: Int, _ b: UnsafeBufferPointer<T>, _ j: Int,
                                     _ n: Int, _: T.Type) -> Float where T.Compute == Float {
    if T.self == Float.self, let pa = a.baseAddress, let pb = b.baseAddress {
        return FloatLoops.dot(UnsafeRawPointer(pa + i).assumingMemoryBound(to: Float.self),
                              UnsafeRawPointer(pb + j).assumingMemoryBound(to: Float.self), n)
    }
    var (s0, s1, s2, s3): (Float, Float, Float, Float) = (0, 0, 0, 0)
    var t = 0
    while t + 4 <= n {
        s0 += a[i + t].computeValue * b[j + t].computeValue
        s1 += a[i + t + 1].computeValue * b[j + t + 1].computeValue
        s2 += a[i + t + 2].computeValue * b[j + t + 2].computeValue
        s3 += a[i + t + 3].computeValue * b[j + t + 3].computeValue
        t += 4
    }
    while t < n {
        s0 += a[i + t].computeValue * b[j + t].computeValue
        t += 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// `acc[0..<n] += p * v[i..<i+n]`: ``FloatLoops/addScaled(_:_:_:_:)`` for float32.
@inline(__always)
private func addScaled<T: ComputedElement>(_ acc: UnsafeMutableBufferPointer<Float>, _ p: Float,
                                           _ v: UnsafeBufferPointer<T>, _ i: Int, _ n: Int) where T.Compute == Float {
    if T.self == Float.self, let a = acc.baseAddress, let pv = v.baseAddress {
        FloatLoops.addScaled(a, p, UnsafeRawPointer(pv + i).assumingMemoryBound(to: Float.self), n)
        return
    }
    for t in 0..<n { acc[t] += p * v[i + t].computeValue }
}
