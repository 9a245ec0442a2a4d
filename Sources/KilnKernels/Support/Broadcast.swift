/// Walking an output shape while reading inputs broadcast to it.
///
/// Each input is described by its element strides in the output's index space (0 on a dim it
/// is broadcast along), so one odometer serves any number of inputs.
enum Broadcast {
    /// Row-major strides of `shape` viewed from `outShape`: right-aligned, 0 where `shape` has
    /// size 1 (or no dim) and `outShape` does not.
    static func strides(of shape: [Int], in outShape: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: outShape.count)
        var running = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let o = outShape.count - shape.count + i
            strides[o] = shape[i] == 1 && outShape[o] != 1 ? 0 : running
            running *= shape[i]
        }
        return strides
    }

    /// Calls `body(outIndex, aIndex, bIndex)` for every element of `outShape`, in row-major order.
    /// The innermost dim runs as a plain loop.
    @inline(__always)
    static func forEach(_ outShape: [Int], _ a: [Int], _ b: [Int], _ body: (Int, Int, Int) -> Void) {
        let rank = outShape.count
        let total = outShape.reduce(1, *)
        if total == 0 { return }
        if rank == 0 { body(0, 0, 0); return }
        let inner = outShape[rank - 1], sa = a[rank - 1], sb = b[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var (ia, ib) = (0, 0)
        var out = 0
        while out < total {
            for j in 0..<inner { body(out + j, ia + j * sa, ib + j * sb) }
            out += inner
            // Advance the odometer over the outer dims.
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                ia += a[d]
                ib += b[d]
                if index[d] < outShape[d] { break }
                ia -= a[d] * outShape[d]
                ib -= b[d] * outShape[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}
