/// Shape arithmetic on concrete dims: element counts that cannot overflow silently,
/// strides for a dim order, and the NumPy/PyTorch broadcasting rule.
public enum Shape {
    /// The number of elements of `dims`, or an error naming the shape when a dim is negative
    /// or the product overflows.
    public static func elementCount(_ dims: [Int]) throws -> Int {
        var count = 1
        for d in dims {
            guard d >= 0 else {
                throw TensorError(.invalidShape, "shape \(dims) has a negative dimension")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw TensorError(.sizeOverflow, "shape \(dims) has more elements than fit in a 64-bit count")
            }
            count = product
        }
        return count
    }

    /// The number of bytes of a dense tensor of `dims` and `dtype`, checked for overflow.
    public static func byteCount(_ dims: [Int], dtype: DType) throws -> Int {
        let count = try elementCount(dims)
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw TensorError(.sizeOverflow, "shape \(dims) of \(dtype) needs more bytes than fit in a 64-bit count")
        }
        return bytes
    }

    /// The identity dim order `[0, 1, ..., rank-1]` (row-major, "contiguous").
    public static func contiguousDimOrder(rank: Int) -> [Int] { Array(0..<rank) }

    /// Element strides of a dense tensor laid out in `dimOrder` (outermost dim first).
    ///
    /// ```swift
    /// Shape.strides([2, 3, 4, 5], dimOrder: [0, 2, 3, 1])   // channels-last: [60, 1, 15, 3]
    /// ```
    public static func strides(_ dims: [Int], dimOrder: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: dims.count)
        var running = 1
        for axis in dimOrder.reversed() {
            strides[axis] = running
            running &*= Swift.max(dims[axis], 1)
        }
        return strides
    }

    /// Checks that `dimOrder` is a permutation of `0..<rank`.
    public static func validateDimOrder(_ dimOrder: [Int], rank: Int) throws {
        guard dimOrder.count == rank, Set(dimOrder) == Set(0..<rank) else {
            throw TensorError(.invalidShape, "dim order \(dimOrder) is not a permutation of 0..<\(rank)")
        }
    }

    /// Broadcasts two shapes by the NumPy rule: align trailing dims; each pair must be equal or
    /// contain a 1.
    ///
    /// Generic over the dim type so concrete shapes (`Int`) and symbolic ones share one rule.
    /// ```swift
    /// try Shape.broadcast([8, 1, 6], [7, 1])   // [8, 7, 6]
    /// ```
    public static func broadcast<D: BroadcastableDim>(_ a: [D], _ b: [D]) throws -> [D] {
        let rank = Swift.max(a.count, b.count)
        var result: [D] = []
        result.reserveCapacity(rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? nil : a[i - (rank - a.count)]
            let db = i < rank - b.count ? nil : b[i - (rank - b.count)]
            switch (da, db) {
            case let (x?, y?):
                if x == y || y.isOne { result.append(x) }
                else if x.isOne { result.append(y) }
                else {
                    throw TensorError(.broadcast,
                                      "shapes \(a) and \(b) do not broadcast: dim \(i - rank) is \(x) vs \(y)")
                }
            case let (x?, nil): result.append(x)
            case let (nil, y?): result.append(y)
            case (nil, nil): break
            }
        }
        return result
    }
}

/// A dimension the broadcasting rule can reason about: equality, and whether it is exactly 1.
public protocol BroadcastableDim: Equatable, CustomStringConvertible {
    /// True when the dim is known to be exactly one.
    var isOne: Bool { get }
}

extension Int: BroadcastableDim {
    public var isOne: Bool { self == 1 }
}
