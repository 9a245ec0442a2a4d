import KilnOps
import KilnTensor

/// A model, or a part of one, written in Swift: it maps a traced tensor to a traced tensor, and
/// its parameters are found by name from its stored properties, as in PyTorch's `nn.Module`.
///
/// ```swift
/// final class MLP: Module {
///     let fc1 = Linear(256, 512), fc2 = Linear(512, 10)
///     func callAsFunction(_ x: TracedTensor) -> TracedTensor { fc2(relu(fc1(x))) }
/// }
/// try MLP().load(safetensors: "mlp.safetensors")     // fc1.weight, fc1.bias, fc2.weight, fc2.bias
/// ```
///
/// Parameter paths join property names with dots: a stored ``ModuleParameter`` is a leaf, a stored
/// module (or optional module) a branch, an array of modules or parameters numbers its
/// elements (`layers.3.attention.wq.weight`). Property names are written in snake case
/// (`attnNorm` is `attn_norm`, `runningMean` is `running_mean`) so that paths match PyTorch
/// state dicts; override ``namedChildren()`` to name them otherwise.
public protocol Module {
    /// Applies the module to `x`, recording what it computes.
    func callAsFunction(_ x: TracedTensor) -> TracedTensor

    /// The parameters and submodules under their keys; the default reads the stored properties.
    func namedChildren() -> [(key: String, value: Any)]
}

extension Module {
    public func namedChildren() -> [(key: String, value: Any)] {
        // A subclass's properties come after its superclass's, as PyTorch registers them.
        var mirrors = [Mirror(reflecting: self)]
        while let parent = mirrors[0].superclassMirror { mirrors.insert(parent, at: 0) }
        return mirrors.flatMap(\.children).compactMap { child in
            child.label.map { (snakeCase($0), child.value) }
        }
    }

    /// Every parameter and buffer with its module path, in declaration order (a parameter
    /// reachable twice, a tied weight, keeps its first path).
    public func namedParameters() -> [(path: String, parameter: ModuleParameter)] {
        var found: [(path: String, parameter: ModuleParameter)] = []
        var seen = Set<ObjectIdentifier>()
        collectParameters(self, prefix: "", into: &found, seen: &seen)
        return found
    }
}

/// A module whose nodes all carry the Swift `file:line` that called it (PyTorch's and MLX's
/// built-in layers are of this kind): implement ``forward(_:)``, and `layer(x)` records every node
/// of `forward` at the line of `layer(x)`. Errors inside it then point at the user's call.
///
/// ```swift
/// final class Scale: Layer {
///     let factor: Double
///     init(_ factor: Double) { self.factor = factor }
///     func forward(_ x: TracedTensor) -> TracedTensor { x * factor }
/// }
/// ```
public protocol Layer: Module {
    /// What the layer computes.
    func forward(_ x: TracedTensor) -> TracedTensor
}

extension Layer {
    /// `layer(x)`: ``forward(_:)`` with every node at this call's `file:line`.
    public func callAsFunction(_ x: TracedTensor, file: String = #fileID, line: Int = #line) -> TracedTensor {
        x.tracer.scoped(x.tracer.location(file, line)) { forward(x) }
    }

    /// The call through ``Module`` (from generic code such as ``Sequential``): the nodes carry the
    /// enclosing layer's call site.
    @_disfavoredOverload
    public func callAsFunction(_ x: TracedTensor) -> TracedTensor {
        x.tracer.scoped(x.tracer.operatorLocation) { forward(x) }
    }
}

/// A learned weight or a buffer of a ``Module`` (PyTorch's `nn.Parameter` and registered buffers;
/// not called `Parameter` because KilnOps has one, the op table's): a KilnTensor ``KilnTensor/Tensor`` that
/// ``Module/load(safetensors:)`` replaces and a capture turns into a constant named by its path.
///
/// ```swift
/// let weight = ModuleParameter(zeros: [512, 256])            // f32, filled by load(safetensors:)
/// let cos = ModuleParameter(table, kind: .buffer(persistent: false))
/// ```
public final class ModuleParameter: CustomStringConvertible {
    /// Learned weights and saved buffers are in state dicts; non-persistent buffers are computed.
    public enum Kind: Equatable, Sendable {
        case parameter
        case buffer(persistent: Bool)
    }

    /// The current value; its dtype and shape are what ``Module/load(safetensors:)`` expects.
    public var value: Tensor
    public let kind: Kind

    public init(_ value: Tensor, kind: Kind = .parameter) {
        self.value = value
        self.kind = kind
    }

    /// A parameter of zeros (`dtype` float32 unless given); load weights before capturing.
    public convenience init(zeros shape: [Int], dtype: DType = .float32, kind: Kind = .parameter) {
        // Zero tensors of a valid shape cannot fail; the layers' shapes are checked non-negative first.
        let zeros = (try? Tensor(zeros: dtype, shape: shape.map { Swift.max($0, 0) })) ?? Self.empty(dtype)
        self.init(zeros, kind: kind)
    }

    /// A float32 parameter of ones (normalization weights, running variances).
    public convenience init(ones shape: [Int], kind: Kind = .parameter) {
        let count = shape.reduce(1) { $0 * Swift.max($1, 0) }
        self.init(zeros: shape, kind: kind)
        if let ones = try? Tensor([Float](repeating: 1, count: count), shape: shape) { value = ones }
    }

    /// True when state dicts hold this parameter (not for a non-persistent buffer).
    public var isPersistent: Bool { kind != .buffer(persistent: false) }

    public var description: String { "ModuleParameter(\(value.dtype)\(value.shape))" }

    private static func empty(_ dtype: DType) -> Tensor {
        // A rank-1 tensor with no elements always exists.
        try! Tensor(zeros: dtype, shape: [0])
    }
}

/// `attnNorm` -> `attn_norm`; a leading underscore goes (`_weight` -> `weight`).
func snakeCase(_ name: String) -> String {
    var out = ""
    for c in name.drop(while: { $0 == "_" }) {
        if c.isUppercase {
            if !out.isEmpty { out += "_" }
            out += c.lowercased()
        } else {
            out.append(c)
        }
    }
    return out
}

private func collectParameters(_ value: Any, prefix: String, into found: inout [(path: String, parameter: ModuleParameter)],
                               seen: inout Set<ObjectIdentifier>) {
    func join(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
    if let p = value as? ModuleParameter {
        if seen.insert(ObjectIdentifier(p)).inserted { found.append((prefix, p)) }
        return
    }
    if let module = value as? any Module {
        if type(of: module) is AnyClass {
            guard seen.insert(ObjectIdentifier(module as AnyObject)).inserted else { return }
        }
        for (key, child) in module.namedChildren() {
            collectParameters(child, prefix: join(key), into: &found, seen: &seen)
        }
        return
    }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .optional:
        if let wrapped = mirror.children.first { collectParameters(wrapped.value, prefix: prefix, into: &found, seen: &seen) }
    case .collection:
        for (i, element) in mirror.children.enumerated() {
            collectParameters(element.value, prefix: join(String(i)), into: &found, seen: &seen)
        }
    default:
        return
    }
}
