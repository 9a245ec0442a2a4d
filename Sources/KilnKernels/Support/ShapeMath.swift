/// Shape arithmetic that builds no arrays, for the success paths of kernels (which must not
/// allocate): strides into caller-provided buffers, products of dims, and output-shape checks
/// that compare in place what `Array(x.shape.dropLast()) + [n]` would have built.
enum ShapeMath {
    /// Row-major element strides of `shape`, written into `strides` (same count); a size-0 dim
    /// counts as 1, as ``KilnTensor/Shape/strides(_:dimOrder:)`` does.
    @inline(__always)
    static func contiguousStrides(of shape: [Int], into strides: UnsafeMutableBufferPointer<Int>) {
        var running = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = running
            running &*= Swift.max(shape[d], 1)
        }
    }

    /// The product of `shape[range]` (1 for an empty range).
    @inline(__always)
    static func product(_ shape: [Int], _ range: Range<Int>) -> Int {
        var n = 1
        for d in range { n *= shape[d] }
        return n
    }

    /// True when `shape` broadcasts to `outShape`: right-aligned, each of its dims 1 or equal.
    static func broadcasts(_ shape: [Int], to outShape: [Int]) -> Bool {
        let offset = outShape.count - shape.count
        guard offset >= 0 else { return false }
        for d in 0..<shape.count where shape[d] != 1 && shape[d] != outShape[offset + d] { return false }
        return true
    }

    /// True when `shape == prefix[..<prefixCount] + [last]`.
    @inline(__always)
    static func shape(_ shape: [Int], is prefix: [Int], upTo prefixCount: Int, then last: Int) -> Bool {
        guard shape.count == prefixCount + 1, shape[prefixCount] == last else { return false }
        for d in 0..<prefixCount where shape[d] != prefix[d] { return false }
        return true
    }

    /// True when `shape == prefix[..<prefixCount] + [secondLast, last]`.
    @inline(__always)
    static func shape(_ shape: [Int], is prefix: [Int], upTo prefixCount: Int,
                      then secondLast: Int, _ last: Int) -> Bool {
        guard shape.count == prefixCount + 2, shape[prefixCount] == secondLast,
              shape[prefixCount + 1] == last else { return false }
        for d in 0..<prefixCount where shape[d] != prefix[d] { return false }
        return true
    }

    /// True when `shape == base` with `base[dim]` replaced by `size`.
    static func shape(_ shape: [Int], is base: [Int], withDim dim: Int, resizedTo size: Int) -> Bool {
        guard shape.count == base.count else { return false }
        for d in 0..<base.count where shape[d] != (d == dim ? size : base[d]) { return false }
        return true
    }

    /// True when `shape` is `base` permuted by `order`: `shape[d] == base[order[d]]` for every `d`.
    static func shape(_ shape: [Int], is base: [Int], permutedBy order: UnsafeMutableBufferPointer<Int>) -> Bool {
        guard shape.count == base.count, order.count == base.count else { return false }
        for d in 0..<base.count where shape[d] != base[order[d]] { return false }
        return true
    }
}
