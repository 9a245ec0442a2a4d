import KilnTensor

/// One parameter of an op: name, kind, default (nil for a required parameter), and how a
/// `.pte` KernelCall carries it.
public struct Parameter: Sendable {
    public let name: String
    public let kind: ArgumentKind
    public let defaultValue: Argument<Never>?
    public let form: KernelCallForm

    public init(_ name: String, _ kind: ArgumentKind, default defaultValue: Argument<Never>? = nil,
                form: KernelCallForm = .argument) {
        precondition(form == .argument || kind == .optional(.dtype) || kind == .dtype,
                     "parameter \(name): only a dtype can be carried by the out tensor")
        self.name = name
        self.kind = kind
        self.form = form
        // Optional parameters with no stated default default to none, as in ATen.
        if defaultValue == nil, case .optional = kind {
            self.defaultValue = Argument<Never>.none
        } else {
            self.defaultValue = defaultValue
        }
    }
}

/// How a `.pte` KernelCall carries one parameter of an op.
///
/// ATen's functional creation and cast ops (`full`, `arange.start_step`, `_to_copy`) take a
/// `dtype` that their out variants (`full.out`, `arange.start_out`, `_to_copy.out`) do not have:
/// the out tensor's dtype says it. Such a parameter is left out of the KernelCall, and a runtime
/// reading the call gives it the out tensor's dtype.
///
/// ```swift
/// Parameter("dtype", .optional(.dtype), form: .outDType)
/// ```
public enum KernelCallForm: Hashable, Sendable {
    /// One argument of the KernelCall, in parameter order.
    case argument
    /// No argument: the value is the dtype of the op's first out tensor.
    case outDType
}

/// The ExecuTorch operator an op is emitted as in a `.pte` KernelCall.
public struct PTEOperator: Hashable, Sendable, CustomStringConvertible {
    /// Qualified name, e.g. `aten::addmm`.
    public let name: String
    /// Overload, e.g. `out`.
    public let overload: String

    public init(_ name: String, _ overload: String = "out") {
        self.name = name
        self.overload = overload
    }

    public var description: String { "\(name).\(overload)" }
}

/// How many tensors an op returns.
///
/// ```swift
/// OpSchema(..., results: 3, ...)             // -> (Tensor, Tensor, Tensor)
/// OpSchema(..., results: .tensorList, ...)   // -> Tensor[]: as many as the type rule gives
/// ```
public enum OpResults: Hashable, Sendable, ExpressibleByIntegerLiteral {
    /// A fixed number of tensors (`-> Tensor`, `-> (Tensor, Tensor, Tensor)`); each is its own out
    /// argument in a `.pte` KernelCall.
    case tensors(Int)
    /// `-> Tensor[]` (`split_with_sizes_copy`): the type rule decides how many from the arguments;
    /// a `.pte` KernelCall passes them as one out TensorList.
    case tensorList

    public init(integerLiteral count: Int) { self = .tensors(count) }
}

/// The type rule of an op: from the argument list (tensors as their types) to the result types.
public typealias TypeRule = @Sendable (OpArguments<TensorType>) throws -> [TensorType]

/// One entry of the op table: the single definition of an op that the compiler, the kernels and
/// the runtime share.
///
/// ```swift
/// let relu = OpTable.schema(named: "relu")!
/// try relu.inferTypes([.tensor(TensorType(.float32, static: [2, 3]))])   // [f32[2, 3]]
/// ```
public struct OpSchema: Sendable, Hashable, CustomStringConvertible {
    /// The name used in `.kir` and in plans: ATen's name and overload, with `aten.` left out
    /// (`add.Tensor`, `convolution`, `quantized_decomposed.quantize_per_tensor`).
    public let name: String
    /// One line: what the op computes.
    public let summary: String
    /// Parameters in ATen's order (the order of a `.pte` KernelCall's arguments, less those
    /// whose ``Parameter/form`` is ``KernelCallForm/outDType``).
    public let parameters: [Parameter]
    /// How many tensor results the op has.
    public let results: OpResults
    /// The fixed number of tensor results, or nil for an op returning `Tensor[]`.
    public var resultCount: Int? {
        if case .tensors(let n) = results { return n }
        return nil
    }
    /// True for an op returning `Tensor[]`: its results are one out TensorList in a `.pte`.
    public var returnsTensorList: Bool { results == .tensorList }
    /// The `.pte` operator, or nil when the op is not an ATen core op and must be decomposed
    /// before portable emission.
    public let pte: PTEOperator?
    private let rule: TypeRule

    public init(_ name: String, summary: String, parameters: [Parameter], results: OpResults = 1,
                pte: PTEOperator?, rule: @escaping TypeRule) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.results = results
        self.pte = pte
        self.rule = rule
    }

    /// The parameters a `.pte` KernelCall has an argument for, in order (see ``KernelCallForm``).
    public var kernelCallParameters: [Parameter] { parameters.filter { $0.form == .argument } }

    /// The index of the parameter called `name`.
    public func parameterIndex(_ name: String) -> Int? {
        parameters.firstIndex { $0.name == name }
    }

    /// Checks the argument count and each argument's kind against the parameters.
    public func validate<T>(_ arguments: [Argument<T>]) throws(OpError) {
        guard arguments.count == parameters.count else {
            throw OpError(op: name, "expected \(parameters.count) argument\(parameters.count == 1 ? "" : "s") (\(signature)), got \(arguments.count)")
        }
        for (p, a) in zip(parameters, arguments) where !a.matches(p.kind) {
            throw OpError(op: name, argument: p.name, "expected \(p.kind), got \(a.kindDescription)")
        }
    }

    /// Validates `arguments` and applies the op's shape and dtype rule.
    /// - Throws: ``OpError`` naming the op, the argument at fault and what was expected.
    public func inferTypes(_ arguments: [Argument<TensorType>]) throws(OpError) -> [TensorType] {
        try validate(arguments)
        do {
            let results = try rule(OpArguments(schema: self, values: arguments))
            if let count = resultCount {
                precondition(results.count == count, "\(name): type rule returned \(results.count) results")
            }
            return results
        } catch let e as OpError {
            throw e
        } catch let e as TensorError {
            throw OpError(op: name, e.message)
        } catch {
            throw OpError(op: name, "\(error)")
        }
    }

    /// ATen-style signature: `convolution(Tensor input, Tensor weight, Tensor? bias, ...) -> Tensor`.
    public var signature: String {
        let params = parameters.map { "\($0.kind) \($0.name)" }.joined(separator: ", ")
        let returned: String
        switch results {
        case .tensors(1): returned = "Tensor"
        case .tensors(let n): returned = "(" + Array(repeating: "Tensor", count: n).joined(separator: ", ") + ")"
        case .tensorList: returned = "Tensor[]"
        }
        return "\(name)(\(params)) -> \(returned)"
    }

    public var description: String { signature }
    public static func == (a: OpSchema, b: OpSchema) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// Typed, by-name access to a validated argument list.
///
/// Only built by ``OpSchema`` after ``OpSchema/validate(_:)``, so each accessor's kind matches.
public struct OpArguments<T: Hashable & Sendable>: Sendable {
    public let schema: OpSchema
    public let values: [Argument<T>]

    init(schema: OpSchema, values: [Argument<T>]) {
        self.schema = schema
        self.values = values
    }

    /// A validated argument list; use where the caller has the schema and arguments already.
    public static func validated(_ schema: OpSchema, _ values: [Argument<T>]) throws(OpError) -> OpArguments<T> {
        try schema.validate(values)
        return OpArguments(schema: schema, values: values)
    }

    public subscript(_ name: String) -> Argument<T> {
        guard let i = schema.parameterIndex(name) else {
            preconditionFailure("\(schema.name) has no parameter '\(name)'")
        }
        return values[i]
    }

    public func tensor(_ name: String) -> T {
        guard case .tensor(let t) = self[name] else { preconditionFailure("\(schema.name).\(name) is not a tensor") }
        return t
    }

    public func optionalTensor(_ name: String) -> T? {
        if case .tensor(let t) = self[name] { return t }
        return nil
    }

    public func tensorList(_ name: String) -> [T] {
        guard case .tensorList(let ts) = self[name] else { preconditionFailure("\(schema.name).\(name) is not a tensor list") }
        return ts
    }

    public func int(_ name: String) -> Int {
        guard case .int(let v) = self[name] else { preconditionFailure("\(schema.name).\(name) is not an int") }
        return v
    }

    public func optionalInt(_ name: String) -> Int? {
        if case .int(let v) = self[name] { return v }
        return nil
    }

    public func float(_ name: String) -> Double {
        switch self[name] {
        case .float(let v): return v
        case .int(let v): return Double(v)
        default: preconditionFailure("\(schema.name).\(name) is not a number")
        }
    }

    public func optionalFloat(_ name: String) -> Double? {
        if case .none = self[name] { return nil }
        return float(name)
    }

    /// A `Scalar` argument; `isInteger` tells whether it was written as an int.
    public func scalar(_ name: String) -> (value: Double, isInteger: Bool) {
        if case .int(let v) = self[name] { return (Double(v), true) }
        return (float(name), false)
    }

    public func bool(_ name: String) -> Bool {
        guard case .bool(let v) = self[name] else { preconditionFailure("\(schema.name).\(name) is not a bool") }
        return v
    }

    public func intList(_ name: String) -> [Int] {
        guard case .intList(let v) = self[name] else { preconditionFailure("\(schema.name).\(name) is not an int list") }
        return v
    }

    public func optionalIntList(_ name: String) -> [Int]? {
        if case .intList(let v) = self[name] { return v }
        return nil
    }

    public func floatList(_ name: String) -> [Double] {
        guard case .floatList(let v) = self[name] else { preconditionFailure("\(schema.name).\(name) is not a float list") }
        return v
    }

    public func optionalFloatList(_ name: String) -> [Double]? {
        if case .floatList(let v) = self[name] { return v }
        return nil
    }

    public func string(_ name: String) -> String {
        guard case .string(let v) = self[name] else { preconditionFailure("\(schema.name).\(name) is not a string") }
        return v
    }

    public func dtype(_ name: String) -> DType {
        guard case .dtype(let v) = self[name] else { preconditionFailure("\(schema.name).\(name) is not a dtype") }
        return v
    }

    public func optionalDType(_ name: String) -> DType? {
        if case .dtype(let v) = self[name] { return v }
        return nil
    }

    /// An error about this op, optionally naming the argument at fault.
    public func error(_ message: String, argument: String? = nil) -> OpError {
        OpError(op: schema.name, argument: argument, message)
    }
}
