/// An op's arguments or input types break its rules (shape, dtype, argument kind or range).
///
/// The message names the op and, where one is at fault, the argument; callers (the IR verifier,
/// the runtime's loader) add the node or instruction it came from.
public struct OpError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The op's table name, e.g. `convolution`.
    public var op: String
    /// The argument at fault, when there is one.
    public var argument: String?
    /// What was wrong and what was expected.
    public var message: String

    public init(op: String, argument: String? = nil, _ message: String) {
        self.op = op
        self.argument = argument
        self.message = message
    }

    public var description: String {
        if let argument { return "\(op): argument '\(argument)': \(message)" }
        return "\(op): \(message)"
    }
}
