import KilnKernels

/// A copy between a delegate argument (a contiguous Kiln tensor) and XNNPACK's view of it with
/// permuted dims: the NCHW ↔ NHWC conversion at a partition boundary, planned by the compiler
/// (``XNNPACKSchema/XNNValue/permutation``) and done here, by Kiln's strided copy, because the
/// 2022 XNNPACK has no transpose node. The strides are worked out at initialization;
/// ``run(from:to:)`` does not allocate.
final class LayoutTransposer {
    /// Dims of the destination, and for each the stride (in elements) of the source and of the
    /// (contiguous) destination.
    private let dims: [Int]
    private let sourceStrides: [Int]
    private let destinationStrides: [Int]
    private let elementSize: Int

    /// A copy from a tensor of `sourceDims` to its permutation (`dest[i] = source[permutation[i]]`),
    /// or, with `inverse`, from the permuted tensor back to `sourceDims` order.
    init(sourceDims: [Int], permutation: [Int], inverse: Bool, elementSize: Int) {
        self.elementSize = elementSize
        let rank = sourceDims.count
        func contiguous(_ dims: [Int]) -> [Int] {
            var strides = [Int](repeating: 1, count: dims.count)
            for i in stride(from: dims.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * dims[i + 1] }
            return strides
        }
        let permuted = permutation.map { sourceDims[$0] }
        if inverse {
            // Source is the permuted tensor; destination has `sourceDims`.
            let permutedStrides = contiguous(permuted)
            var strides = [Int](repeating: 0, count: rank)
            for (i, p) in permutation.enumerated() { strides[p] = permutedStrides[i] }
            (dims, sourceStrides) = (sourceDims, strides)
        } else {
            let strides = contiguous(sourceDims)
            (dims, sourceStrides) = (permuted, permutation.map { strides[$0] })
        }
        destinationStrides = contiguous(dims)
    }

    /// Copies every element of `source` to its place in `destination` (both `count * elementSize` bytes).
    func run(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer) {
        dims.withUnsafeBufferPointer { shape in
            sourceStrides.withUnsafeBufferPointer { from in
                destinationStrides.withUnsafeBufferPointer { to in
                    StridedCopy.copy(shape: shape, elementSize: elementSize, from: source, strides: from,
                                     to: destination, strides: to)
                }
            }
        }
    }
}
