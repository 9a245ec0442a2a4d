import KilnKernels
import KilnOps
import KilnTensor
import Testing

/// Runs `entry` on `call`'s op, arguments and inputs as a loaded method would: fresh outputs,
/// the scratch the entry asks for (filled with NaN bytes), a pool of `threads`, and (when
/// `prepackEverything`) every input the entry's ``KernelPrepack`` packs, packed first, as if it
/// were a constant of the program. Returns the outputs.
func runKernel(_ entry: KernelEntry, _ call: KernelCall, threads: Int, prepackEverything: Bool) throws -> [Tensor] {
    let pool = ThreadPool(threads: threads)
    let outputs = try KernelCall.allocateOutputs(call.arguments, inputs: call.inputs)
    var packed: [UnsafeRawBufferPointer?] = []
    var owned: [UnsafeMutableRawBufferPointer] = []
    defer { for buffer in owned { buffer.deallocate() } }
    if prepackEverything, let prepack = entry.prepack {
        let probe = KernelCall(arguments: call.arguments, inputs: call.inputs, outputs: outputs, threadPool: pool)
        for index in call.inputs.indices {
            let bytes = prepack.bytes(probe, index)
            guard bytes > 0 else {
                packed.append(nil)
                continue
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
            buffer.initializeMemory(as: UInt8.self, repeating: 0xFF)
            prepack.pack(probe, index, buffer)
            owned.append(buffer)
            packed.append(UnsafeRawBufferPointer(buffer))
        }
    }
    let sized = KernelCall(arguments: call.arguments, inputs: call.inputs, outputs: outputs, threadPool: pool,
                           prepacked: packed)
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: entry.scratchBytes(sized), alignment: 64)
    defer { scratch.deallocate() }
    scratch.initializeMemory(as: UInt8.self, repeating: 0xFF)
    try entry.kernel(KernelCall(arguments: call.arguments, inputs: call.inputs, outputs: outputs, scratch: scratch,
                                threadPool: pool, prepacked: packed))
    return outputs
}
