import KilnIR
import KilnQuant
import Synchronization

/// A backend's ahead-of-time half: its descriptor, and `preprocess`, which turns one partition
/// into the payload its runtime executes. The partitioner never names a backend; it reads
/// ``descriptor``.
///
/// ```swift
/// struct MyCompiler: BackendCompiler {
///     let descriptor = try! BackendDescriptor.parse(myJSON, file: "descriptor.json")
///     func preprocess(_ partition: Partition, compileSpecs: [LoweredDelegate.CompileSpec]) throws -> DelegatePayload {
///         DelegatePayload(bytes: encode(partition.graph))
///     }
/// }
/// BackendCatalog.shared.register(MyCompiler())
/// ```
public protocol BackendCompiler: Sendable {
    /// What the backend takes; ``BackendDescriptor/id`` is the `.pte` delegate id.
    var descriptor: BackendDescriptor { get }

    /// Lowers one partition to the backend's payload.
    ///
    /// - Parameters:
    ///   - partition: the claimed subgraph as a standalone graph (its inputs are the delegate
    ///     call's inputs, in order; constants used only inside it moved into it).
    ///   - compileSpecs: options to honour; they are stored next to the payload.
    /// - Throws: anything; `kiln compile` reports it as ``PartitionError/Kind/preprocess`` naming
    ///   the backend and partition. A message should name the op and why it cannot be lowered.
    func preprocess(_ partition: Partition, compileSpecs: [LoweredDelegate.CompileSpec]) throws -> DelegatePayload

    /// The quantizer that annotates what this backend runs quantized under the scheme named
    /// `scheme` (`int8`, `16a8w`), or nil when the backend has no such form. With
    /// `--backends a,b --quantize S`, a's quantizer annotates first and b's sees the rest.
    func quantizer(for scheme: String) -> (any Quantizer)?
}

extension BackendCompiler {
    /// No quantized forms: the backend runs what it runs in float.
    public func quantizer(for scheme: String) -> (any Quantizer)? { nil }
}

/// One subgraph claimed by one backend, as its compiler receives it.
public struct Partition: Sendable {
    /// The partition's number in the plan (0, 1, ...).
    public var id: Int
    /// The backend's name (`xnnpack`).
    public var backend: String
    /// The subgraph: inputs are values produced outside (in the delegate call's argument
    /// order), constants are those used only inside, outputs are what the rest of the graph
    /// (or the model's outputs) reads. Nodes keep their debug handles and locations.
    public var graph: Graph

    public init(id: Int, backend: String, graph: Graph) {
        self.id = id
        self.backend = backend
        self.graph = graph
    }
}

/// What `preprocess` returns: the payload bytes (stored in their own segment of the `.pte`)
/// and named data (weights a runtime reads by key through `BackendInitContext.namedData`).
public struct DelegatePayload: Sendable {
    public var bytes: [UInt8]
    public var namedData: [LoweredDelegate.NamedData]

    public init(bytes: [UInt8], namedData: [LoweredDelegate.NamedData] = []) {
        self.bytes = bytes
        self.namedData = namedData
    }
}

/// The backends known to this build: each a descriptor, with a compiler when the build has
/// one, and whether its runtime can run here. `kiln plan` uses every descriptor; `kiln compile`
/// needs the compiler.
///
/// ```swift
/// BackendCatalog.shared.register(XNNPACKCompiler())                        // a compiler
/// BackendCatalog.shared.register(descriptor: npuDescriptor)               // descriptor only
/// BackendCatalog.shared.backend(named: "xnnpack")?.compiler               // the compiler
/// ```
public final class BackendCatalog: @unchecked Sendable {
    /// One registered backend.
    public struct Entry: Sendable {
        public var descriptor: BackendDescriptor
        /// The compiler, or nil when this build has only the descriptor.
        public var compiler: (any BackendCompiler)?
        /// Whether the runtime can run here: nil when available, else why not.
        public var unavailableReason: @Sendable () -> String?
    }

    /// The catalog `kiln` uses.
    public static let shared = BackendCatalog()

    private let entries = Mutex<[Entry]>([])

    public init() {}

    /// Registers a backend with its compiler (replacing one of the same name).
    public func register(_ compiler: any BackendCompiler,
                         unavailableReason: @escaping @Sendable () -> String? = { nil }) {
        add(Entry(descriptor: compiler.descriptor, compiler: compiler, unavailableReason: unavailableReason))
    }

    /// Registers a descriptor whose compiler is not in this build.
    public func register(descriptor: BackendDescriptor,
                         unavailableReason: @escaping @Sendable () -> String? = { "no runtime in this build" }) {
        add(Entry(descriptor: descriptor, compiler: nil, unavailableReason: unavailableReason))
    }

    private func add(_ entry: Entry) {
        entries.withLock { list in
            list.removeAll { $0.descriptor.name == entry.descriptor.name }
            list.append(entry)
        }
    }

    /// Every backend, in registration order.
    public var all: [Entry] { entries.withLock { $0 } }

    /// The backend named `name` (its descriptor's `name`, or its id), or nil.
    public func backend(named name: String) -> Entry? {
        entries.withLock { list in list.first { $0.descriptor.name == name || $0.descriptor.id == name } }
    }

    /// The entries for a `--backends` list, in order.
    /// - Throws: ``PartitionError`` `.unknownBackend` naming the name and what is registered.
    public func resolve(_ names: [String]) throws(PartitionError) -> [Entry] {
        var result: [Entry] = []
        for name in names {
            guard let entry = backend(named: name) else {
                let known = all.map(\.descriptor.name).joined(separator: ", ")
                throw PartitionError(.unknownBackend, "no backend named '\(name)' (this build has: \(known.isEmpty ? "none" : known))")
            }
            if !result.contains(where: { $0.descriptor.name == entry.descriptor.name }) { result.append(entry) }
        }
        return result
    }
}
