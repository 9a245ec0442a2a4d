/// Everything that can go wrong in KilnPartition: a descriptor that does not validate, a backend
/// named that no one registered or whose compiler is not in this build, a partition a backend's
/// compiler refused, a graph that cannot be split.
///
/// The description names the file (a descriptor's path), the backend, the node and what was
/// expected: `Backends/NPU/descriptor.json: error: ops[3].attributes[0]: 'stride' is not a
/// parameter of relu`.
public struct PartitionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong; tests match on it.
    public enum Kind: String, Sendable, CaseIterable {
        /// A descriptor is not valid JSON or does not follow the descriptor format.
        case descriptor
        /// `--backends` names a backend no one registered.
        case unknownBackend
        /// The backend has a descriptor but no compiler in this build.
        case noCompiler
        /// A backend's compiler could not lower a partition (its message names the op and why).
        case preprocess
        /// The graph could not be split or rewritten.
        case graph
    }

    public var kind: Kind
    public var message: String
    /// The node or backend at fault.
    public var subject: String?
    /// The descriptor or model file, when known.
    public var file: String?

    public init(_ kind: Kind, _ message: String, subject: String? = nil, file: String? = nil) {
        self.kind = kind
        self.message = message
        self.subject = subject
        self.file = file
    }

    public var description: String {
        var text = file.map { "\($0): error: " } ?? "error: "
        if let subject { text += "\(subject): " }
        return text + message
    }
}
