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
            let call: KernelCall
            do { call = try c.makeCall(entry) } catch {
                counter.fail("\(entry.name) (\(c.label))", "cannot build the call: \(error)")
                continue
            }
            counter.measure("\(entry.name) (\(c.label))") { try entry.kernel(call) }
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
        let call: KernelCall
        do { call = try c.makeCall(entry, threads: pool, prepacking: true) } catch {
            counter.fail("\(entry.name) (\(c.label), 2 threads)", "cannot build the call: \(error)")
            continue
        }
        counter.measure("\(entry.name) (\(c.label), 2 threads, prepacked)") { try entry.kernel(call) }
    }

    // 4. Whole methods: Method.execute() on each Example, as the runtime runs any program, on
    //    one thread and on two.
    checkMethods(&counter)

    // 5. The verdict.
    if counter.failures.isEmpty {
        print("kiln-alloc-check: \(counter.measured) checks, none allocated")
        return 0
    }
    print("kiln-alloc-check: \(counter.failures.count) of \(counter.measured) checks allocated or failed:")
    for f in counter.failures { print("  \(f.name)") }
    return 1
}

#if DEBUG
// Unoptimized code calls generic library code unspecialized, which allocates where optimized code
// does not (each `OpArguments` lookup by name, for one): its counts say nothing about the runtime's.
print("kiln-alloc-check: this is a debug build; measure the optimized code: swift run -c release KilnAllocCheck")
exit(2)
#else
exit(runChecks())
#endif
