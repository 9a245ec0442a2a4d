import KilnOps
import KilnTensor

/// Matrix products: linear, addmm, mm, bmm, matmul. All run on the shared ``Gemm``.
///
/// linear is float32 only (its rule takes floating point only); the others also take int64
/// and int32, which wrap on overflow as torch's do.
let linearAlgebraKernels: [KernelEntry] = [
    KernelEntry(op: "linear", name: "f32_linear__portable", scratchBytes: linearScratchBytes, kernel: linear),
    KernelEntry(op: "addmm", name: "f32_i64_i32_addmm__portable", kernel: addmm),
    KernelEntry(op: "mm", name: "f32_i64_i32_mm__portable", kernel: mm),
    KernelEntry(op: "bmm", name: "f32_i64_i32_bmm__portable", kernel: bmm),
    KernelEntry(op: "matmul", name: "f32_i64_i32_matmul__portable", kernel: matmul),
]

// MARK: - linear

/// linear's scratch: the weight packed as a row-major `[k, n]` copy of its transpose.
private func linearScratchBytes(_ call: KernelCall) -> Int {
    let x = call.input("input"), w = call.input("weight")
    guard x.rank >= 1, w.rank == 2, x.dtype == .float32 else { return 0 }
    let (k, n) = (x.shape[x.rank - 1], w.shape[0])
    return Scratch.bytes(Float.self, count: k * n)
}

/// `y[..., n] = x[..., k] · weight[n, k]^T + bias[n]`: every leading dim folds into the rows.
@Sendable private func linear(_ call: KernelCall) throws(KernelError) {
    let x = call.input("input"), w = call.input("weight"), bias = call.optionalInput("bias")
    let out = call.outputs[0]
    guard x.dtype == .float32 else { throw unsupported(call, x.dtype) }
    // Step 1: the sizes: rows (all leading dims), in features, out features.
    let k = x.shape[x.rank - 1], n = w.shape[0]
    let m = ShapeMath.product(x.shape, 0..<(x.rank - 1))
    guard ShapeMath.shape(out.shape, is: x.shape, upTo: x.rank - 1, then: n) else {
        throw wrongOutput(call, out, Array(x.shape.dropLast()) + [n])
    }
    let c = out.unsafeMutableBuffer(of: Float.self).baseAddress!
    // Step 2: start each output row at the bias (or let the product overwrite it).
    if let bias {
        let b = bias.unsafeBuffer(of: Float.self)
        for i in 0..<m { (c + i * n).update(from: b.baseAddress!, count: n) }
    }
    // Step 3: rows += x · weight^T (the weight is read transposed; Gemm packs it once, into the
    //         call's scratch).
    let weight = Gemm.Operand.transposed(w.unsafeBuffer(of: Float.self).baseAddress!, columns: k)
    Scratch.with(call, Float.self, count: Gemm.packingCount(n: n, k: k, b: weight)) { packing in
        Gemm.multiply(m: m, n: n, k: k,
                      a: .rowMajor(x.unsafeBuffer(of: Float.self).baseAddress!, columns: k), b: weight,
                      c: c, ldc: n, accumulate: bias != nil, packing: packing)
    }
}

// MARK: - addmm

/// `beta * self + alpha * (mat1 · mat2)`, `self` broadcast to the product's shape.
///
/// As in torch (and BLAS): with `beta == 0` `self` is not read, so its NaNs and infinities do
/// not reach the output; with `alpha == 0` the product is not computed.
@Sendable private func addmm(_ call: KernelCall) throws(KernelError) {
    let a = call.input("mat1")
    switch a.dtype {
    case .float32: try addmm(call, Float.self)
    case .int64: try addmm(call, Int64.self)
    case .int32: try addmm(call, Int32.self)
    default: throw unsupported(call, a.dtype)
    }
}

private func addmm<T: GemmElement>(_ call: KernelCall, _: T.Type) throws(KernelError) {
    let s = call.input("self"), a = call.input("mat1"), b = call.input("mat2"), out = call.outputs[0]
    let beta = call.arguments.scalar("beta"), alpha = call.arguments.scalar("alpha")
    if a.dtype.isInteger {
        guard beta.isInteger, alpha.isInteger else {
            throw call.error("integer tensors take integer beta and alpha, got beta=\(beta.value), alpha=\(alpha.value)")
        }
    }
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
    guard out.rank == 2, out.shape[0] == m, out.shape[1] == n else { throw wrongOutput(call, out, [m, n]) }
    guard ShapeMath.broadcasts(s.shape, to: out.shape) else {
        throw call.error("self \(s) does not broadcast to the product's shape \(out.shape)")
    }
    let c = out.unsafeMutableBuffer(of: T.self).baseAddress!
    // Step 1: the product into the output (zeros when alpha is 0 or k is 0).
    if alpha.value != 0 {
        Gemm.multiply(m: m, n: n, k: k,
                      a: .rowMajor(a.unsafeBuffer(of: T.self).baseAddress!, columns: k),
                      b: .rowMajor(b.unsafeBuffer(of: T.self).baseAddress!, columns: n),
                      c: c, ldc: n, accumulate: false)
    } else {
        c.update(repeating: .zero, count: m * n)
    }
    // Step 2: out = beta * self + alpha * out, reading self through its broadcast strides.
    let alphaT: T = scalar(call, "alpha"), betaT: T = scalar(call, "beta")
    let ps = s.unsafeBuffer(of: T.self).baseAddress!
    withTemporaryInts(2) { strides in
        Broadcast.strides(of: s.shape, in: out.shape, into: strides)
        for i in 0..<m {
            let row = c + i * n, sRow = ps + i * strides[0]
            if beta.value == 0 {
                for j in 0..<n { row[j] = T.multiply(alphaT, row[j]) }
            } else {
                for j in 0..<n { row[j] = T.multiplyAdd(T.multiply(alphaT, row[j]), betaT, sRow[j * strides[1]]) }
            }
        }
    }
}

/// The `Scalar` argument `name` as a `T`: an int exactly (wrapped to `T`'s width), a float rounded.
private func scalar<T: GemmElement>(_ call: KernelCall, _ name: String) -> T {
    if case .int(let v) = call.arguments[name] { return T(integer: v) }
    return T(real: call.arguments.float(name))
}

// MARK: - mm, bmm

/// `self[n, k] · mat2[k, m]`.
@Sendable private func mm(_ call: KernelCall) throws(KernelError) {
    let a = call.input("self"), b = call.input("mat2"), out = call.outputs[0]
    switch a.dtype {
    case .float32: try batchedProduct(call, Float.self, a, b, out, batch: 1)
    case .int64: try batchedProduct(call, Int64.self, a, b, out, batch: 1)
    case .int32: try batchedProduct(call, Int32.self, a, b, out, batch: 1)
    default: throw unsupported(call, a.dtype)
    }
}

/// `self[b, n, k] · mat2[b, k, m]` for each of the `b` batches.
@Sendable private func bmm(_ call: KernelCall) throws(KernelError) {
    let a = call.input("self"), b = call.input("mat2"), out = call.outputs[0]
    switch a.dtype {
    case .float32: try batchedProduct(call, Float.self, a, b, out, batch: a.shape[0])
    case .int64: try batchedProduct(call, Int64.self, a, b, out, batch: a.shape[0])
    case .int32: try batchedProduct(call, Int32.self, a, b, out, batch: a.shape[0])
    default: throw unsupported(call, a.dtype)
    }
}

/// `batch` independent products of the trailing two dims (mm is one batch of rank-2 operands).
private func batchedProduct<T: GemmElement>(_ call: KernelCall, _: T.Type, _ a: Tensor, _ b: Tensor, _ out: Tensor,
                                            batch: Int) throws(KernelError) {
    let (m, k, n) = (a.shape[a.rank - 2], a.shape[a.rank - 1], b.shape[b.rank - 1])
    guard ShapeMath.shape(out.shape, is: a.shape, upTo: a.rank - 1, then: n) else {
        throw wrongOutput(call, out, Array(a.shape.dropLast()) + [n])
    }
    let (pa, pb) = (a.unsafeBuffer(of: T.self).baseAddress!, b.unsafeBuffer(of: T.self).baseAddress!)
    let pc = out.unsafeMutableBuffer(of: T.self).baseAddress!
    for i in 0..<batch {
        Gemm.multiply(m: m, n: n, k: k,
                      a: .rowMajor(pa + i * m * k, columns: k), b: .rowMajor(pb + i * k * n, columns: n),
                      c: pc + i * m * n, ldc: n, accumulate: false)
    }
}

// MARK: - matmul

/// NumPy's matmul: a 1-D `self` is a row `[1, k]` and a 1-D `other` a column `[k, 1]` (the added
/// dim is absent from the result); the dims before the last two broadcast against each other.
@Sendable private func matmul(_ call: KernelCall) throws(KernelError) {
    let a = call.input("self")
    switch a.dtype {
    case .float32: try matmul(call, Float.self)
    case .int64: try matmul(call, Int64.self)
    case .int32: try matmul(call, Int32.self)
    default: throw unsupported(call, a.dtype)
    }
}

private func matmul<T: GemmElement>(_ call: KernelCall, _: T.Type) throws(KernelError) {
    let a = call.input("self"), b = call.input("other"), out = call.outputs[0]
    // Step 1: promote 1-D operands to matrices: `self` [k] is [1, k], `other` [k] is [k, 1].
    let (m, k) = a.rank == 1 ? (1, a.shape[0]) : (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let n = b.rank == 1 ? 1 : b.shape[b.rank - 1]
    let (aBatchRank, bBatchRank) = (Swift.max(a.rank - 2, 0), Swift.max(b.rank - 2, 0))
    let rank = Swift.max(aBatchRank, bBatchRank)
    try withTemporaryInts(rank, rank, rank) { (batch, aStrides, bStrides) throws(KernelError) in
        // Step 2: the broadcast batch shape (right-aligned), and each operand's batch strides in
        //         whole matrices (0 along a dim it is broadcast on).
        var (aRunning, bRunning) = (m * k, k * n)
        for d in stride(from: rank - 1, through: 0, by: -1) {
            let ad = d - (rank - aBatchRank), bd = d - (rank - bBatchRank)
            let aSize = ad >= 0 ? a.shape[ad] : 1, bSize = bd >= 0 ? b.shape[bd] : 1
            batch[d] = aSize == 1 ? bSize : aSize
            aStrides[d] = aSize == 1 ? 0 : aRunning
            bStrides[d] = bSize == 1 ? 0 : bRunning
            aRunning *= aSize
            bRunning *= bSize
        }
        // Step 3: the output is batch, then m (unless self is 1-D), then n (unless other is 1-D).
        guard outputMatches(out.shape, batch: batch, m: a.rank > 1 ? m : nil, n: b.rank > 1 ? n : nil) else {
            var shape = Array(batch)
            if a.rank > 1 { shape.append(m) }
            if b.rank > 1 { shape.append(n) }
            throw wrongOutput(call, out, shape)
        }
        // Step 4: one product per batch index (the output is dense in batch order).
        let (pa, pb) = (a.unsafeBuffer(of: T.self).baseAddress!, b.unsafeBuffer(of: T.self).baseAddress!)
        let pc = out.unsafeMutableBuffer(of: T.self).baseAddress!
        Broadcast.forEach(UnsafeBufferPointer(batch), UnsafeBufferPointer(aStrides), UnsafeBufferPointer(bStrides)) {
            o, ia, ib in
            Gemm.multiply(m: m, n: n, k: k, a: .rowMajor(pa + ia, columns: k), b: .rowMajor(pb + ib, columns: n),
                          c: pc + o * m * n, ldc: n, accumulate: false)
        }
    }
}

/// True when `shape` is `batch` followed by `m` and `n` (each left out when nil).
private func outputMatches(_ shape: [Int], batch: UnsafeMutableBufferPointer<Int>, m: Int?, n: Int?) -> Bool {
    let tail = (m == nil ? 0 : 1) + (n == nil ? 0 : 1)
    guard shape.count == batch.count + tail else { return false }
    for d in 0..<batch.count where shape[d] != batch[d] { return false }
    if let m, shape[batch.count] != m { return false }
    if let n, shape[shape.count - 1] != n { return false }
    return true
}

// MARK: - Checks

/// The dtype is outside what this portable kernel computes.
private func unsupported(_ call: KernelCall, _ dtype: DType) -> KernelError {
    call.error("the portable kernel does not compute \(dtype) tensors")
}

/// The output the caller sized by the op's shape rule disagrees with the kernel's own sizes
/// (the checks guard the writes).
private func wrongOutput(_ call: KernelCall, _ out: Tensor, _ expected: [Int]) -> KernelError {
    call.error("output is \(out), expected shape \(expected)")
}
