/// Working memory for a kernel call, from ``KernelCall/scratch``.
///
/// The runtime sizes each call's scratch by its entry's ``KernelEntry/scratchBytes`` once, at load
/// time, so a kernel run from the runtime never allocates. A direct call (tests, the evaluator)
/// passes no scratch; the kernel then allocates the buffer for that call only.
///
/// ```swift
/// KernelEntry(op: "mean.dim", name: "...", scratchBytes: { Scratch.bytes(Double.self, count: $0.outputs[0].elementCount) },
///             kernel: meanDim)
/// try Scratch.with(call, Double.self, count: out.elementCount) { sums in ... }
/// ```
enum Scratch {
    /// The bytes `count` elements of `T` take, as a ``KernelEntry/scratchBytes`` answer.
    static func bytes<T>(_: T.Type, count: Int) -> Int {
        Swift.max(count, 0) * MemoryLayout<T>.stride
    }

    /// Calls `body` with `count` uninitialized elements of `T`: the start of the call's scratch
    /// when it is large enough (and aligned for `T`), else memory allocated for this call only.
    @inline(__always)
    static func with<T, R, E: Error>(_ call: KernelCall, _: T.Type, count: Int,
                                     _ body: (UnsafeMutableBufferPointer<T>) throws(E) -> R) throws(E) -> R {
        let count = Swift.max(count, 0)
        if count == 0 { return try body(UnsafeMutableBufferPointer(start: nil, count: 0)) }
        // 1. The caller's scratch, when it holds the buffer.
        if call.scratch.count >= bytes(T.self, count: count), let base = call.scratch.baseAddress,
           Int(bitPattern: base) % MemoryLayout<T>.alignment == 0 {
            return try body(UnsafeMutableBufferPointer(start: base.bindMemory(to: T.self, capacity: count), count: count))
        }
        // 2. No (or too little) scratch: allocate for this call.
        let owned = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
        defer { owned.deallocate() }
        return try body(owned)
    }
}
