/// Everything the GPU runtime can report: the device is missing, a Vulkan call failed, the
/// payload is malformed (naming the field and index), or a call's arguments do not match it.
///
/// ```swift
/// do { _ = try GPUExecutable(payload: bytes, weights: { _ in nil }) }
/// catch let e as GPURuntimeError where e.kind == .invalidPayload { print(e) }
/// ```
public struct GPURuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong; tests match on it.
    public enum Kind: String, Sendable {
        /// No Vulkan instance or no device with a compute queue.
        case unavailable
        /// A Vulkan call failed (the message names the call and its VkResult).
        case vulkan
        /// The payload is malformed or exceeds the device's limits.
        case invalidPayload
        /// A weight's named data is missing or has the wrong size.
        case missingWeight
        /// A call's arguments do not match the payload's inputs and outputs.
        case arguments
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "gpu backend: \(message)" }
}
