import KilnIR

/// A graph-to-graph transformation: one record per pass, as in MLIR's `Passes.td`.
///
/// A pass is a type with a kebab-case ``name`` (what `--passes` and `--dump-after` accept), a
/// one-line ``summary``, and its options as typed stored properties with defaults, so `init()`
/// gives the pass as the command line runs it.
///
/// ```swift
/// var graph = try KIRFile.read(path: "mlp.kir")
/// try DeadCodeElimination().run(&graph)
/// try ConstantFolding(maxBytes: 1 << 20).run(&graph)
/// ```
public protocol Pass: Sendable {
    /// The pass's name, kebab-case: `dead-code-elimination`.
    static var name: String { get }
    /// One line: what the pass does.
    static var summary: String { get }
    /// The pass with every option at its default.
    init()
    /// Transforms `graph` in place. On a thrown error the graph is left as it was.
    /// - Throws: ``PassError`` naming the node at fault.
    func run(_ graph: inout Graph) throws(PassError)
}

extension Pass {
    /// The pass's ``Pass/name``, from an instance.
    public var name: String { Self.name }
}

/// Everything that can go wrong in KilnPasses: an unknown pass, a pass that broke the graph, an
/// evaluation that could not bind its inputs or run a node, a node a pass cannot handle.
///
/// The description is what a user sees, naming the file, the pass, and the node
/// (`%3 = linear (#5, loc("fc"))`) or input at fault:
/// `mlp.kir: error: %y = matmul (#2): decompose: cannot ...`.
public struct PassError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong; tests match on it.
    public enum Kind: String, Sendable, CaseIterable {
        /// `--passes` named a pass that does not exist.
        case unknownPass
        /// The graph failed verification after a pass (a bug in that pass).
        case verification
        /// A rewrite produced something inconsistent: a type change, a removed value still in use.
        case rewrite
        /// The evaluator was given the wrong number of inputs.
        case inputCount
        /// An input's dtype differs from the graph's input type.
        case inputDType
        /// An input's shape does not fit the graph's input type (rank, a static dim, a symbol's
        /// range or an inconsistent binding of a symbol).
        case inputShape
        /// No kernel is registered for a node's op.
        case missingKernel
        /// A kernel rejected its arguments or failed.
        case kernel
        /// A pass cannot transform a node (for example a decomposition that needs an op Kiln lacks).
        case unsupported
    }

    public var kind: Kind
    public var message: String
    /// The pass that raised the error, when one did.
    public var pass: String?
    /// The node or input at fault, as ``KilnIR/Graph/describe(_:)`` writes a node.
    public var subject: String?
    /// The model file, when the caller knows it.
    public var file: String?

    public init(_ kind: Kind, _ message: String, pass: String? = nil, subject: String? = nil, file: String? = nil) {
        self.kind = kind
        self.message = message
        self.pass = pass
        self.subject = subject
        self.file = file
    }

    public var description: String {
        var text = file.map { "\($0): error: " } ?? "error: "
        if let subject { text += "\(subject): " }
        if let pass { text += "\(pass): " }
        return text + message
    }
}
