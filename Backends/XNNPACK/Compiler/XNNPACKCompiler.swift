import KilnBackendDescriptors
import KilnIR
import KilnPartition
import KilnQuant
import XNNPACKSchema

/// The XNNPACK CPU backend's compiler: lowers a partition to an XNNPACK subgraph payload
/// (`Schemas/xnnpack.fbs`) with its weights as named data. `Backends/XNNPACK/descriptor.json`
/// lists exactly the ops this lowering takes.
///
/// ```swift
/// BackendCatalog.shared.register(XNNPACKCompiler())
/// let payload = try XNNPACKCompiler().preprocess(partition, compileSpecs: [])
/// ```
public struct XNNPACKCompiler: BackendCompiler {
    /// Where the descriptor lives (embedded in the build).
    public static let descriptorPath = "Backends/XNNPACK/descriptor.json"

    public let descriptor: BackendDescriptor

    /// The compiler with the embedded descriptor.
    public init() {
        descriptor = .embedded(EmbeddedDescriptors.json(at: Self.descriptorPath), file: Self.descriptorPath)
    }

    /// Lowers `partition` to an XNNPACK payload; weights become named data `xnnpack/p<id>/<name>...`.
    /// - Throws: ``XNNPACKSchema/XNNPACKError`` `.unsupported` naming the node and why.
    public func preprocess(_ partition: Partition, compileSpecs: [LoweredDelegate.CompileSpec]) throws -> DelegatePayload {
        var lowering = XNNLowering(graph: partition.graph, keyPrefix: "xnnpack/p\(partition.id)")
        let payload = try lowering.run()
        return DelegatePayload(bytes: payload.encoded(),
                               namedData: lowering.namedData.map { LoweredDelegate.NamedData(key: $0.key, bytes: $0.bytes) })
    }

    /// `int8`: static per-tensor activations with per-channel weights; `int8-dynamic`: linear
    /// layers with per-token activations chosen at run time. Other schemes: none.
    public func quantizer(for scheme: String) -> (any Quantizer)? {
        switch scheme {
        case "int8": return XNNPACKQuantizer()
        case "int8-dynamic": return XNNPACKQuantizer(dynamic: true)
        default: return nil
        }
    }
}
