import GPUCompiler
import GPURuntime
import KilnBackendDescriptors
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
    static func registerAll() throws(PartitionError) {
        guard !registered.value else { return }
        registered.value = true
        let catalog = BackendCatalog.shared
        let xnnpack = XNNPACKRuntime()
        catalog.register(XNNPACKCompiler()) { xnnpack.isAvailable ? nil : "xnn_initialize fails on this CPU" }
        BackendRegistry.shared.register(xnnpack)
        catalog.register(NPUCompiler())
        NPUCompiler.registerSchemes()
        BackendRegistry.shared.register(NPURuntime())
        catalog.register(GPUCompiler(), unavailableReason: { GPURuntime.unavailableReason })
        BackendRegistry.shared.register(GPURuntime())
    }

    /// The embedded descriptor at `path`, parsed and validated.
    static func descriptor(_ path: String) throws(PartitionError) -> BackendDescriptor {
        guard let json = EmbeddedDescriptors.json(at: path) else {
            throw PartitionError(.descriptor, "this build embeds no descriptor at \(path)")
        }
        return try BackendDescriptor.parse(json, file: path)
    }

    private final class Flag: @unchecked Sendable { var value = false }
    private static let registered = Flag()
}
