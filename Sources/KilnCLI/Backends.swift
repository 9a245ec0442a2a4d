import GPUCompiler
import GPURuntime
import KilnPartition
import KilnRuntime
import NPUCompiler
import NPURuntime
import XNNPACKCompiler
import XNNPACKRuntime

/// The backends this build of `kiln` knows. A backend joins with one line here: its compiler
/// (`catalog.register(XNNPACKCompiler())`, plus its runtime in `BackendRegistry.shared`), or,
/// until its compiler exists, its descriptor alone.
enum KilnBackends {
    /// Registers every backend once; later calls do nothing.
    static func registerAll() { _ = registration }

    private static let registration: Void = {
        let catalog = BackendCatalog.shared
        let xnnpack = XNNPACKRuntime()
        catalog.register(XNNPACKCompiler()) { xnnpack.isAvailable ? nil : "xnn_initialize fails on this CPU" }
        BackendRegistry.shared.register(xnnpack)
        catalog.register(NPUCompiler())
        NPUCompiler.registerSchemes()
        BackendRegistry.shared.register(NPURuntime())
        catalog.register(GPUCompiler(), unavailableReason: { GPURuntime.unavailableReason })
        BackendRegistry.shared.register(GPURuntime())
    }()
}
