import KilnIR
import KilnOps

/// Row-wise ops (softmax, norms), elementwise arithmetic and layout.
extension GPUDispatchBuilder {
    /// `_softmax`, `softmax.int`, and the log forms, along any dim.
    mutating func softmax(_ node: Node, _ args: OpArguments<ValueID>, log: Bool) throws(GPUCompilerError) {
        let x = args.tensor("self"), xs = try shape(x)
        if node.op.parameterIndex("dtype") != nil, case .dtype(let d) = args["dtype"], d != .float32 {
            throw error(.unsupportedOperand, "softmax in \(d) (the GPU backend computes float32)")
        }
        let dim = try normalized(args.int("dim"), rank: xs.count)
        let dims = xs.isEmpty ? [1] : xs
        let outer = dims[..<dim].reduce(1, *), length = dims[dim], inner = dims[(dim + 1)...].reduce(1, *)
        let rows = outer * inner
        guard rows > 0, length > 0 else { return }
        try dispatch("softmax", [UInt32(rows), UInt32(length), UInt32(inner), offset(x), offset(node.results[0]), log ? 1 : 0],
                     groups: Self.spread(rows))
    }

    /// `rms_norm`, `layer_norm`, `native_layer_norm` (which also writes mean and 1/std).
    mutating func norm(_ node: Node, _ args: OpArguments<ValueID>, rms: Bool) throws(GPUCompilerError) {
        let x = args.tensor("input"), xs = try shape(x)
        let length = args.intList("normalized_shape").reduce(1, *)
        let rows = length == 0 ? 0 : xs.reduce(1, *) / length
        guard rows > 0 else { return }
        let weight = args.optionalTensor("weight")
        let bias = rms ? nil : args.optionalTensor("bias")
        let eps = rms ? (args.optionalFloat("eps") ?? Double(Float.ulpOfOne)) : args.float("eps")
        let stats = node.results.count == 3
        var flags: UInt32 = 0
        if weight != nil { flags |= 1 }
        if bias != nil { flags |= 2 }
        if stats { flags |= 4 }
        let push: [UInt32] = [UInt32(rows), UInt32(length), offset(x), offset(node.results[0]), weight.map(offset) ?? 0,
                              bias.map(offset) ?? 0, stats ? offset(node.results[1]) : 0, stats ? offset(node.results[2]) : 0,
                              flags, rms ? 1 : 0, Float(eps).bitPattern]
        try dispatch("norm", push, groups: Self.spread(rows))
    }

    /// `gelu`, exact (erf) or tanh-approximated.
    mutating func gelu(_ node: Node, _ args: OpArguments<ValueID>) throws(GPUCompilerError) {
        let approximate = args.string("approximate")
        guard approximate == "none" || approximate == "tanh" else {
            throw error(.unsupportedOperand, "gelu approximate='\(approximate)' (expected 'none' or 'tanh')")
        }
        try unary(n: count(node.results[0]), src: offset(node.operands[0]), dst: offset(node.results[0]),
                  op: approximate == "tanh" ? 3 : 2)
    }

    /// `hardtanh`, `clamp`: `min(max(x, lo), hi)`.
    mutating func clamp(_ node: Node, min lo: Double, max hi: Double) throws(GPUCompilerError) {
        try unary(n: count(node.results[0]), src: offset(node.operands[0]), dst: offset(node.results[0]), op: 7,
                  a: Float(lo), b: Float(hi))
    }

    /// `add/sub/mul/div.Scalar`: `x * a + b` (or `x / a`) in unary.comp.
    mutating func scalarArithmetic(_ node: Node, _ args: OpArguments<ValueID>, op: UInt32) throws(GPUCompilerError) {
        let other = args.scalar("other").value
        let alpha = node.op.parameterIndex("alpha") != nil ? args.scalar("alpha").value : 1
        let (code, a, b): (UInt32, Double, Double)
        switch op {
        case 0: (code, a, b) = (8, 1, alpha * other)
        case 1: (code, a, b) = (8, 1, -alpha * other)
        case 2: (code, a, b) = (8, other, 0)
        default: (code, a, b) = (9, other, 0)
        }
        try unary(n: count(node.results[0]), src: offset(args.tensor("self")), dst: offset(node.results[0]), op: code,
                  a: Float(a), b: Float(b))
    }

    /// `add/sub/mul/div.Tensor` with broadcasting (binary.comp).
    mutating func binary(_ node: Node, _ args: OpArguments<ValueID>, op: UInt32) throws(GPUCompilerError) {
        let a = args.tensor("self"), b = args.tensor("other"), y = node.results[0]
        let ys = Self.padded(try shape(y), 1)
        let n = ys.reduce(1, *)
        guard n > 0 else { return }
        func broadcastStrides(_ v: ValueID) throws(GPUCompilerError) -> [UInt32] {
            let s = Self.padded(try shape(v), 1), st = Self.padded(Self.strides(try shape(v)), 0)
            return (0..<4).map { s[$0] == 1 ? 0 : UInt32(st[$0]) }
        }
        let alpha = node.op.parameterIndex("alpha") != nil ? Float(args.scalar("alpha").value) : 1
        let push: [UInt32] = [UInt32(n), offset(a), offset(b), offset(y), op, alpha.bitPattern,
                              UInt32(ys[1]), UInt32(ys[2]), UInt32(ys[3])] + (try broadcastStrides(a)) + (try broadcastStrides(b))
        try dispatch("binary", push, groups: Self.elementGroups(n))
    }

    /// `permute_copy`: result dim i is input dim `dims[i]`.
    mutating func permute(_ node: Node, _ x: ValueID, _ dims: [Int]) throws(GPUCompilerError) {
        let xs = try shape(x), strides = Self.strides(xs)
        var order: [Int] = []
        for d in dims { order.append(try normalized(d, rank: xs.count)) }
        guard order.count == xs.count, Set(order).count == order.count else {
            throw error(.unsupportedOperand, "dims \(dims) is not a permutation of \(xs.count) dims")
        }
        let y = node.results[0]
        try copy(dims: order.map { xs[$0] }, src: offset(x), srcStrides: order.map { strides[$0] },
                 dst: offset(y), dstStrides: Self.strides(try shape(y)))
    }

    /// `transpose.int`: a permutation swapping two dims.
    mutating func transpose(_ node: Node, _ args: OpArguments<ValueID>) throws(GPUCompilerError) {
        let x = args.tensor("self"), rank = try shape(x).count
        var order = Array(0..<rank)
        if rank > 0 { order.swapAt(try normalized(args.int("dim0"), rank: rank), try normalized(args.int("dim1"), rank: rank)) }
        try permute(node, x, order)
    }

    /// `slice_copy.Tensor`: start, step and length along one dim (Python slice rules; the
    /// length from the result's type).
    mutating func slice(_ node: Node, _ args: OpArguments<ValueID>) throws(GPUCompilerError) {
        let x = args.tensor("self"), xs = try shape(x), y = node.results[0], ys = try shape(y)
        let dim = try normalized(args.int("dim"), rank: xs.count)
        var start = args.optionalInt("start") ?? 0
        if start < 0 { start += xs[dim] }
        start = min(max(start, 0), xs[dim])
        let step = args.int("step")
        guard step > 0 else { throw error(.unsupportedOperand, "slice step \(step) (expected positive)") }
        var strides = Self.strides(xs)
        let src = offset(x) + UInt32(start * strides[dim])
        strides[dim] *= step
        try copy(dims: ys, src: src, srcStrides: strides, dst: offset(y), dstStrides: Self.strides(ys))
    }

    /// `cat`: one strided copy per non-empty input into its slab of the result.
    mutating func cat(_ node: Node, _ args: OpArguments<ValueID>) throws(GPUCompilerError) {
        let y = node.results[0], ys = try shape(y), yStrides = Self.strides(ys)
        let dim = try normalized(args.int("dim"), rank: ys.count)
        var at = 0
        for t in args.tensorList("tensors") {
            let ts = try shape(t)
            guard ts.reduce(1, *) > 0, ts.count == ys.count else { continue }
            try copy(dims: ts, src: offset(t), srcStrides: Self.strides(ts), dst: offset(y) + UInt32(at * yStrides[dim]),
                     dstStrides: yStrides)
            at += ts[dim]
        }
    }
}
