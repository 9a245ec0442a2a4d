import KilnIR

/// Everything that can go wrong in KilnQuant: an unknown scheme, missing or bad calibration
/// samples, a node the quantizer cannot convert, a failed evaluation.
///
/// The description names the scheme, the sample or the node at fault:
/// `error: %fc1 = linear (#0, loc("fc1")): convert: weight %fc1.weight is not a constant`.
public struct QuantError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong; tests match on it.
    public enum Kind: String, Sendable, CaseIterable {
        /// A scheme string no registered scheme parses (`int9`, `8da4w:g48`).
        case unknownScheme
        /// A static scheme was given no calibration samples.
        case missingCalibration
        /// A sample does not fit the graph (count, dtype or shape of its inputs).
        case badSample
        /// An annotated node cannot be converted (a weight that is not a constant, a shape the
        /// spec cannot apply to).
        case unsupported
        /// The graph evaluator or a rewrite failed (its message kept).
        case evaluation
    }

    public var kind: Kind
    public var message: String
    /// The node or sample at fault.
    public var subject: String?

    public init(_ kind: Kind, _ message: String, subject: String? = nil) {
        self.kind = kind
        self.message = message
        self.subject = subject
    }

    public var description: String {
        "error: " + (subject.map { "\($0): " } ?? "") + message
    }
}
