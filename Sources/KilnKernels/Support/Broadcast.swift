/// Walking an output shape while reading inputs broadcast to it.
///
/// Each input is described by its element strides in the output's index space (0 on a dim it
/// is broadcast along), so one odometer serves any number of inputs. Strides and the odometer
/// live in temporary stack memory (``withTemporaryInts(_:_:)``): walking allocates nothing.
enum Broadcast {
    /// Writes the row-major strides of `shape` viewed from `outShape` into `strides`
    /// (`outShape.count` elements): right-aligned, 0 where `shape` has size 1 (or no dim) and
    /// `outShape` does not.
    static func strides(of shape: [Int], in outShape: [Int], into strides: UnsafeMutableBufferPointer<Int>) {
        precondition(strides.count == outShape.count && shape.count <= outShape.count,
                     "Broadcast.strides: \(shape) does not fit \(outShape)")
        strides.update(repeating: 0)
        var running = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let o = outShape.count - shape.count + i
            strides[o] = shape[i] == 1 && outShape[o] != 1 ? 0 : running
            running *= shape[i]
        }
    }

    /// Calls `body(outIndex, aIndex, bIndex)` for every element of `outShape`, in row-major order,
    /// with `a` and `b` (shapes that broadcast to `outShape`) read at their broadcast strides.
    @inline(__always)
    static func forEach(_ outShape: [Int], broadcasting a: [Int], _ b: [Int], _ body: (Int, Int, Int) -> Void) {
        let rank = outShape.count
        withTemporaryInts(rank, rank) { sa, sb in
            strides(of: a, in: outShape, into: sa)
            strides(of: b, in: outShape, into: sb)
            outShape.withUnsafeBufferPointer { shape in
                forEach(shape, UnsafeBufferPointer(sa), UnsafeBufferPointer(sb), body)
            }
        }
    }

    /// Calls `body(outIndex, aIndex, bIndex)` for every element of `outShape`, in row-major order,
    /// stepping `a` and `b` by the given strides (one per dim of `outShape`). The innermost dim
    /// runs as a plain loop.
    @inline(__always)
    static func forEach(_ outShape: UnsafeBufferPointer<Int>, _ a: UnsafeBufferPointer<Int>,
                        _ b: UnsafeBufferPointer<Int>, _ body: (Int, Int, Int) -> Void) {
        let rank = outShape.count
        var total = 1
        for d in 0..<rank { total *= outShape[d] }
        if total == 0 { return }
        if rank == 0 { body(0, 0, 0); return }
        let inner = outShape[rank - 1], sa = a[rank - 1], sb = b[rank - 1]
        withTemporaryInts(rank) { index in
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
}
