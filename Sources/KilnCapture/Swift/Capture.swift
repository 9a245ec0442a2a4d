import KilnIR
import KilnOps
import KilnTensor

/// One input of a capture: its name, dtype and shape, whose sizes may be bounded symbols.
///
/// ```swift
/// TensorSpec("x", [1, .symbol("seq", max: 128), 256])     // f32[1, seq, 256], seq in 1...128
/// TensorSpec("tokens", [1, 32], dtype: .int64)
/// ```
public struct TensorSpec: Sendable, Hashable, CustomStringConvertible {
    /// One size: fixed, or a symbol with a range (the same name in two specs is the same size).
    public enum Size: Sendable, Hashable, ExpressibleByIntegerLiteral, CustomStringConvertible {
        /// A static size.
        case fixed(Int)
        /// A bounded symbol (KilnIR's `symbol seq in 1...128`); memory is planned at the bound.
        case symbolic(String, ClosedRange<Int>)

        public init(integerLiteral value: Int) { self = .fixed(value) }

        /// A symbol in `1...max`.
        public static func symbol(_ name: String, max: Int) -> Size { .symbolic(name, 1...Swift.max(max, 1)) }

        /// A symbol in `range`.
        public static func symbol(_ name: String, in range: ClosedRange<Int>) -> Size { .symbolic(name, range) }

        public var description: String {
            switch self {
            case .fixed(let n): "\(n)"
            case .symbolic(let name, let range): "\(name) in \(range.lowerBound)...\(range.upperBound)"
            }
        }
    }

    /// The graph input's name (`%x`).
    public var name: String
    /// Its sizes, fixed or symbolic.
    public var shape: [Size]
    /// Its element type; float32 unless given.
    public var dtype: DType

    public init(_ name: String, _ shape: [Size], dtype: DType = .float32) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
    }

    public var description: String { "\(name): \(dtype)[\(shape.map(\.description).joined(separator: ", "))]" }
}

/// Traces `model` on one input of `spec` into a verified graph named `name`: each call the
/// model makes becomes a node located at its Swift `file:line`, each parameter it uses a
/// constant named by its module path (`blocks.0.conv.weight`), in order of first use.
///
/// ```swift
/// let graph = try capture(MLP(), inputs: [TensorSpec("x", [.symbol("batch", max: 8), 256])])
/// print(KIRPrinter.print(graph))
/// ```
/// - Throws: ``CaptureError``: the first failing call (kind `.shape`, with its `file:line` and
///   every operand's type), or a malformed spec.
public func capture(_ model: some Module, inputs specs: [TensorSpec], name: String = "forward",
                    file: String = #fileID, line: Int = #line) throws(CaptureError) -> Graph {
    guard specs.count == 1 else {
        throw CaptureError(.spec, "a Module takes one input, \(specs.count) specs given; use capture(inputs:parameters:_:)",
                           location: sourceLocation(file, line))
    }
    return try capture(inputs: specs, parameters: model, name: name, file: file, line: line) { [model($0[0])] }
}

/// Traces `body` on inputs of `specs` (for models with several inputs or outputs); the
/// parameters it uses are named by their paths in `parameters`.
///
/// ```swift
/// let graph = try capture(inputs: [TensorSpec("a", [4, 8]), TensorSpec("b", [8, 2])]) { t in
///     [relu(t[0].matmul(t[1]))]
/// }
/// ```
public func capture(inputs specs: [TensorSpec], parameters: (any Module)? = nil, name: String = "forward",
                    file: String = #fileID, line: Int = #line,
                    _ body: ([TracedTensor]) -> [TracedTensor]) throws(CaptureError) -> Graph {
    var paths: [ObjectIdentifier: String] = [:]
    for (path, parameter) in parameters?.namedParameters() ?? [] {
        paths[ObjectIdentifier(parameter)] = path
    }
    let tracer = Tracer(name: name, parameterPaths: paths)
    tracer.rootLocation = sourceLocation(file, line)
    var symbols: [String: Symbol] = [:]
    var inputs: [TracedTensor] = []
    for spec in specs {
        var dims: [Dim] = []
        for size in spec.shape {
            switch size {
            case .fixed(let n):
                guard n >= 0 else { throw CaptureError(.spec, "input '\(spec.name)' has size \(n), which is negative") }
                dims.append(Dim(n))
            case .symbolic(let symbolName, let range):
                guard range.lowerBound >= 0 else {
                    throw CaptureError(.spec, "symbol '\(symbolName)' has range \(range.lowerBound)...\(range.upperBound), which can be negative")
                }
                if let known = symbols[symbolName] {
                    guard known.range == range else {
                        throw CaptureError(.spec, "symbol '\(symbolName)' is given ranges \(known.range.lowerBound)...\(known.range.upperBound) "
                                           + "and \(range.lowerBound)...\(range.upperBound)")
                    }
                    dims.append(Dim(known))
                } else {
                    let symbol = tracer.symbol(symbolName, range: range)
                    symbols[symbolName] = symbol
                    dims.append(Dim(symbol))
                }
            }
        }
        inputs.append(try tracer.input(spec.name, TensorType(spec.dtype, dims)))
    }
    let outputs = body(inputs)
    return try tracer.finish(outputs)
}
