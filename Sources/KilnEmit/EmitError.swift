import KilnIR
import KilnPasses

/// Everything that can go wrong in KilnEmit: a node the portable program cannot express, a
/// value too large for the `.pte` format, a memory plan that fails its check, a pass of the
/// compile pipeline, or serialization.
///
/// The description is what a user sees, naming the file (when the caller knows it), the node
/// (`%3 = linear (#5, loc("fc"))`) or value at fault, and what was expected:
/// `mlp.kir: error: %y = linear (#1, loc("fc")): emit: linear has no .pte operator; run the decompose pass first`.
public struct EmitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong; tests match on it.
    public enum Kind: String, Sendable, CaseIterable {
        /// A node's op has no `.pte` operator (it must be decomposed first).
        case notDecomposed
        /// A size, index or debug handle does not fit the `.pte` field that holds it.
        case tooLarge
        /// A value has a type the `.pte` cannot hold (an unbounded dim, a negative size).
        case unsupported
        /// A memory plan fails its check: overlapping live tensors, a misaligned or missing offset.
        case invalidPlan
        /// A pass of the compile pipeline failed (the message is the pass's).
        case pass
        /// The program could not be serialized.
        case serialization
    }

    public var kind: Kind
    public var message: String
    /// The node or value at fault, as ``KilnIR/Graph/describe(_:)`` writes a node.
    public var subject: String?
    /// The model file, when the caller knows it.
    public var file: String?

    public init(_ kind: Kind, _ message: String, subject: String? = nil, file: String? = nil) {
        self.kind = kind
        self.message = message
        self.subject = subject
        self.file = file
    }

    /// A pipeline pass's error, keeping its text.
    init(_ error: PassError) {
        var text = ""
        if let pass = error.pass { text += "\(pass): " }
        self.init(.pass, text + error.message, subject: error.subject, file: error.file)
    }

    public var description: String {
        var text = file.map { "\($0): error: " } ?? "error: "
        if let subject { text += "\(subject): " }
        return text + message
    }
}
