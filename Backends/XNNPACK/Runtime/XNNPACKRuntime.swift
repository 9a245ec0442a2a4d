#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CXNNPACK
import KilnPTE
import KilnRuntime
import KilnTensor
import Synchronization
import XNNPACKSchema

/// The XNNPACK CPU backend's runtime: runs the delegates `XNNPACKCompiler` wrote on Debian's
/// libxnnpack. `initialize` decodes the payload, defines the subgraph, packs the weights and
/// creates the XNNPACK runtime once (on the shared pthreadpool of the method's thread count); `execute`
/// converts layouts at the boundary where the compiler asked for it, points XNNPACK at the
/// arguments (`xnn_setup_runtime`) and invokes it.
///
/// ```swift
/// BackendRegistry.shared.register(XNNPACKRuntime())
/// let program = try Program.load(path: "cnn.pte")      // delegates with id "KilnXNNPACK"
/// ```
public final class XNNPACKRuntime: BackendRuntime, @unchecked Sendable {
    /// The delegate id in `.pte` files (the descriptor's `id`).
    public static let id = "KilnXNNPACK"

    public var id: String { Self.id }

    public init() {}

    /// True when `xnn_initialize` succeeds on this CPU (done once per process).
    public var isAvailable: Bool { XNNPACKLibrary.initialize() == nil }

    public func initialize(payload: UnsafeRawBufferPointer, compileSpecs: [PTE.CompileSpec],
                           context: BackendInitContext) throws -> BackendHandle {
        let start = monotonicNanoseconds()
        let decoded = try XNNPayload.decode(payload)
        let delegate = try XNNPACKDelegate(decoded, threads: context.threadCount) { key throws(XNNPACKError) in
            do {
                return try context.namedData(key: key)
            } catch {
                throw XNNPACKError(.payload, "constant '\(key)': \(error)")
            }
        }
        context.profiler.record("xnnpack_create", nanoseconds: monotonicNanoseconds() &- start, context: context)
        return delegate
    }

    public func execute(_ handle: BackendHandle, arguments: BackendArguments, context: BackendExecuteContext) throws {
        guard let delegate = handle as? XNNPACKDelegate else {
            throw XNNPACKError(.arguments, "the handle is not an XNNPACK delegate")
        }
        let profiling = context.profiler.isEnabled
        let start = profiling ? monotonicNanoseconds() : 0
        try delegate.run(arguments)
        if profiling { context.profiler.record("xnnpack", nanoseconds: monotonicNanoseconds() &- start, context: context) }
    }

    public func destroy(_ handle: BackendHandle) {}
}

/// `xnn_initialize`, called once per process; its failure, if any, as text.
enum XNNPACKLibrary {
    private static let status: String? = {
        let s = xnn_initialize(nil)
        return s == xnn_status_success ? nil : "xnn_initialize failed: \(describe(s))"
    }()

    static func initialize() -> String? { status }

    /// The process's pthreadpool of `threads` threads (nil for one thread: XNNPACK then runs on
    /// the caller), made on first use and shared by every delegate, so a method with several
    /// XNNPACK partitions starts one pool, not one per partition. pthreadpool serializes calls
    /// made from several threads at once.
    static func threadpool(threads: Int) -> pthreadpool_t? {
        guard threads > 1 else { return nil }
        return pools.withLock { pools in
            if let pool = pools[threads] { return pool.pointer }
            guard let pointer = pthreadpool_create(threads) else { return nil }
            pools[threads] = Pool(pointer: pointer)
            return pointer
        }
    }

    private struct Pool: @unchecked Sendable {
        let pointer: pthreadpool_t
    }

    private static let pools = Mutex<[Int: Pool]>([:])
}
