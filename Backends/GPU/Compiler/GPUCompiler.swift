import KilnBackendDescriptors
import KilnIR
import KilnOps
import KilnPartition
import KilnTensor

/// The GPU backend's ahead-of-time half: lowers an fp32 partition to a Vulkan compute program
/// (`Schemas/gpu.fbs`): the shaders it uses, one device buffer with every value's place in it
/// planned here (weights first, then activations sharing memory by lifetime), and the
/// dispatches with their push constants and workgroup counts. Weights travel as named data
/// (`gpu.<partition>.<constant>`), uploaded once by `GPURuntime` at initialize.
///
/// ```swift
/// BackendCatalog.shared.register(GPUCompiler())
/// let payload = try GPUCompiler().preprocess(partition, compileSpecs: [])
/// ```
public struct GPUCompiler: BackendCompiler {
    /// Where the descriptor lives (embedded by scripts/backends/embed_descriptors.sh).
    public static let descriptorPath = "Backends/GPU/descriptor.json"

    public let descriptor: BackendDescriptor

    /// The compiler with the embedded `Backends/GPU/descriptor.json`.
    public init() {
        descriptor = .embedded(EmbeddedDescriptors.json(at: Self.descriptorPath), file: Self.descriptorPath)
    }

    /// The ops with a GPU lowering (what the descriptor lists).
    public static var loweredOps: [String] { GPUDispatchBuilder.loweredOps.sorted() }

    public func preprocess(_ partition: Partition, compileSpecs: [LoweredDelegate.CompileSpec]) throws -> DelegatePayload {
        let graph = partition.graph
        for v in graph.inputs + graph.constants + graph.outputs where graph.type(of: v).dtype != .float32 {
            throw GPUCompilerError(.unsupportedOperand, "partition \(partition.id): %\(graph[v].name) is "
                                   + "\(graph.type(of: v).dtype); the GPU backend computes float32")
        }
        let plan = try GPUMemoryPlan(graph)
        var builder = GPUDispatchBuilder(graph: graph, plan: plan)
        for node in graph.nodes { try builder.lower(node) }
        var draft = GPUPayloadDraft()
        draft.shaders = builder.draft.shaders
        draft.dispatches = builder.draft.dispatches
        draft.memorySize = plan.size * 4
        var named: [LoweredDelegate.NamedData] = []
        for (value, offset) in plan.weights {
            let key = "gpu.\(partition.id).\(graph[value].name)"
            guard let tensor = graph[value].constantData else {
                throw GPUCompilerError(.unsupportedOperand, "partition \(partition.id): constant %\(graph[value].name) has no data")
            }
            let bytes = try Self.contiguousBytes(tensor, name: graph[value].name)
            draft.weights.append(.init(key: key, offset: offset * 4, size: bytes.count))
            named.append(LoweredDelegate.NamedData(key: key, bytes: bytes))
        }
        func region(_ v: ValueID) throws(GPUCompilerError) -> (Int, Int) {
            (plan.offset(of: v) * 4, try GPUMemoryPlan.elementCount(graph, v) * 4)
        }
        for v in graph.inputs { draft.inputs.append(try region(v)) }
        for v in graph.outputs { draft.outputs.append(try region(v)) }
        return DelegatePayload(bytes: draft.serialized(), namedData: named)
    }

    /// A constant's elements in row-major order.
    static func contiguousBytes(_ tensor: Tensor, name: String) throws(GPUCompilerError) -> [UInt8] {
        guard tensor.isContiguous else {
            throw GPUCompilerError(.unsupportedOperand, "constant %\(name) is not in row-major dim order")
        }
        return tensor.withUnsafeRawBytes { Array($0) }
    }
}
