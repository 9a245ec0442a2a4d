#if canImport(Glibc)
import Glibc
#endif
import CKilnMallocCounter

/// Counts the heap allocations of a piece of code, with the counting allocator of
/// `CKilnMallocCounter` (linked into this executable only).
///
/// ```swift
/// var counter = AllocationCounter()
/// try counter.measure("f32_relu__portable") { try entry.kernel(call) }
/// if !counter.failures.isEmpty { exit(1) }
/// ```
struct AllocationCounter {
    /// Runs of `body` counted per measurement, after one uncounted warm-up run.
    var repeats = 3
    /// The names whose measured runs allocated, with their counts.
    private(set) var failures: [(name: String, allocations: Int)] = []
    /// How many measurements ran.
    private(set) var measured = 0
    /// Measurements whose name contains this (`KILN_ALLOC_TRACE`) print a stack trace for each
    /// counted allocation, to stderr (symbolize with `llvm-symbolizer` or `swift demangle`).
    var traceFilter: String? = getenv("KILN_ALLOC_TRACE").map { String(cString: $0) }

    /// Allocations made by `body` since the last reset.
    static var count: Int { Int(kiln_malloc_count()) }

    /// Runs `body` once to warm up (lazy globals, first-use caches), then `repeats` times counting
    /// the allocations of those runs only, and prints `name: N allocations`.
    ///
    /// This is the extension point for every zero-allocation check: a kernel call, or a whole
    /// `Method.execute()` once it exists. An error thrown by `body` counts as a failure.
    /// - Returns: the allocations of the counted runs.
    @discardableResult
    mutating func measure(_ name: String, _ body: () throws -> Void) -> Int {
        measured += 1
        do {
            try body()
            let trace = traceFilter.map { !$0.isEmpty && name.contains($0) } ?? false
            kiln_malloc_reset()
            if trace { kiln_malloc_trace(1) }
            defer { kiln_malloc_trace(0) }
            for _ in 0..<repeats { try body() }
        } catch {
            measured -= 1
            fail(name, "\(error)")
            return -1
        }
        let allocations = Self.count
        print("\(name): \(allocations) allocation\(allocations == 1 ? "" : "s")")
        if allocations != 0 { failures.append((name, allocations)) }
        return allocations
    }

    /// Records a check that could not run (its setup failed), as a failure.
    mutating func fail(_ name: String, _ reason: String) {
        measured += 1
        print("\(name): FAILED: \(reason)")
        failures.append((name, -1))
    }

    /// Checks that the counter sees allocations at all: a fresh array must count.
    static func selfTest() -> Bool {
        kiln_malloc_reset()
        // Stored in a global, so the optimizer cannot put the array on the stack.
        selfTestSink = [Int](repeating: 7, count: 100)
        return count >= 1 && selfTestSink[99] == 7
    }

    nonisolated(unsafe) private static var selfTestSink: [Int] = []
}
