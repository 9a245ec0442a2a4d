/// Why `GPUCompiler` cannot lower a partition: the message names the node (`%y = relu (#3)`),
/// the op and what the GPU backend needs instead.
///
/// ```swift
/// do { _ = try GPUCompiler().preprocess(partition, compileSpecs: []) }
/// catch let e as GPUCompilerError { print(e) }   // gpu: %y = cumsum (#4): no GPU lowering ...
/// ```
public struct GPUCompilerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of problem this is; tests match on it.
    public enum Kind: String, Sendable {
        /// The op has no GPU lowering.
        case unsupportedOp
        /// An operand or attribute is outside what the shaders take (dtype, rank, symbolic size).
        case unsupportedOperand
        /// The partition needs more than the payload can address (elements, workgroups).
        case tooLarge
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "gpu: \(message)" }
}
