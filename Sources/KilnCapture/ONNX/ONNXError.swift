/// Why an ONNX model could not be imported, naming the file and, where one is at fault, the
/// node (its name and op type) and the input or attribute.
///
/// ```swift
/// do { _ = try ONNXImporter.import(path: "model.onnx") }
/// catch let e as ONNXError { print(e) }   // model.onnx: node 'conv1' (Conv): attribute 'pads': ...
/// ```
public struct ONNXError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// The file could not be read.
        case io
        /// The bytes are not a valid (or are a truncated) ModelProto / TensorProto.
        case invalidProtobuf
        /// The model has no graph, or a graph input/output without a tensor type.
        case invalidModel
        /// A node reads a name no input, initializer or earlier node defines.
        case danglingInput
        /// The nodes' inputs and outputs form a cycle.
        case cyclicGraph
        /// A tensor's data does not have the size its dims and dtype give.
        case tensorSize
        /// A tensor or value uses an element type Kiln does not have.
        case unsupportedDType
        /// Op types Kiln does not import (one error lists all of them).
        case unsupportedOps
        /// An op is known but this use of it is not (an attribute value, a non-constant shape).
        case unsupportedUse
        /// An attribute or input is missing or malformed.
        case invalidAttribute
        /// A free input dimension without --input-shape, or an --input-shape that does not fit.
        case inputShape
        /// Kiln rejected the graph built for a node (its op rule failed).
        case graph
    }

    public var kind: Kind
    public var message: String
    /// The model file, when known.
    public var file: String?
    /// The node at fault: `'conv1' (Conv)`.
    public var node: String?
    /// For `.unsupportedUse` errors about a value that must be known at import time (a shape,
    /// axes, pads): that value's ONNX name. Binding it with `constantInputs` when it is a graph
    /// input lets the import proceed.
    public var constantNeeded: String?

    public init(_ kind: Kind, _ message: String, file: String? = nil, node: String? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.node = node
    }

    public var description: String {
        var text = ""
        if let file { text += file + ": " }
        if let node { text += "node " + node + ": " }
        return text + message
    }
}
