#if canImport(Glibc)
import Glibc
#endif
import KilnKernels

// kiln-alloc-check: proves that the hot paths make no heap allocations.
//
// Each check builds its work up front (as the runtime does at load time), runs it once to warm up,
// then counts the allocations of three more runs; any allocation fails the run. Add a check with
// `counter.measure(name) { ... }` in `runChecks`. `KILN_ALLOC_TRACE=<part of a check's name>`
// prints a stack trace for each allocation of the matching checks.
//
//     swift run -c release KilnAllocCheck

/// Runs every check; returns the exit status (0: nothing allocated).
func runChecks() -> Int32 {
    var counter = AllocationCounter()

    // 1. The counter itself must see allocations, or every 0 below would mean nothing.
    guard AllocationCounter.selfTest() else {
        print("kiln-alloc-check: the malloc counter saw no allocation from a new array; is it linked?")
        return 1
    }

    // 2. Every registered kernel, on at least one typical call each (uncovered kernels fail).
    for entry in KernelRegistry.entries {
        let cases = kernelCases.filter { $0.op == entry.op }
        if cases.isEmpty {
            counter.fail(entry.name, "no representative call in KernelCases.swift")
            continue
        }
        for c in cases {
            let call: PreparedKernelCall
            do { call = try c.makeCall(entry) } catch {
                counter.fail("\(entry.name) (\(c.label))", "cannot build the call: \(error)")
                continue
            }
            counter.measure("\(entry.name) (\(c.label))") { try call.run() }
        }
    }

    // 3. Kernels that split their work, on a pool of 2 threads with their constant inputs
    //    prepacked, as a method made with `threads: 2` runs them.
    let pool = ThreadPool(threads: 2)
    for c in parallelCases {
        guard let entry = KernelRegistry.entry(for: c.op) else {
            counter.fail("\(c.op) (\(c.label))", "no kernel")
            continue
        }
        let call: PreparedKernelCall
        do { call = try c.makeCall(entry, threads: pool, prepacking: true) } catch {
            counter.fail("\(entry.name) (\(c.label), 2 threads)", "cannot build the call: \(error)")
            continue
        }
        counter.measure("\(entry.name) (\(c.label), 2 threads, prepacked)") { try call.run() }
    }

    // 4. The int8 GEMM (no op uses it yet), with its workspace, on 1 and 2 threads.
    checkInt8Gemm(&counter, pool: pool)

    // 5. Whole methods: Method.execute() on each Example, as the runtime runs any program, on
    //    one thread and on two.
    checkMethods(&counter)

    // 6. The verdict.
    if counter.failures.isEmpty {
        print("kiln-alloc-check: \(counter.measured) checks, none allocated")
        return 0
    }
    print("kiln-alloc-check: \(counter.failures.count) of \(counter.measured) checks allocated or failed:")
    for f in counter.failures { print("  \(f.name)") }
    return 1
}

/// `Int8Gemm.multiply` on a signed and an unsigned `A` (64x512x512: large enough to split).
func checkInt8Gemm(_ counter: inout AllocationCounter, pool: ThreadPool) {
    let (m, n, k) = (64, 512, 512)
    let a = UnsafeMutablePointer<Int8>.allocate(capacity: m * k)
    let b = UnsafeMutablePointer<Int8>.allocate(capacity: k * n)
    let c = UnsafeMutablePointer<Int32>.allocate(capacity: m * n)
    for i in 0..<(m * k) { a[i] = Int8(truncatingIfNeeded: i &* 7919) }
    for i in 0..<(k * n) { b[i] = Int8(truncatingIfNeeded: i &* 104_729) }
    let storage = UnsafeMutableRawPointer.allocate(byteCount: Int8Gemm.packedBBytes(k: k, n: n), alignment: 64)
    let workspace = UnsafeMutableRawBufferPointer.allocate(byteCount: Int8Gemm.workspaceBytes(m: m, k: k), alignment: 64)
    let packed = Int8Gemm.packB(b, k: k, n: n, ldb: n, into: storage)
    let unsigned = UnsafeRawPointer(a).assumingMemoryBound(to: UInt8.self)
    for threads in [ThreadPool.serial, pool] {
        let label = "\(Int8Gemm.kernelName()) (\(m)x\(n)x\(k), \(threads.threadCount) thread\(threads.threadCount == 1 ? "" : "s"))"
        counter.measure("\(label), s8") {
            Int8Gemm.multiply(m: m, a: a, lda: k, b: packed, c: c, ldc: n, workspace: workspace, threads: threads)
        }
        counter.measure("\(label), u8") {
            Int8Gemm.multiply(m: m, a: unsigned, lda: k, b: packed, c: c, ldc: n, workspace: workspace, threads: threads)
        }
    }
}

#if DEBUG
// Unoptimized code calls generic library code unspecialized, which allocates where optimized code
// does not (each `OpArguments` lookup by name, for one): its counts say nothing about the runtime's.
print("kiln-alloc-check: this is a debug build; measure the optimized code: swift run -c release KilnAllocCheck")
exit(2)
#else
exit(runChecks())
#endif
