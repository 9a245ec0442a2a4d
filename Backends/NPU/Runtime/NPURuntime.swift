import KilnPTE
import KilnRuntime
import KilnTensor

/// The NPU backend's runtime: runs the programs `NPUCompiler` writes on the bit-exact
/// simulator (``NPUExecutable``), and records the simulated time of each op, the call's total
/// and its energy through the method's profiler, so `kiln bench --profile` shows them next to
/// host time.
///
/// ```swift
/// BackendRegistry.shared.register(NPURuntime())
/// ```
///
/// Events per call: `npu <op>` (simulated nanoseconds of each op; one cycle is 1 ns),
/// `npu total` (all ops plus the call overhead) and `npu energy nJ` (simulated energy in
/// nanojoules, carried in the event's nanoseconds field).
public final class NPURuntime: BackendRuntime {
    /// The delegate id, equal to the descriptor's.
    public let id = "KilnNPU"

    public init() {}

    /// Always: the NPU is simulated.
    public var isAvailable: Bool { true }

    public func initialize(payload: UnsafeRawBufferPointer, compileSpecs: [PTE.CompileSpec],
                           context: BackendInitContext) throws -> BackendHandle {
        let exe = try NPUExecutable(payload: payload)
        return Handle(exe)
    }

    public func execute(_ handle: BackendHandle, arguments: BackendArguments, context: BackendExecuteContext) throws {
        guard let handle = handle as? Handle else { throw NPUError("execute got a handle this backend did not make") }
        let exe = handle.executable
        guard arguments.count == exe.inputCount + exe.outputCount else {
            throw NPUError("expected \(exe.inputCount) inputs and \(exe.outputCount) outputs, got \(arguments.count) arguments")
        }
        for i in 0..<arguments.count {
            guard let tensor = arguments[i].tensor else {
                throw NPUError("argument \(i) (value \(arguments.valueIndices[i])) is not a tensor")
            }
            try exe.bind(argument: i, tensor)
        }
        exe.runBound()
        guard context.profiler.isEnabled else { return }
        for i in exe.opCycles.indices {
            context.profiler.record(handle.eventNames[i], nanoseconds: UInt64(exe.opCycles[i]), context: context)
        }
        context.profiler.record("npu total", nanoseconds: UInt64(exe.totalCycles), context: context)
        context.profiler.record("npu energy nJ", nanoseconds: handle.energyNanojoules, context: context)
    }

    public func destroy(_ handle: BackendHandle) {}

    final class Handle {
        let executable: NPUExecutable
        let eventNames: [String]
        let energyNanojoules: UInt64

        init(_ executable: NPUExecutable) {
            self.executable = executable
            eventNames = executable.program.ops.map { "npu \($0.kind) \($0.name)" }
            energyNanojoules = UInt64((executable.opEnergyPicojoules.reduce(0, +) / 1000).rounded())
        }
    }
}
