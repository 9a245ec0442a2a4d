import KilnOps
import KilnTensor

/// Matrix products: linear, addmm, mm, bmm, matmul. float32 runs on ``FloatGemm`` (a constant
/// weight of linear, addmm or mm is packed once, when the method loads: see ``KernelPrepack``);
/// int64 and int32 on the reference ``Gemm``, wrapping on overflow as torch's do.
///
/// linear is float32 only (its rule takes floating point only).
let linearAlgebraKernels: [KernelEntry] = [
    KernelEntry(op: "linear", name: "f32_linear_14x32__simd", scratchBytes: linearScratchBytes,
                prepack: rightOperandPrepack(linearWeight), kernel: linear),
    KernelEntry(op: "addmm", name: "f32_i64_i32_addmm_14x32__simd", scratchBytes: addmmScratchBytes,
                prepack: rightOperandPrepack(addmmWeight), kernel: addmm),
    KernelEntry(op: "mm", name: "f32_i64_i32_mm_14x32__simd", scratchBytes: mmScratchBytes,
                prepack: rightOperandPrepack(mmWeight), kernel: mm),
    KernelEntry(op: "bmm", name: "f32_i64_i32_bmm_14x32__simd", scratchBytes: bmmScratchBytes, kernel: bmm),
    KernelEntry(op: "matmul", name: "f32_i64_i32_matmul_14x32__simd", scratchBytes: matmulScratchBytes, kernel: matmul),
]

// MARK: - The float32 product and its packed weights

/// A float32 product's right-hand operand `[k, n]` as the kernel reads it, and its input index.
private struct RightOperand {
    var input: Int
    var operand: Gemm.Operand<Float>
    var k: Int
    var n: Int
}

/// The prepacking of a product's right-hand operand, found by `find` (nil when the call is not a
/// float32 product this kernel packs): ``FloatGemm/packB(_:k:n:into:)``'s panels.
private func rightOperandPrepack(_ find: @escaping @Sendable (KernelCall) -> RightOperand?) -> KernelPrepack {
    KernelPrepack(
        bytes: { call, index in
            guard let b = find(call), b.input == index else { return 0 }
            return Scratch.bytes(Float.self, count: FloatGemm.packedBCount(k: b.k, n: b.n))
        },
        pack: { call, index, destination in
            guard let b = find(call), b.input == index,
                  destination.count >= Scratch.bytes(Float.self, count: FloatGemm.packedBCount(k: b.k, n: b.n)),
                  let base = destination.baseAddress else { return }
            _ = FloatGemm.packB(b.operand, k: b.k, n: b.n, into: base.bindMemory(to: Float.self, capacity: destination.count / 4))
        })
}

/// The packed panels of `b` the method made, when they are there and of the right size.
private func packedRightOperand(_ call: KernelCall, _ b: RightOperand) -> FloatGemm.PackedB? {
    guard let packed = call.prepackedInput(b.input), let base = packed.baseAddress,
          packed.count >= Scratch.bytes(Float.self, count: FloatGemm.packedBCount(k: b.k, n: b.n)) else { return nil }
    return FloatGemm.PackedB(base: base.assumingMemoryBound(to: Float.self), k: b.k, n: b.n)
}

/// Bytes of ``FloatGemm`` working memory for an `m`-row product with `b` on the call's threads.
private func productScratchBytes(_ call: KernelCall, m: Int, _ b: RightOperand) -> Int {
    Scratch.bytes(Float.self, count: FloatGemm.workspaceCount(m: m, n: b.n, k: b.k, threads: call.threadPool.threadCount,
                                                             packingB: packedRightOperand(call, b) == nil))
}

/// `C (+)= A · B` in float32, from `b`'s packed panels when the method made them.
private func floatProduct(_ call: KernelCall, m: Int, a: Gemm.Operand<Float>, _ b: RightOperand,
                          c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    let packed = packedRightOperand(call, b)
    let count = FloatGemm.workspaceCount(m: m, n: b.n, k: b.k, threads: call.threadPool.threadCount,
                                         packingB: packed == nil)
    Scratch.with(call, Float.self, count: count) { workspace in
        if let packed {
            FloatGemm.multiply(m: m, a: a, b: packed, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace,
                               threads: call.threadPool)
        } else {
            FloatGemm.multiply(m: m, n: b.n, k: b.k, a: a, b: b.operand, c: c, ldc: ldc, accumulate: accumulate,
                               workspace: workspace, threads: call.threadPool)
        }
    }
}

// MARK: - linear

/// linear's weight `[n, k]`, read transposed as the product's `[k, n]` operand.
@Sendable private func linearWeight(_ call: KernelCall) -> RightOperand? {
    let x = call.input("input"), w = call.input("weight")
    guard x.dtype == .float32, w.dtype == .float32, x.rank >= 1, w.rank == 2, w.shape[1] == x.shape[x.rank - 1] else {
        return nil
    }
    let (k, n) = (w.shape[1], w.shape[0])
    return RightOperand(input: call.arguments.tensor("weight"),
                        operand: .transposed(w.unsafeBuffer(of: Float.self).baseAddress!, columns: k), k: k, n: n)
}

/// linear's scratch: the product's working memory (packing the weight too, unless prepacked).
@Sendable private func linearScratchBytes(_ call: KernelCall) -> Int {
    let x = call.input("input")
    guard let b = linearWeight(call) else { return 0 }
    return productScratchBytes(call, m: ShapeMath.product(x.shape, 0..<(x.rank - 1)), b)
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
    guard let weight = linearWeight(call) else { throw call.error("expected a float32 weight [\(n), \(k)], got \(w)") }
    let c = out.unsafeMutableBuffer(of: Float.self).baseAddress!
    // Step 2: start each output row at the bias (or let the product overwrite it).
    if let bias {
        let b = bias.unsafeBuffer(of: Float.self)
        for i in 0..<m { (c + i * n).update(from: b.baseAddress!, count: n) }
    }
    // Step 3: rows += x · weight^T (from the weight's panels, packed once when the method loaded).
    floatProduct(call, m: m, a: .rowMajor(x.unsafeBuffer(of: Float.self).baseAddress!, columns: k), weight,
                 c: c, ldc: n, accumulate: bias != nil)
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
        if T.self == Float.self, let weight = addmmWeight(call) {
            floatProduct(call, m: m, a: .rowMajor(a.unsafeBuffer(of: Float.self).baseAddress!, columns: k), weight,
                         c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: n, accumulate: false)
        } else {
            Gemm.multiply(m: m, n: n, k: k,
                          a: .rowMajor(a.unsafeBuffer(of: T.self).baseAddress!, columns: k),
                          b: .rowMajor(b.unsafeBuffer(of: T.self).baseAddress!, columns: n),
                          c: c, ldc: n, accumulate: false)
        }
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

/// `mat2` as the right-hand operand of the product `left · mat2` (addmm's `mat1`, mm's `self`),
/// for float32 2-D operands whose sizes agree; nil otherwise (the kernel reports the problem).
private func rightOperand(_ call: KernelCall, left: String) -> RightOperand? {
    let a = call.input(left), b = call.input("mat2")
    guard a.dtype == .float32, b.dtype == .float32, a.rank == 2, b.rank == 2, b.shape[0] == a.shape[1],
          let base = b.unsafeBuffer(of: Float.self).baseAddress else { return nil }
    return RightOperand(input: call.arguments.tensor("mat2"), operand: .rowMajor(base, columns: b.shape[1]),
                        k: b.shape[0], n: b.shape[1])
}

/// The float32 product's working memory for `left · mat2`.
private func rightOperandScratchBytes(_ call: KernelCall, left: String) -> Int {
    guard let b = rightOperand(call, left: left) else { return 0 }
    return productScratchBytes(call, m: call.input(left).shape[0], b)
}

@Sendable private func addmmWeight(_ call: KernelCall) -> RightOperand? { rightOperand(call, left: "mat1") }
@Sendable private func addmmScratchBytes(_ call: KernelCall) -> Int { rightOperandScratchBytes(call, left: "mat1") }
@Sendable private func mmWeight(_ call: KernelCall) -> RightOperand? { rightOperand(call, left: "self") }
@Sendable private func mmScratchBytes(_ call: KernelCall) -> Int { rightOperandScratchBytes(call, left: "self") }

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

/// bmm's scratch: one float32 product's working memory (the batches run one after the other).
@Sendable private func bmmScratchBytes(_ call: KernelCall) -> Int {
    let a = call.input("self"), b = call.input("mat2")
    guard a.dtype == .float32, a.rank == 3, b.rank == 3 else { return 0 }
    return Scratch.bytes(Float.self, count: FloatGemm.workspaceCount(m: a.shape[1], n: b.shape[2], k: a.shape[2],
                                                                    threads: call.threadPool.threadCount))
}

/// `batch` independent products of the trailing two dims (mm is one batch of rank-2 operands).
private func batchedProduct<T: GemmElement>(_ call: KernelCall, _: T.Type, _ a: Tensor, _ b: Tensor, _ out: Tensor,
                                            batch: Int) throws(KernelError) {
    let (m, k, n) = (a.shape[a.rank - 2], a.shape[a.rank - 1], b.shape[b.rank - 1])
    guard ShapeMath.shape(out.shape, is: a.shape, upTo: a.rank - 1, then: n) else {
        throw wrongOutput(call, out, Array(a.shape.dropLast()) + [n])
    }
    if T.self == Float.self {
        let (pa, pb) = (a.unsafeBuffer(of: Float.self).baseAddress!, b.unsafeBuffer(of: Float.self).baseAddress!)
        let pc = out.unsafeMutableBuffer(of: Float.self).baseAddress!
        if batch == 1, let weight = mmWeight(call) {
            // mm: mat2 may have been packed when the method loaded.
            floatProduct(call, m: m, a: .rowMajor(pa, columns: k), weight, c: pc, ldc: n, accumulate: false)
            return
        }
        Scratch.with(call, Float.self, count: FloatGemm.workspaceCount(m: m, n: n, k: k,
                                                                       threads: call.threadPool.threadCount)) { workspace in
            for i in 0..<batch {
                FloatGemm.multiply(m: m, n: n, k: k, a: .rowMajor(pa + i * m * k, columns: k),
                                   b: .rowMajor(pb + i * k * n, columns: n), c: pc + i * m * n, ldc: n,
                                   accumulate: false, workspace: workspace, threads: call.threadPool)
            }
        }
        return
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

/// matmul's scratch: one float32 product's working memory (the batches run one after the other).
@Sendable private func matmulScratchBytes(_ call: KernelCall) -> Int {
    let a = call.input("self"), b = call.input("other")
    guard a.dtype == .float32, a.rank >= 1, b.rank >= 1 else { return 0 }
    let (m, k) = a.rank == 1 ? (1, a.shape[0]) : (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let n = b.rank == 1 ? 1 : b.shape[b.rank - 1]
    return Scratch.bytes(Float.self, count: FloatGemm.workspaceCount(m: m, n: n, k: k, threads: call.threadPool.threadCount))
}

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
        if T.self == Float.self {
            let (fa, fb) = (UnsafeRawPointer(pa).assumingMemoryBound(to: Float.self),
                            UnsafeRawPointer(pb).assumingMemoryBound(to: Float.self))
            let fc = UnsafeMutableRawPointer(pc).assumingMemoryBound(to: Float.self)
            Scratch.with(call, Float.self, count: FloatGemm.workspaceCount(m: m, n: n, k: k,
                                                                           threads: call.threadPool.threadCount)) { workspace in
                Broadcast.forEach(UnsafeBufferPointer(batch), UnsafeBufferPointer(aStrides), UnsafeBufferPointer(bStrides)) {
                    o, ia, ib in
                    FloatGemm.multiply(m: m, n: n, k: k, a: .rowMajor(fa + ia, columns: k), b: .rowMajor(fb + ib, columns: n),
                                       c: fc + o * m * n, ldc: n, accumulate: false, workspace: workspace,
                                       threads: call.threadPool)
                }
            }
            return
        }
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
