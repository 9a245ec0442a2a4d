#if canImport(Glibc)
import Glibc
#endif
import KilnEmit
import KilnExamples
import KilnRuntime
import KilnTensor

/// Whole programs: each Example compiled, loaded as the runtime loads any `.pte` (on one thread
/// and on two), its input set, then `execute()` measured plainly and with per-instruction
/// profiling on.
func checkMethods(_ counter: inout AllocationCounter) {
    for name in ExampleModels.Name.allCases {
        for threads in [1, 2] {
            checkMethod(name, threads: threads, &counter)
        }
    }
}

private func checkMethod(_ name: ExampleModels.Name, threads: Int, _ counter: inout AllocationCounter) {
    let label = "Method.execute (\(name.rawValue)\(threads > 1 ? ", \(threads) threads" : ""))"
    let method: Method
    do {
        let model = try ExampleModels.build(name)
        let path = "/tmp/kiln-alloc-check-\(getpid())-\(name.rawValue).pte"
        try FileIO.writeAtomically(try KilnCompiler.compile(model.graph).bytes, to: path)
        defer { unlink(path) }
        method = try Program.load(path: path).method(threads: threads)
        try method.setInput(model.input, at: 0)
    } catch {
        counter.fail(label, "cannot prepare the program: \(error)")
        return
    }
    counter.measure(label) { try method.execute() }
    method.isProfiling = true
    counter.measure("\(label), profiled") { try method.execute() }
}
