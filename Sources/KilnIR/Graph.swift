import KilnOps
import KilnTensor

/// Identifies a value of one graph (an index into ``Graph/values``).
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: ValueID, b: ValueID) -> Bool { a.index < b.index }
    public var description: String { "v\(index)" }
}

/// Where a node came from: a capture site (`model.swift:12`), an ONNX node name, a module path.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public init(_ text: String) { self.text = text }
    public var description: String { text }
}

/// One SSA value: a graph input, a constant, or a node result.
public struct Value: Sendable {
    /// How the value is defined.
    public enum Definition: Sendable {
        case input
        /// A constant with its data (which may borrow from a memory-mapped sidecar file).
        case constant(Tensor)
        /// Result `result` of node `node` (an index into ``Graph/nodes``).
        case result(node: Int, result: Int)
    }

    /// Name in the text form, without the `%`.
    public var name: String
    public var type: TensorType
    public var definition: Definition

    public init(name: String, type: TensorType, definition: Definition) {
        self.name = name
        self.type = type
        self.definition = definition
    }

    /// The constant data, if this value is a constant.
    public var constantData: Tensor? {
        if case .constant(let t) = definition { return t }
        return nil
    }
}

/// A fact a pass records on a node for later stages: a fused activation's bounds, a
/// quantization spec, a backend's choice. Annotations never change what the node computes;
/// the `.kir` form prints them after the location: `{fused_activation = "relu"}`.
public enum Annotation: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case float(Double)
    case bool(Bool)

    /// As the text form writes it: `"relu"`, `3`, `6.0`, `true`.
    public var description: String {
        switch self {
        case .string(let s): return quoted(s)
        case .int(let v): return String(v)
        case .float(let v): return v.description
        case .bool(let v): return v ? "true" : "false"
        }
    }

    /// Equality that treats floats by bit pattern (so a NaN annotation equals itself).
    public static func == (a: Annotation, b: Annotation) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.float(let x), .float(let y)): return x.bitPattern == y.bitPattern
        case (.bool(let x), .bool(let y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .string(let s): hasher.combine(0); hasher.combine(s)
        case .int(let v): hasher.combine(1); hasher.combine(v)
        case .float(let v): hasher.combine(2); hasher.combine(v.bitPattern)
        case .bool(let v): hasher.combine(3); hasher.combine(v)
        }
    }
}

/// One op application.
public struct Node: Sendable {
    public var op: OpSchema
    /// Arguments in the op's parameter order; tensors refer to values.
    public var arguments: [Argument<ValueID>]
    public var results: [ValueID]
    /// Stable identity that survives passes, carried into the `.pte` and plans.
    public var debugHandle: Int
    public var location: SourceLocation?
    /// Facts passes recorded for later stages (see ``Annotation``), by key.
    public var annotations: [String: Annotation]

    public init(op: OpSchema, arguments: [Argument<ValueID>], results: [ValueID], debugHandle: Int,
                location: SourceLocation? = nil, annotations: [String: Annotation] = [:]) {
        self.op = op
        self.arguments = arguments
        self.results = results
        self.debugHandle = debugHandle
        self.location = location
        self.annotations = annotations
    }

    /// Every value the node reads, in argument order.
    public var operands: [ValueID] { arguments.flatMap(\.tensors) }
}

/// A model as SSA values in topological order: inputs, constants, nodes, outputs.
///
/// ```swift
/// var b = GraphBuilder(name: "forward")
/// let x = try b.input("x", TensorType(.float32, static: [1, 4]))
/// let y = try b.call("relu", [x])[0]
/// b.output(y)
/// let graph = try b.finish()
/// ```
public struct Graph: Sendable {
    /// The method name (`forward`).
    public var name: String
    /// Symbols the shapes may use, with their ranges.
    public var symbols: [Symbol]
    /// Every value; ``ValueID`` indexes this.
    public var values: [Value]
    public var inputs: [ValueID]
    /// Constants in declaration order.
    public var constants: [ValueID]
    public var nodes: [Node]
    public var outputs: [ValueID]
    /// The partitions backends compiled, called by ``OpSchema/delegateCallName`` nodes (empty
    /// until the `lower` stage).
    public var delegates: [LoweredDelegate]

    public init(name: String, symbols: [Symbol] = [], values: [Value] = [], inputs: [ValueID] = [],
                constants: [ValueID] = [], nodes: [Node] = [], outputs: [ValueID] = [],
                delegates: [LoweredDelegate] = []) {
        self.name = name
        self.symbols = symbols
        self.values = values
        self.inputs = inputs
        self.constants = constants
        self.nodes = nodes
        self.outputs = outputs
        self.delegates = delegates
    }

    public subscript(_ id: ValueID) -> Value {
        get { values[id.index] }
        set { values[id.index] = newValue }
    }

    /// The type of a value.
    public func type(of id: ValueID) -> TensorType { values[id.index].type }

    /// The node that defines `id`, if it is a node result.
    public func definingNode(of id: ValueID) -> Node? {
        if case .result(let n, _) = values[id.index].definition { return nodes[n] }
        return nil
    }

    /// How a node reads in messages: `%3 = convolution (#5, loc("blocks.0.conv"))`.
    public func describe(_ node: Node) -> String {
        let results = node.results.map { $0.index >= 0 && $0.index < values.count ? "%" + values[$0.index].name : "%?" }
        var text = "\(results.joined(separator: ", ")) = \(node.op.name) (#\(node.debugHandle)"
        if let loc = node.location { text += ", loc(\"\(loc.text)\")" }
        return text + ")"
    }

    /// One more than the largest debug handle in use (0 for no nodes); `Int.max` once that is
    /// in use, so a handle read from a file cannot make it overflow.
    public var nextDebugHandle: Int {
        let largest = nodes.map(\.debugHandle).max() ?? -1
        return largest < Int.max ? largest + 1 : Int.max
    }
}
