import KilnIR
import KilnOps
import KilnTensor

/// A tensor inside a capture: it holds no data, only its type, and every call on it records a
/// KilnIR node (with the Swift `file:line` of the call) in the capture's graph.
///
/// Named `TracedTensor` rather than `Tensor` so that code importing both KilnCapture and
/// KilnTensor (whose `Tensor` holds data: weights, inputs, outputs) never needs to qualify either.
///
/// ```swift
/// let graph = try capture(inputs: [TensorSpec("x", [1, 256])]) { x in
///     relu(x[0].matmul(x[0].transposed(0, 1))) * 0.5
/// }
/// ```
///
/// Calls do not throw: the first one that fails (shapes that do not fit, an unknown axis) is
/// kept with its location, later calls record nothing, and ``capture(_:inputs:name:)`` throws it.
/// After a failure the ``type`` of the results is a guess (the first operand's).
public struct TracedTensor: CustomStringConvertible {
    let tracer: Tracer
    /// The graph value; nil when this call or an earlier one failed.
    let id: ValueID?
    /// Element type and shape (dims may be symbolic).
    public let type: TensorType

    init(tracer: Tracer, id: ValueID?, type: TensorType) {
        self.tracer = tracer
        self.id = id
        self.type = type
    }

    /// The shape; symbolic dims (`seq`) are ``KilnOps/Dim``s with a symbol.
    public var shape: [Dim] { type.shape }
    /// The element type.
    public var dtype: DType { type.dtype }
    /// The number of dims.
    public var rank: Int { type.rank }
    /// `TracedTensor(f32[1, seq, 256])`.
    public var description: String { "TracedTensor(\(type))" }

    /// Records `op` on `self` and `others` at `location`; its single result.
    func apply(_ op: String, _ others: [TracedTensor?] = [], _ attributes: KeyValuePairs<String, Argument<ValueID>> = [:],
               at location: String?) -> TracedTensor {
        tracer.record(op, [self] + others, attributes, at: location)[0]
    }

    /// A parameter of the captured model as a value of this tensor's trace (a constant named by
    /// the parameter's module path), for custom layers: `x.matmul(x.use(weight).transposed(0, 1))`.
    public func use(_ parameter: ModuleParameter, file: String = #fileID, line: Int = #line) -> TracedTensor {
        tracer.value(of: parameter, at: sourceLocation(file, line))
    }

    func use(_ parameter: ModuleParameter, at location: String?) -> TracedTensor {
        tracer.value(of: parameter, at: location)
    }
}
