import KilnOps
import KilnTensor

/// A kernel failed on its inputs (a value-dependent problem the shape rule cannot see, such as
/// an index out of range), naming the op.
public struct KernelError: Error, Equatable, Sendable, CustomStringConvertible {
    public var op: String
    public var message: String

    public init(op: String, _ message: String) {
        self.op = op
        self.message = message
    }

    public var description: String { "\(op): \(message)" }
}

/// One application of a kernel: the op's validated arguments, whose tensor arguments are indices
/// into ``inputs``, and the outputs the caller allocated (sized by the op's shape rule).
///
/// Inputs are dense and row-major; a kernel may rely on element alignment only. A kernel writes
/// its results through ``KilnTensor/Tensor/unsafeMutableBuffer(of:)`` of ``outputs`` and, given
/// ``scratch`` of its entry's ``KernelEntry/scratchBytes``, makes no heap allocation on success
/// (its working memory is the scratch or the stack; `swift run -c release KilnAllocCheck` checks).
public struct KernelCall: @unchecked Sendable {
    public let arguments: OpArguments<Int>
    public let inputs: [Tensor]
    public let outputs: [Tensor]
    /// Working memory for the kernel, at least ``KernelEntry/scratchBytes`` of this call, 64-byte
    /// aligned. The runtime allocates it once at load time, so `execute()` never allocates; when
    /// it is too small (or empty) a kernel that needs scratch allocates its own.
    public let scratch: UnsafeMutableRawBufferPointer
    /// The threads the kernel may split its work across (the calling thread and the pool's
    /// workers); ``ThreadPool/serial`` unless the caller has more. A kernel's results must not
    /// depend on the thread count.
    public let threadPool: ThreadPool
    /// Packed forms of constant inputs, by input index (shorter than ``inputs``, or nil at an
    /// index, where there is none): what the entry's ``KernelEntry/prepack`` wrote once, when the
    /// method was created. A kernel that finds none packs per call.
    public let prepacked: [UnsafeRawBufferPointer?]

    public init(arguments: OpArguments<Int>, inputs: [Tensor], outputs: [Tensor],
                scratch: UnsafeMutableRawBufferPointer = UnsafeMutableRawBufferPointer(start: nil, count: 0),
                threadPool: ThreadPool = .serial, prepacked: [UnsafeRawBufferPointer?] = []) {
        self.arguments = arguments
        self.inputs = inputs
        self.outputs = outputs
        self.scratch = scratch
        self.threadPool = threadPool
        self.prepacked = prepacked
    }

    /// The packed form of input `index` (an index into ``inputs``), when one was made.
    public func prepackedInput(_ index: Int) -> UnsafeRawBufferPointer? {
        index >= 0 && index < prepacked.count ? prepacked[index] : nil
    }

    /// The op being computed.
    public var op: OpSchema { arguments.schema }

    /// The tensor passed for parameter `name`.
    public func input(_ name: String) -> Tensor { inputs[arguments.tensor(name)] }

    /// The tensor passed for optional parameter `name`, or nil.
    public func optionalInput(_ name: String) -> Tensor? { arguments.optionalTensor(name).map { inputs[$0] } }

    /// The tensors passed for list parameter `name`, as a new array (kernels, which must not
    /// allocate, index ``inputs`` with `arguments.tensorList(name)` instead).
    public func inputList(_ name: String) -> [Tensor] { arguments.tensorList(name).map { inputs[$0] } }

    /// An error about this call.
    public func error(_ message: String) -> KernelError { KernelError(op: op.name, message) }

    /// The outputs the op's shape rule gives for `inputs`, zero-filled.
    ///
    /// - Throws: ``KernelError`` when the arguments break the op's rules.
    public static func allocateOutputs(_ arguments: OpArguments<Int>, inputs: [Tensor]) throws(KernelError) -> [Tensor] {
        let typed = arguments.values.map { a in a.map { TensorType(inputs[$0].dtype, static: inputs[$0].shape) } }
        let schema = arguments.schema
        let types: [TensorType]
        do { types = try schema.inferTypes(typed) } catch { throw KernelError(op: schema.name, error.message) }
        var outputs: [Tensor] = []
        for t in types {
            guard let shape = t.staticShape else {
                throw KernelError(op: schema.name, "output type \(t) is not static")
            }
            do { outputs.append(try Tensor(zeros: t.dtype, shape: shape)) } catch {
                throw KernelError(op: schema.name, "cannot allocate output \(t): \(error)")
            }
        }
        return outputs
    }
}

/// A kernel: computes one op for one call, writing into the call's outputs.
public typealias Kernel = @Sendable (KernelCall) throws(KernelError) -> Void

/// How a kernel packs a constant input once, when a method is created, instead of on every call
/// (the panels of a matrix product's weight, for one).
///
/// The runtime asks ``bytes`` for each input of a call that is a constant of the program; for a
/// nonzero answer it allocates that many bytes (64-byte aligned, owned by the method and counted
/// in its `ownedByteCount`), calls ``pack`` once, and passes the result to every run of the call
/// as ``KernelCall/prepacked``. The packed form may depend on the constant and on the call's
/// non-tensor arguments only, not on the shapes of other inputs (those may change with a resized
/// dynamic input; the packed form is not remade). The graph evaluator does not prepack.
///
/// ```swift
/// KernelPrepack(bytes: { call, input in input == weightIndex(call) ? packedSize(call) : 0 },
///               pack: { call, input, destination in packWeight(call, into: destination) })
/// ```
public struct KernelPrepack: Sendable {
    /// Bytes of the packed form of input `index` of the call, or 0 when the kernel does not pack it.
    public let bytes: @Sendable (KernelCall, _ index: Int) -> Int
    /// Writes the packed form of input `index` into the buffer (of ``bytes`` bytes).
    public let pack: @Sendable (KernelCall, _ index: Int, UnsafeMutableRawBufferPointer) -> Void

    public init(bytes: @escaping @Sendable (KernelCall, _ index: Int) -> Int,
                pack: @escaping @Sendable (KernelCall, _ index: Int, UnsafeMutableRawBufferPointer) -> Void) {
        self.bytes = bytes
        self.pack = pack
    }
}
