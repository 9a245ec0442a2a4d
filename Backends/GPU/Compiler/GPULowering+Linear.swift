import KilnIR
import KilnOps

/// Matrix products, convolution and pooling.
extension GPUDispatchBuilder {
    /// `linear`: `x[..., K] @ weight[N, K]^T + bias[N]`; the weight is read transposed through
    /// its strides.
    mutating func linear(_ node: Node, _ args: OpArguments<ValueID>) throws(GPUCompilerError) {
        let x = args.tensor("input"), w = args.tensor("weight")
        let xs = try shape(x), ws = try shape(w)
        var g = GEMM()
        g.k = xs.last ?? 1
        g.m = xs.dropLast().reduce(1, *)
        g.n = ws[0]
        (g.a, g.b, g.c) = (offset(x), offset(w), offset(node.results[0]))
        g.aStrides = [0, 0, g.k, 1]
        g.bStrides = [0, 0, 1, g.k]
        if let bias = args.optionalTensor("bias") { g.bias = (offset(bias), 0, 1) }
        try gemm(g)
    }

    /// `addmm`: `beta * self + alpha * mat1 @ mat2`, `self` broadcast to `[M, N]`.
    mutating func addmm(_ node: Node, _ args: OpArguments<ValueID>) throws(GPUCompilerError) {
        let s = args.tensor("self"), a = args.tensor("mat1"), b = args.tensor("mat2")
        let ashape = try shape(a), bshape = try shape(b), sshape = try shape(s)
        var g = GEMM()
        (g.m, g.k, g.n) = (ashape[0], ashape[1], bshape[1])
        (g.a, g.b, g.c) = (offset(a), offset(b), offset(node.results[0]))
        g.aStrides = [0, 0, g.k, 1]
        g.bStrides = [0, 0, g.n, 1]
        let full = Self.padded(sshape, 1).suffix(2)
        let strides = Self.padded(Self.strides(sshape), 0).suffix(2)
        let rowStride = full.first == 1 ? 0 : strides.first!, columnStride = full.last == 1 ? 0 : strides.last!
        g.bias = (offset(s), rowStride, columnStride)
        g.beta = Float(args.scalar("beta").value)
        g.alpha = Float(args.scalar("alpha").value)
        try gemm(g)
    }

    /// `mm`, `bmm`, `matmul`: NumPy matrix product; 1-D operands are promoted, batch dims
    /// broadcast (at most two).
    mutating func matmul(_ node: Node, _ a: ValueID, _ b: ValueID) throws(GPUCompilerError) {
        let ashape = try shape(a), bshape = try shape(b)
        let lhs = ashape.count == 1 ? [1] + ashape : ashape
        let rhs = bshape.count == 1 ? bshape + [1] : bshape
        let aBatch = Array(lhs.dropLast(2)), bBatch = Array(rhs.dropLast(2))
        let rank = max(aBatch.count, bBatch.count)
        guard rank <= 2 else { throw error(.unsupportedOperand, "matmul with \(rank) batch dims (the GPU backend takes 2)") }
        let pa = [Int](repeating: 1, count: 2 - aBatch.count) + aBatch
        let pb = [Int](repeating: 1, count: 2 - bBatch.count) + bBatch
        let batch = zip(pa, pb).map { max($0, $1) }
        var g = GEMM()
        (g.m, g.k, g.n) = (lhs[lhs.count - 2], lhs[lhs.count - 1], rhs[rhs.count - 1])
        (g.a, g.b, g.c) = (offset(a), offset(b), offset(node.results[0]))
        (g.batch0, g.batch1) = (batch[0], batch[1])
        func batchStrides(_ dims: [Int], matrix: Int) -> [Int] {
            [dims[1] * matrix, matrix].enumerated().map { i, s in dims[i] == 1 ? 0 : s }
        }
        g.aStrides = batchStrides(pa, matrix: g.m * g.k) + [g.k, 1]
        g.bStrides = batchStrides(pb, matrix: g.k * g.n) + [g.n, 1]
        g.cStrides = [batch[1] * g.m * g.n, g.m * g.n]
        try gemm(g)
    }

    /// `convolution` (not transposed): 1x1 stride-1 unpadded ungrouped as a GEMM per image,
    /// depthwise with its own shader, the rest direct.
    mutating func convolution(_ node: Node, _ args: OpArguments<ValueID>) throws(GPUCompilerError) {
        guard !args.bool("transposed") else { throw error(.unsupportedOperand, "transposed convolution has no GPU lowering") }
        let x = args.tensor("input"), w = args.tensor("weight"), y = node.results[0]
        let xs = try shape(x), ws = try shape(w), ys = try shape(y)
        guard xs.count == 4 else { throw error(.unsupportedOperand, "convolution input of rank \(xs.count) (the GPU takes NCHW)") }
        // One value stands for both dims, as the op's rule allows.
        let stride = args.pair("stride", or: [1, 1]), padding = args.pair("padding", or: [0, 0])
        let dilation = args.pair("dilation", or: [1, 1])
        guard stride.count == 2, padding.count == 2, dilation.count == 2 else {
            throw error(.unsupportedOperand, "stride, padding and dilation must have 1 or 2 values")
        }
        let groups = args.int("groups")
        let bias = args.optionalTensor("bias")
        let (batch, channels, height, width) = (xs[0], xs[1], xs[2], xs[3])
        let (outChannels, outHeight, outWidth) = (ys[1], ys[2], ys[3])
        if ws[2] == 1, ws[3] == 1, stride == [1, 1], padding == [0, 0], groups == 1 {
            // out[n] (O x HW) = W (O x C) @ x[n] (C x HW).
            var g = GEMM()
            (g.m, g.k, g.n) = (outChannels, channels, height * width)
            (g.a, g.b, g.c) = (offset(w), offset(x), offset(y))
            g.batch0 = batch
            g.aStrides = [0, 0, channels, 1]
            g.bStrides = [channels * g.n, 0, g.n, 1]
            g.cStrides = [outChannels * g.n, 0]
            if let bias { g.bias = (offset(bias), 1, 0) }
            return try gemm(g)
        }
        let n = ys.reduce(1, *)
        guard n > 0 else { return }
        let push: [UInt32] = [n, channels, height, width, outChannels, outHeight, outWidth, ws[2], ws[3],
                              stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], groups]
            .map { UInt32(truncatingIfNeeded: $0) }
            + [offset(x), offset(w), bias.map(offset) ?? 0, offset(y), bias == nil ? 0 : 1]
        let depthwise = groups == channels && ws[1] == 1 && groups > 1
        try dispatch(depthwise ? "depthwise_conv2d" : "conv2d", push, groups: Self.elementGroups(n))
    }

    /// `max_pool2d` (mode 0), `avg_pool2d` (1), adaptive average pooling (2) over the last two
    /// dims; output sizes come from the result's type.
    mutating func pool(_ node: Node, _ args: OpArguments<ValueID>, mode: UInt32) throws(GPUCompilerError) {
        let x = args.tensor("self"), y = node.results[0]
        let xs = try shape(x), ys = try shape(y)
        guard xs.count >= 3 else { throw error(.unsupportedOperand, "pooling input of rank \(xs.count) (expected 3 or 4)") }
        let (height, width) = (xs[xs.count - 2], xs[xs.count - 1])
        let (outHeight, outWidth) = (ys[ys.count - 2], ys[ys.count - 1])
        var kernel = [1, 1], stride = [1, 1], padding = [0, 0], dilation = [1, 1]
        var countIncludePad = 1, divisor = 0
        if mode != 2 {
            kernel = args.pair("kernel_size", or: [1, 1])
            stride = args.pair("stride", or: kernel)
            padding = args.pair("padding", or: [0, 0])
        }
        if mode == 0 { dilation = args.pair("dilation", or: [1, 1]) }
        if mode == 1 {
            countIncludePad = args.bool("count_include_pad") ? 1 : 0
            divisor = args.optionalInt("divisor_override") ?? 0
        }
        let n = ys.reduce(1, *)
        guard n > 0 else { return }
        let push: [UInt32] = [n, height, width, outHeight, outWidth, kernel[0], kernel[1], stride[0], stride[1],
                              padding[0], padding[1], dilation[0], dilation[1]].map { UInt32(truncatingIfNeeded: $0) }
            + [mode, UInt32(countIncludePad), UInt32(truncatingIfNeeded: divisor), offset(x), offset(y)]
        try dispatch("pool2d", push, groups: Self.elementGroups(n))
    }
}
