import KilnKernels
import KilnOps
import KilnTensor
import Testing

/// Runs `entry` on `call`'s op, arguments and inputs as a loaded method would: fresh outputs,
/// the scratch the entry asks for (filled with NaN bytes), a pool of `threads`, and (when
/// `prepackEverything`) every input the entry's ``KernelPrepack`` packs, packed first, as if it
/// were a constant of the program. Returns the outputs.
func runKernel(_ entry: KernelEntry, _ call: KernelCall, threads: Int, prepackEverything: Bool) throws -> [Tensor] {
    let prepared = try PreparedKernelCall(entry, arguments: call.arguments, inputs: call.inputs,
                                          threadPool: ThreadPool(threads: threads), prepacking: prepackEverything,
                                          fill: 0xFF)
    try prepared.run()
    return prepared.call.outputs
}
