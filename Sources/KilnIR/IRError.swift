/// Everything that can go wrong in KilnIR: text that does not parse, graphs that do not verify,
/// files that cannot be read or written.
///
/// The description is what a user sees: `model.kir:12:7: error: ...` for text, and
/// `node %3 = convolution (#5, loc("conv1")): ...` for graph problems.
public struct IRError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong; tests match on it (one per parser error and per verifier message).
    public enum Kind: String, Sendable, CaseIterable {
        // Text form.
        case unexpectedCharacter
        case unterminatedString
        case expectedToken
        case badVersion
        case badNumber
        case unknownOp
        case unknownValue
        case unknownDType
        case unknownSymbol
        case unknownArgument
        case duplicateArgument
        case missingArgument
        case positionalArgument
        case argumentKind
        case denseData
        case sidecar
        // Graph structure and types (the verifier).
        case duplicateName
        case invalidName
        case negativeDim
        case undefinedValue
        case arity
        case opRule
        case resultCount
        case resultType
        case constantData
        case dynamicConstant
        case symbolRange
        case duplicateSymbol
        case noOutputs
        case duplicateHandle
        // Files.
        case io
    }

    public var kind: Kind
    public var message: String
    /// The file the problem is in, when known.
    public var file: String?
    /// 1-based line and column in the text, for text-form problems.
    public var line: Int?
    public var column: Int?
    /// The node or value at fault, as printed in `.kir` (`%3 = convolution (#5, loc("conv1"))`).
    public var subject: String?

    public init(_ kind: Kind, _ message: String, file: String? = nil, line: Int? = nil, column: Int? = nil,
                subject: String? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.subject = subject
    }

    public var description: String {
        var prefix = ""
        if let file { prefix += file + ":" }
        if let line, let column { prefix += "\(line):\(column):" }
        if !prefix.isEmpty { prefix += " " }
        prefix += "error: "
        if let subject { prefix += "\(subject): " }
        return prefix + message
    }
}
