#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The backend runtimes a program's delegates can use, by id. Looked up only when a program
/// loads, never while it runs.
///
/// ```swift
/// BackendRegistry.shared.register(MyBackend())
/// let program = try Program.load(path: "model.pte")            // uses .shared
/// let isolated = BackendRegistry()                               // for tests
/// ```
public final class BackendRegistry: @unchecked Sendable {
    /// The registry programs use unless told otherwise.
    public static let shared = BackendRegistry()

    private var byID: [String: any BackendRuntime] = [:]
    private let lock = Lock()

    /// An empty registry.
    public init() {}

    /// Adds `backend` under its ``BackendRuntime/id``, replacing one registered under the same id.
    public func register(_ backend: any BackendRuntime) {
        lock.withLock { byID[backend.id] = backend }
    }

    /// The backend registered as `id`, or nil.
    public func backend(id: String) -> (any BackendRuntime)? {
        lock.withLock { byID[id] }
    }

    /// The registered ids, sorted.
    public var ids: [String] {
        lock.withLock { byID.keys.sorted() }
    }
}

/// A plain mutex (the runtime builds without Foundation).
final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
