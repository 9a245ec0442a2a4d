import KilnTensor

/// The kind of one op parameter, in ATen's schema vocabulary.
public indirect enum ArgumentKind: Hashable, Sendable, CustomStringConvertible {
    case tensor
    case tensorList
    case int
    case float
    case bool
    case intList
    /// A list of floats (ATen's `float[]`, a `.pte` DoubleList).
    case floatList
    /// An int or a float (ATen's `Scalar`).
    case scalar
    /// A dtype (ATen's `ScalarType`).
    case dtype
    /// A string (ATen's `str`, such as gelu's `approximate`).
    case string
    case optional(ArgumentKind)

    /// True for `Tensor`, `Tensor?` and `Tensor[]`: the arguments that are graph values.
    public var isTensorLike: Bool {
        switch self {
        case .tensor, .tensorList: return true
        case .optional(let k): return k.isTensorLike
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .tensor: return "Tensor"
        case .tensorList: return "Tensor[]"
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        case .intList: return "int[]"
        case .floatList: return "float[]"
        case .scalar: return "Scalar"
        case .dtype: return "ScalarType"
        case .string: return "str"
        case .optional(let k): return "\(k)?"
        }
    }
}

/// One argument of an op call. `T` is what a tensor argument refers to: a graph value in the IR,
/// a ``TensorType`` in shape inference, a runtime slot in the interpreter.
///
/// `Argument<Never>` can hold no tensor: it is the type of parameter defaults.
public enum Argument<T: Hashable & Sendable>: Hashable, Sendable {
    case tensor(T)
    case tensorList([T])
    case int(Int)
    case float(Double)
    case bool(Bool)
    case intList([Int])
    case floatList([Double])
    case dtype(DType)
    case string(String)
    /// An absent optional argument.
    case none

    /// True when the argument is acceptable for a parameter of `kind`.
    public func matches(_ kind: ArgumentKind) -> Bool {
        switch (kind, self) {
        case (.tensor, .tensor), (.tensorList, .tensorList), (.int, .int), (.float, .float),
             (.bool, .bool), (.intList, .intList), (.floatList, .floatList),
             (.dtype, .dtype), (.string, .string),
             (.scalar, .int), (.scalar, .float):
            return true
        case (.optional, .none):
            return true
        case (.optional(let inner), _):
            return matches(inner)
        default:
            return false
        }
    }

    /// The same argument with its tensor references transformed.
    public func map<U>(_ transform: (T) throws -> U) rethrows -> Argument<U> {
        switch self {
        case .tensor(let t): return .tensor(try transform(t))
        case .tensorList(let ts): return .tensorList(try ts.map(transform))
        case .int(let v): return .int(v)
        case .float(let v): return .float(v)
        case .bool(let v): return .bool(v)
        case .intList(let v): return .intList(v)
        case .floatList(let v): return .floatList(v)
        case .dtype(let v): return .dtype(v)
        case .string(let v): return .string(v)
        case .none: return .none
        }
    }

    /// The tensors this argument refers to, in order.
    public var tensors: [T] {
        switch self {
        case .tensor(let t): return [t]
        case .tensorList(let ts): return ts
        default: return []
        }
    }

    /// What kind of argument this is, for error messages.
    public var kindDescription: String {
        switch self {
        case .tensor: return "a tensor"
        case .tensorList: return "a tensor list"
        case .int: return "an int"
        case .float: return "a float"
        case .bool: return "a bool"
        case .intList: return "an int list"
        case .floatList: return "a float list"
        case .dtype: return "a dtype"
        case .string: return "a string"
        case .none: return "none"
        }
    }
}

extension Argument where T == Never {
    /// A default value as an argument of any tensor reference type.
    public func widened<U>() -> Argument<U> {
        map { never -> U in }
    }
}
