import KilnPTE

/// Everything that can go wrong loading or running a `.pte` program.
///
/// One error type for the runtime, with stable numeric codes grouped by what failed (as
/// ExecuTorch's `runtime/core/error.h` groups its codes): 0x1_ loading and verifying the file,
/// 0x2_ operators, 0x3_ delegates, 0x4_ inputs, 0x5_ execution, 0x6_ file I/O. The description
/// is what a user sees and names the file, then the input, instruction, operator or delegate at
/// fault, e.g.
/// `model.pte: unknown operator aten::foo.out (operator 3, used by instruction 7)`.
///
/// ```swift
/// do { _ = try Program.load(path: "model.pte") } catch { print(error.kind, error.code, error) }
/// ```
public struct RuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of problem this is; tests and callers match on it.
    public enum Kind: String, Sendable, CaseIterable {
        // Loading and verifying (0x1_).
        /// The file is not a valid program: the FlatBuffers verifier or Kiln's semantic checks
        /// rejected it (the message carries the `.pte` field path).
        case invalidProgram
        /// The program is valid but uses something this runtime does not run (a scalar type
        /// without a Kiln dtype, a non-contiguous dim order under a kernel, a scalar method input).
        case unsupported
        /// No method has the requested name, or no name was given and there are several.
        case methodNotFound
        /// The memory a method plans (its arenas, working memory) cannot be allocated.
        case outOfMemory

        // Operators (0x2_).
        /// An operator name and overload that no op in the op table is emitted as.
        case unknownOperator
        /// The op is known but no portable kernel is registered for it.
        case missingKernel
        /// A KernelCall's arguments do not fit its op: wrong count, wrong kinds, or the op's
        /// shape rule rejects them or disagrees with the out tensors.
        case invalidArguments

        // Delegates (0x3_).
        /// A delegate names a backend id that is not registered.
        case unknownBackend
        /// The backend is registered but reports that it cannot run here.
        case backendUnavailable
        /// The backend's `initialize` failed.
        case delegateInit
        /// The backend's `execute` failed.
        case delegateExecute

        // Inputs (0x4_).
        /// An input index outside the method's inputs, or the wrong number of inputs.
        case inputCount
        /// An input of the wrong dtype.
        case inputDType
        /// An input of the wrong rank or size (beyond its bound for dynamic inputs).
        case inputShape
        /// A method input whose memory the caller provides was never set.
        case inputNotSet

        // Execution (0x5_).
        /// A kernel failed on its data.
        case kernel
        /// The shapes downstream of a resized input could not be derived.
        case shape
        /// A JumpFalseCall's condition or a MoveCall's values cannot be used.
        case control
        /// An output index outside the method's outputs.
        case outputIndex

        // I/O (0x6_).
        /// The file cannot be opened or mapped.
        case io

        /// The stable numeric code of this kind.
        public var code: Int {
            switch self {
            case .invalidProgram: return 0x10
            case .unsupported: return 0x11
            case .methodNotFound: return 0x12
            case .outOfMemory: return 0x13
            case .unknownOperator: return 0x20
            case .missingKernel: return 0x21
            case .invalidArguments: return 0x22
            case .unknownBackend: return 0x30
            case .backendUnavailable: return 0x31
            case .delegateInit: return 0x32
            case .delegateExecute: return 0x33
            case .inputCount: return 0x40
            case .inputDType: return 0x41
            case .inputShape: return 0x42
            case .inputNotSet: return 0x43
            case .kernel: return 0x50
            case .shape: return 0x51
            case .control: return 0x52
            case .outputIndex: return 0x53
            case .io: return 0x60
            }
        }
    }

    public var kind: Kind
    /// What went wrong, naming the input, instruction, operator or delegate at fault.
    public var message: String
    /// The `.pte` file, when known.
    public var path: String?

    public init(_ kind: Kind, _ message: String, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    /// The stable numeric code of ``kind``.
    public var code: Int { kind.code }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }

    /// This error naming the file `path` (kept when one is already set).
    func inFile(_ path: String?) -> RuntimeError {
        var copy = self
        if copy.path == nil { copy.path = path }
        return copy
    }
}

extension RuntimeError {
    /// A file problem found by KilnPTE: `.io` stays I/O, everything else is an invalid program.
    /// The message keeps the field path (`execution_plan[0].values[12].tensor.sizes[1]: ...`).
    init(_ error: PTEError) {
        let text = error.location.map { $0.isEmpty ? error.message : "\($0): \(error.message)" } ?? error.message
        self.init(error.kind == .io ? .io : .invalidProgram, text, path: error.path)
    }
}
