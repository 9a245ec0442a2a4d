import KilnKernels
import KilnPTE
import KilnTensor

/// What a delegate's backend hands back from ``BackendRuntime/initialize(payload:compileSpecs:context:)``
/// and gets again in `execute` and `destroy`: the backend's own object (a compiled graph, a
/// device program), opaque to the runtime.
public typealias BackendHandle = AnyObject

/// A backend's runtime: runs the delegates (`DelegateCall` instructions) a `.pte` file gives to
/// the backend whose id is ``id``, with ExecuTorch's lifecycle (`runtime/backend/interface.h`):
/// ``isAvailable`` when a program loads, ``initialize(payload:compileSpecs:context:)`` once per
/// delegate when a method is created, ``execute(_:arguments:context:)`` per call, ``destroy(_:)``
/// when the method goes away.
///
/// A backend joins with one line, ``BackendRegistry/register(_:)``:
///
/// ```swift
/// BackendRegistry.shared.register(MyBackend())     // MyBackend().id == "MyBackend"
/// let program = try Program.load(path: "model.pte")
/// ```
public protocol BackendRuntime: AnyObject, Sendable {
    /// The backend's name, equal to the delegate `id` in the files it runs.
    var id: String { get }

    /// True when the backend can run on this machine (its library, device or driver is there).
    /// Loading a program with a delegate for an unavailable backend fails, naming it.
    var isAvailable: Bool { get }

    /// Prepares one delegate: decodes `payload` (the bytes the backend's compiler wrote; valid
    /// as long as the program is loaded, so a backend may keep pointers into it) and returns
    /// what ``execute(_:arguments:context:)`` needs.
    ///
    /// - Parameters:
    ///   - payload: the delegate's processed data, inline or in its segment.
    ///   - compileSpecs: the key/value options the compiler recorded.
    ///   - context: the program's named data and segments, and a profiling sink.
    /// - Throws: anything; the runtime reports it as ``RuntimeError/Kind/delegateInit``
    ///   naming the delegate.
    func initialize(payload: UnsafeRawBufferPointer, compileSpecs: [PTE.CompileSpec],
                    context: BackendInitContext) throws -> BackendHandle

    /// Runs one `DelegateCall`: reads the input tensors in `arguments` and writes the outputs
    /// in place (their bytes are the method's planned memory). Called on the hot path: it
    /// should not allocate.
    ///
    /// - Throws: anything; the runtime reports it as ``RuntimeError/Kind/delegateExecute``
    ///   naming the instruction and delegate.
    func execute(_ handle: BackendHandle, arguments: BackendArguments, context: BackendExecuteContext) throws

    /// Releases what ``initialize(payload:compileSpecs:context:)`` made.
    func destroy(_ handle: BackendHandle)
}

/// One argument of a `DelegateCall`: a view of the EValue the program passes (ExecuTorch passes
/// the delegate its inputs, then its outputs).
public enum BackendValue: @unchecked Sendable {
    case null
    case int(Int64)
    case bool(Bool)
    case double(Double)
    /// A tensor in the method's memory (planned arena, constant data, or a bound input); a
    /// backend writes outputs through ``KilnTensor/Tensor/unsafeMutableRawBytes``.
    case tensor(Tensor)
    case string(String)
    /// The values of an IntList (its Int EValues, dereferenced).
    case intList([Int64])
    case doubleList([Double])
    case boolList([Bool])
    case tensorList([Tensor])
    /// An OptionalTensorList: nil where the program passes none.
    case optionalTensorList([Tensor?])

    /// The tensor, when this is one.
    public var tensor: Tensor? {
        if case .tensor(let t) = self { return t }
        return nil
    }
}

/// The arguments of one `DelegateCall`, in the order the program lists them.
public struct BackendArguments: @unchecked Sendable {
    /// One entry per argument.
    public let values: [BackendValue]
    /// The program's EValue index of each argument, for messages.
    public let valueIndices: [Int]

    public init(values: [BackendValue], valueIndices: [Int]) {
        self.values = values
        self.valueIndices = valueIndices
    }

    public var count: Int { values.count }

    public subscript(_ index: Int) -> BackendValue { values[index] }
}

/// What a backend can reach while initializing a delegate: the program's named data and
/// segments (weights a backend's compiler stored outside its payload), and a profiling sink.
public struct BackendInitContext {
    /// The method being created.
    public let methodName: String
    /// The delegate's index in the method's `delegates`.
    public let delegateIndex: Int
    /// Records events such as compile time or simulated device time.
    public let profiler: BackendProfiler
    /// The method's threads: a backend that runs work in parallel splits it across these
    /// (``KilnKernels/ThreadPool/parallelFor(_:_:)``) rather than starting its own.
    public let threadPool: ThreadPool
    let program: PTEProgramView

    /// Threads the method runs on (`kiln run --threads`), the calling thread included.
    public var threadCount: Int { threadPool.threadCount }

    /// The bytes of named data `key`, or nil when the program has none by that key.
    /// - Throws: ``RuntimeError`` `.invalidProgram` when the entry points outside the file.
    public func namedData(key: String) throws(RuntimeError) -> UnsafeRawBufferPointer? {
        do { return try program.namedData(key: key) } catch { throw RuntimeError(error) }
    }

    /// The bytes of segment `index`.
    /// - Throws: ``RuntimeError`` `.invalidProgram` for an index out of range.
    public func segment(_ index: Int) throws(RuntimeError) -> UnsafeRawBufferPointer {
        do { return try program.segmentBytes(index) } catch { throw RuntimeError(error) }
    }

    /// The number of segments in the file.
    public var segmentCount: Int { program.segments.count }
}

/// What a backend can reach while running a `DelegateCall`.
public struct BackendExecuteContext {
    /// The method being run.
    public let methodName: String
    /// The instruction being run (its index in ``Method/instructions``).
    public let instruction: Int
    /// The delegate's index in the method's `delegates`.
    public let delegateIndex: Int
    /// Records events such as simulated device time.
    public let profiler: BackendProfiler
}

/// One event a backend recorded: a name (`device_time`, `compile`), the delegate and instruction
/// it belongs to (-1 for events during initialization), and a duration or count.
public struct BackendEvent: Equatable, Sendable {
    public var name: String
    public var delegateIndex: Int
    public var instruction: Int
    public var nanoseconds: UInt64
}

/// Where backends record profiling events. Events during execution are kept only while the
/// method is profiling (``Method/isProfiling``), so a backend may record unconditionally;
/// events during initialization are always kept.
public final class BackendProfiler {
    /// True while the method is profiling.
    public internal(set) var isEnabled = false
    /// The events recorded since the last ``reset()``.
    public private(set) var events: [BackendEvent] = []

    init() {
        events.reserveCapacity(256)
    }

    /// Records `nanoseconds` under `name` for the delegate and instruction of `context`.
    public func record(_ name: String, nanoseconds: UInt64, context: BackendExecuteContext) {
        guard isEnabled else { return }
        events.append(BackendEvent(name: name, delegateIndex: context.delegateIndex, instruction: context.instruction,
                                   nanoseconds: nanoseconds))
    }

    /// Records `nanoseconds` under `name` during initialization of the delegate of `context`.
    public func record(_ name: String, nanoseconds: UInt64, context: BackendInitContext) {
        events.append(BackendEvent(name: name, delegateIndex: context.delegateIndex, instruction: -1,
                                   nanoseconds: nanoseconds))
    }

    /// Forgets the events recorded so far (keeping the capacity).
    public func reset() {
        events.removeAll(keepingCapacity: true)
    }
}
