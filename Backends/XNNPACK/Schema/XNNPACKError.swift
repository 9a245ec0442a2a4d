/// What went wrong in the XNNPACK backend: a payload that does not decode, a partition the
/// compiler cannot lower, or XNNPACK refusing a definition or a run. Messages name the node,
/// value or field at fault.
///
/// ```swift
/// do { _ = try XNNPayload.decode(bytes) } catch { print(error) }   // "xnnpack payload: node 3: input 7 is out of range 0..<5"
/// ```
public struct XNNPACKError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The payload bytes are malformed or inconsistent.
        case payload
        /// The compiler cannot lower a node of the partition.
        case unsupported
        /// XNNPACK returned an error status.
        case library
        /// Delegate arguments do not match the payload (count, size).
        case arguments
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String {
        switch kind {
        case .payload: "xnnpack payload: \(message)"
        case .unsupported: "xnnpack: \(message)"
        case .library: "xnnpack library: \(message)"
        case .arguments: "xnnpack delegate: \(message)"
        }
    }
}
