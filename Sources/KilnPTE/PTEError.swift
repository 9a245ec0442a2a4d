/// Everything that can go wrong reading or writing a `.pte` file.
///
/// The description is what a user sees: the file, the place in the program, and what was
/// expected, e.g.
/// `model.pte: execution_plan[0].values[12].tensor.sizes[1]: size -3 is negative`.
/// The runtime never traps on file contents: every problem becomes one of these.
public struct PTEError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of problem this is; tests match on it. Each kind has a stable numeric ``code``,
    /// grouped by layer (0x1_: file framing, 0x2_: FlatBuffers structure, 0x3_: program
    /// semantics, 0x4_: I/O, 0x5_: writing).
    public enum Kind: String, Sendable, CaseIterable {
        /// The file ends before something it declares (header, flatbuffer, a segment).
        case truncated
        /// The file identifier at bytes 4..<8 is not `ET12`.
        case identifier
        /// The extended header (`eh00`) is malformed or inconsistent with the file.
        case header
        /// The flatbuffer is malformed: a bad vtable, misaligned data, invalid UTF-8, a missing
        /// required table, or the FlatBuffers verifier rejected it.
        case flatbuffer
        /// An offset or length inside the flatbuffer points outside the buffer.
        case outOfRange
        /// A union holds a type tag outside its schema (`KernelTypes`, `InstructionArguments`).
        case unionTag
        /// An enum field holds a value outside its schema (ScalarType, DataLocation, ...).
        case enumValue
        /// An index into a program table is out of range (values, operators, delegates,
        /// instructions, segments, constant buffers, arenas).
        case index
        /// Any other program rule: negative sizes, a dim order that is no permutation, data that
        /// does not fit its arena or segment, a value of the wrong kind.
        case semantic
        /// The file cannot be read or written.
        case io
        /// The program cannot be written (too large for 32-bit offsets, inconsistent segments).
        case serialize

        /// The stable numeric code of this kind.
        public var code: Int {
            switch self {
            case .truncated: return 0x10
            case .identifier: return 0x11
            case .header: return 0x12
            case .flatbuffer: return 0x20
            case .outOfRange: return 0x21
            case .unionTag: return 0x22
            case .enumValue: return 0x23
            case .index: return 0x30
            case .semantic: return 0x31
            case .io: return 0x40
            case .serialize: return 0x50
            }
        }
    }

    public var kind: Kind
    public var message: String
    /// Where in the program the problem is, as a field path: `execution_plan[0].values[12].tensor`.
    public var location: String?
    /// The file the problem is in, when known.
    public var path: String?

    public init(_ kind: Kind, _ message: String, location: String? = nil, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.location = location
        self.path = path
    }

    /// The stable numeric code of ``kind``.
    public var code: Int { kind.code }

    public var description: String {
        var text = ""
        if let path { text += path + ": " }
        if let location, !location.isEmpty { text += location + ": " }
        return text + message
    }

    /// This error with `component` prepended to its location (`values[3]` + `tensor.sizes` →
    /// `values[3].tensor.sizes`); decoders add one component per level as errors travel up.
    func at(_ component: String) -> PTEError {
        var copy = self
        if let location, !location.isEmpty {
            copy.location = location.hasPrefix("[") ? component + location : component + "." + location
        } else {
            copy.location = component
        }
        return copy
    }

    /// This error naming the file `path` (kept when one is already set).
    func inFile(_ path: String?) -> PTEError {
        var copy = self
        if copy.path == nil { copy.path = path }
        return copy
    }
}
