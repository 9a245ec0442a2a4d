/// Small integer working memory for kernels, which must not allocate on the heap: shapes, strides
/// and odometer indices, on the stack.
///
/// Each function carves its buffers (zero-filled) out of one `withUnsafeTemporaryAllocation`,
/// which the standard library places on the stack unless it is large (about 1 KiB, far beyond
/// any tensor's rank), so any rank works and none allocates in practice.
///
/// ```swift
/// withTemporaryInts(rank, rank) { shape, strides in
///     for d in 0..<rank { shape[d] = x.shape[order[d]] }
///     ...
/// }
/// ```
@inline(__always)
func withTemporaryInts<R, E: Error>(_ count: Int,
                                    _ body: (UnsafeMutableBufferPointer<Int>) throws(E) -> R) throws(E) -> R {
    try withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { (all) throws(E) -> R in
        all.initialize(repeating: 0)
        return try body(all)
    }
}

/// Two zero-filled Int buffers of `count0` and `count1` elements; see ``withTemporaryInts(_:_:)``.
@inline(__always)
func withTemporaryInts<R, E: Error>(
    _ count0: Int, _ count1: Int,
    _ body: (UnsafeMutableBufferPointer<Int>, UnsafeMutableBufferPointer<Int>) throws(E) -> R
) throws(E) -> R {
    try withTemporaryInts(count0 + count1) { (all) throws(E) -> R in
        try body(all.part(0, count0), all.part(count0, count1))
    }
}

/// Three zero-filled Int buffers; see ``withTemporaryInts(_:_:)``.
@inline(__always)
func withTemporaryInts<R, E: Error>(
    _ count0: Int, _ count1: Int, _ count2: Int,
    _ body: (UnsafeMutableBufferPointer<Int>, UnsafeMutableBufferPointer<Int>,
             UnsafeMutableBufferPointer<Int>) throws(E) -> R
) throws(E) -> R {
    try withTemporaryInts(count0 + count1 + count2) { (all) throws(E) -> R in
        try body(all.part(0, count0), all.part(count0, count1), all.part(count0 + count1, count2))
    }
}

/// Four zero-filled Int buffers; see ``withTemporaryInts(_:_:)``.
@inline(__always)
func withTemporaryInts<R, E: Error>(
    _ count0: Int, _ count1: Int, _ count2: Int, _ count3: Int,
    _ body: (UnsafeMutableBufferPointer<Int>, UnsafeMutableBufferPointer<Int>,
             UnsafeMutableBufferPointer<Int>, UnsafeMutableBufferPointer<Int>) throws(E) -> R
) throws(E) -> R {
    try withTemporaryInts(count0 + count1 + count2 + count3) { (all) throws(E) -> R in
        try body(all.part(0, count0), all.part(count0, count1), all.part(count0 + count1, count2),
                 all.part(count0 + count1 + count2, count3))
    }
}

extension UnsafeMutableBufferPointer {
    /// The `count` elements from `start`, as a buffer indexed from 0.
    @inline(__always)
    func part(_ start: Int, _ count: Int) -> UnsafeMutableBufferPointer {
        UnsafeMutableBufferPointer(rebasing: self[start..<(start + count)])
    }
}
