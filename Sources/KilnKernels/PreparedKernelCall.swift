import KilnOps
import KilnTensor

/// A kernel call ready to run again and again, as a loaded method runs it: fresh outputs, the
/// scratch its entry asks for and, with `prepacking`, every input the entry's ``KernelPrepack``
/// packs, packed once as if it were a constant of the program. It owns that memory.
///
/// For tools that drive kernels directly (benchmarks, the allocation check, kernel tests); a
/// loaded `Method` does the same with memory planned for the whole program.
///
/// ```swift
/// let prepared = try PreparedKernelCall(entry, arguments: args, inputs: [x, w, b], prepacking: true)
/// try prepared.run()
/// print(prepared.call.outputs[0])
/// ```
public final class PreparedKernelCall {
    public let entry: KernelEntry
    /// The call the kernel runs, with its outputs, scratch, pool and packed inputs.
    public let call: KernelCall
    private var owned: [UnsafeMutableRawBufferPointer] = []

    /// - Parameters:
    ///   - fill: a byte written over the scratch and packed buffers before use (e.g. 0xFF, NaN
    ///     bytes, so that a kernel reading memory it never wrote shows up in its results).
    /// - Throws: ``KernelError`` when the arguments break the op's rules.
    public init(_ entry: KernelEntry, arguments: OpArguments<Int>, inputs: [Tensor], threadPool: ThreadPool = .serial,
                prepacking: Bool, fill: UInt8? = nil) throws(KernelError) {
        self.entry = entry
        let outputs = try KernelCall.allocateOutputs(arguments, inputs: inputs)
        var buffers: [UnsafeMutableRawBufferPointer] = []
        func allocate(_ bytes: Int) -> UnsafeMutableRawBufferPointer {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
            if let fill { buffer.initializeMemory(as: UInt8.self, repeating: fill) }
            buffers.append(buffer)
            return buffer
        }
        var packed: [UnsafeRawBufferPointer?] = []
        if prepacking, let prepack = entry.prepack {
            let probe = KernelCall(arguments: arguments, inputs: inputs, outputs: outputs, threadPool: threadPool)
            for index in inputs.indices {
                let bytes = prepack.bytes(probe, index)
                guard bytes > 0 else {
                    packed.append(nil)
                    continue
                }
                let buffer = allocate(bytes)
                prepack.pack(probe, index, buffer)
                packed.append(UnsafeRawBufferPointer(buffer))
            }
        }
        let sized = KernelCall(arguments: arguments, inputs: inputs, outputs: outputs, threadPool: threadPool,
                               prepacked: packed)
        let scratch = allocate(entry.scratchBytes(sized))
        call = KernelCall(arguments: arguments, inputs: inputs, outputs: outputs, scratch: scratch,
                          threadPool: threadPool, prepacked: packed)
        owned = buffers
    }

    deinit {
        for buffer in owned { buffer.deallocate() }
    }

    /// Runs the kernel on ``call``.
    public func run() throws(KernelError) { try entry.kernel(call) }
}
