import KilnPTE
import KilnRuntime
import KilnTensor

#if canImport(Glibc)
import Glibc
#endif

/// The GPU backend's runtime (delegate id `KilnGPU`): runs `GPUCompiler`'s payloads with Vulkan
/// compute on the first device with a compute queue (a real GPU, else Mesa's lavapipe on the
/// CPU). Without a Vulkan device it reports itself unavailable, and a program delegating to it
/// fails to load naming it.
///
/// ```swift
/// BackendRegistry.shared.register(GPURuntime())
/// if let why = GPURuntime.unavailableReason { print("no GPU backend:", why) }
/// ```
public final class GPURuntime: BackendRuntime, @unchecked Sendable {
    public let id = "KilnGPU"
    /// A context to use instead of the process's (tests stand in a missing device).
    private let override: Result<VulkanContext, GPURuntimeError>?

    /// The runtime on the process's Vulkan device (made on first use, not here: registering
    /// the backend costs nothing until a program needs it).
    public init() { override = nil }

    init(context: Result<VulkanContext, GPURuntimeError>) { override = context }

    private var context: Result<VulkanContext, GPURuntimeError> { override ?? VulkanContext.shared }

    /// Why the backend cannot run here (no Vulkan instance, no compute device), or nil when it can.
    public static var unavailableReason: String? {
        if case .failure(let e) = VulkanContext.shared { return e.message }
        return nil
    }

    /// The Vulkan device the backend runs on, or nil when there is none.
    public static var deviceName: String? { try? VulkanContext.shared.get().deviceName }

    public var isAvailable: Bool {
        if case .success = context { return true }
        return false
    }

    public func initialize(payload: UnsafeRawBufferPointer, compileSpecs: [PTE.CompileSpec],
                           context: BackendInitContext) throws -> BackendHandle {
        let vk = try self.context.get()
        let start = monotonicNanoseconds()
        let exe = try GPUExecutable(payload: try GPUPayload(decoding: payload), context: vk) { key in
            try context.namedData(key: key)
        }
        context.profiler.record("gpu_initialize", nanoseconds: monotonicNanoseconds() - start, context: context)
        return exe
    }

    public func execute(_ handle: BackendHandle, arguments: BackendArguments, context: BackendExecuteContext) throws {
        guard let exe = handle as? GPUExecutable else {
            throw GPURuntimeError(.arguments, "the delegate's handle is not a GPU executable")
        }
        let inputs = exe.payload.inputs.count, outputs = exe.payload.outputs.count
        guard arguments.count == inputs + outputs else {
            throw GPURuntimeError(.arguments, "the delegate call passes \(arguments.count) arguments, "
                                  + "the payload has \(inputs) inputs and \(outputs) outputs")
        }
        for i in 0..<arguments.count where arguments[i].tensor?.dtype != .float32 {
            throw GPURuntimeError(.arguments, "argument \(i) (value \(arguments.valueIndices[i])) is not a float32 tensor")
        }
        try exe.copyIn(count: inputs) { i in UnsafeRawBufferPointer(arguments[i].tensor!.unsafeMutableRawBytes) }
        let profiling = context.profiler.isEnabled
        let start = profiling ? monotonicNanoseconds() : 0
        try exe.submit()
        if profiling { context.profiler.record("gpu_submit_wait", nanoseconds: monotonicNanoseconds() &- start, context: context) }
        try exe.copyOut(count: outputs) { i in arguments[inputs + i].tensor!.unsafeMutableRawBytes }
    }

    public func destroy(_ handle: BackendHandle) {}
}

