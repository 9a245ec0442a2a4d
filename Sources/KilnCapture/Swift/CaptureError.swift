/// Why a Swift model could not be captured or loaded, naming the Swift `file:line` of the call at
/// fault, or the weights file and the parameter or tensor.
///
/// ```swift
/// do { _ = try capture(model, inputs: [TensorSpec("x", [1, 256])]) }
/// catch { print(error) }   // MLP.swift:14: linear: argument 'weight': ... (input f32[1, 256], weight f32[512, 128])
/// ```
public struct CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// An op's shape or dtype rule rejected a traced call (the message lists every operand's type).
        case shape
        /// The model was traced wrongly: tensors from two captures mixed, a parameter the model
        /// does not own, a reshape with two symbolic sizes, no output.
        case trace
        /// A ``TensorSpec`` is malformed (a symbol with an empty range, one symbol with two ranges).
        case spec
        /// A file could not be read.
        case io
        /// A safetensors file is malformed: header, dtype, shape or data offsets.
        case safetensors
        /// Weights do not fit the model: missing, unexpected, or with the wrong dtype or shape.
        case load
    }

    /// What went wrong, in a word.
    public var kind: Kind
    /// What went wrong, with the op and the operands' types, or the tensor and field.
    public var message: String
    /// The Swift call that failed, `File.swift:LINE`, when known.
    public var location: String?
    /// The file being read (safetensors), when one is at fault.
    public var file: String?

    public init(_ kind: Kind, _ message: String, location: String? = nil, file: String? = nil) {
        self.kind = kind
        self.message = message
        self.location = location
        self.file = file
    }

    /// `file: location: message`, the parts that are known.
    public var description: String {
        var text = ""
        if let file { text += file + ": " }
        if let location { text += location + ": " }
        return text + message
    }
}
