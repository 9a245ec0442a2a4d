/// Everything that can go wrong in KilnTensor: bad shapes, bad data, bad `.npy` files.
///
/// Every case carries the text a user sees; `path` names the file at fault where there is one.
public struct TensorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of problem this is; tests match on it.
    public enum Kind: String, Sendable {
        case invalidShape
        case sizeOverflow
        case dtypeMismatch
        case dataSizeMismatch
        case broadcast
        case io
        case npyFormat
        case npyUnsupported
        case truncated
    }

    public var kind: Kind
    public var message: String
    public var path: String?

    public init(_ kind: Kind, _ message: String, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}
