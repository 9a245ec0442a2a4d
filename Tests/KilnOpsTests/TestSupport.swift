import KilnOps
import KilnTensor
import Testing

// Shared vocabulary of the op tests: tensor types written as `t(.float32, 2, seq)`, argument lists
// written by parameter name with defaults filled in, and table-driven cases (`OpCase`) that each op
// group lists and `OpTableTests` checks for coverage.

/// Bounded dims the op cases share: a sequence length, a second length, a batch and an image height.
let seq = Dim(Symbol("seq", range: 1...128))
let len = Dim(Symbol("len", range: 1...64))
let batch = Dim(Symbol("batch", range: 1...8))
let height = Dim(Symbol("h", range: 1...224))

/// A tensor argument of `dtype` and `dims`: `t(.float32, 1, seq, 256)`.
func t(_ dtype: DType, _ dims: Dim...) -> Argument<TensorType> {
    .tensor(TensorType(dtype, dims))
}

/// A tensor-list argument of the given tensor arguments.
func list(_ tensors: Argument<TensorType>...) -> Argument<TensorType> {
    .tensorList(tensors.flatMap(\.tensors))
}

/// A mistake in a test's own argument list (not an op error).
struct ArgumentListError: Error, CustomStringConvertible {
    var description: String
}

/// The schema called `name`, or an error naming it.
func schema(_ name: String) throws -> OpSchema {
    guard let schema = OpTable.schema(named: name) else {
        throw ArgumentListError(description: "no op named '\(name)'")
    }
    return schema
}

/// The full positional argument list of `op`: each parameter takes its value from `named`, or
/// else its default (`Tensor?` parameters default to none).
///
/// ```swift
/// try args(schema("linear"), ["input": t(.float32, 2, 3), "weight": t(.float32, 4, 3)])
/// // [input, weight, .none]
/// ```
/// - Throws: ``ArgumentListError`` for a name the op does not have, or a required parameter
///   left out.
func args(_ op: OpSchema, _ named: [String: Argument<TensorType>]) throws -> [Argument<TensorType>] {
    for name in named.keys where op.parameterIndex(name) == nil {
        throw ArgumentListError(description: "\(op.name) has no parameter '\(name)'")
    }
    return try op.parameters.map { p in
        if let value = named[p.name] { return value }
        guard let value: Argument<TensorType> = p.defaultValue?.widened() else {
            throw ArgumentListError(description: "\(op.name): required parameter '\(p.name)' is missing")
        }
        return value
    }
}

/// Infers `op`'s result types from arguments given by name.
func infer(_ op: String, _ named: [String: Argument<TensorType>]) throws -> [TensorType] {
    let found = try schema(op)
    return try found.inferTypes(try args(found, named))
}

/// One call of an op and what its type rule must answer.
struct OpCase: Sendable, CustomTestStringConvertible {
    enum Expectation: Sendable {
        /// The result types, as `.kir` type text (`f32[1, seq, 64]`).
        case types([String])
        /// An ``OpError`` at `argument` (nil: none named) whose message contains every phrase.
        case error(argument: String?, phrases: [String])
    }

    let op: String
    let arguments: [String: Argument<TensorType>]
    let expectation: Expectation
    /// What the case is about, shown in test output.
    let label: String
    /// Where the case is written: failures are reported there.
    let sourceLocation: SourceLocation

    /// The op infers `results` (one type text per result).
    static func ok(_ op: String, _ label: String, _ arguments: [String: Argument<TensorType>],
                   _ results: String..., sourceLocation: SourceLocation = #_sourceLocation) -> OpCase {
        OpCase(op: op, arguments: arguments, expectation: .types(results), label: label,
               sourceLocation: sourceLocation)
    }

    /// The op rejects the call with an error at `argument` whose message contains each phrase.
    static func fails(_ op: String, _ label: String, _ arguments: [String: Argument<TensorType>],
                      argument: String?, _ phrases: String...,
                      sourceLocation: SourceLocation = #_sourceLocation) -> OpCase {
        OpCase(op: op, arguments: arguments, expectation: .error(argument: argument, phrases: phrases),
               label: label, sourceLocation: sourceLocation)
    }

    var isPositive: Bool {
        if case .types = expectation { return true }
        return false
    }

    var testDescription: String { "\(op): \(label)" }

    /// Runs the case, recording an issue (at the case's line) for each way the answer differs
    /// from the expectation.
    func check() {
        let found: OpSchema
        let list: [Argument<TensorType>]
        do {
            found = try schema(op)
            list = try args(found, arguments)
        } catch {
            Issue.record(error, sourceLocation: sourceLocation)
            return
        }
        switch expectation {
        case .types(let expected):
            do {
                let result = try found.inferTypes(list)
                #expect(result.map(\.description) == expected, sourceLocation: sourceLocation)
            } catch {
                Issue.record(error, "expected \(expected)", sourceLocation: sourceLocation)
            }
        case .error(let argument, let phrases):
            let error = #expect(throws: OpError.self, sourceLocation: sourceLocation) {
                try found.inferTypes(list)
            }
            guard let error else { return }
            #expect(error.op == op, sourceLocation: sourceLocation)
            #expect(error.argument == argument, "\(error)", sourceLocation: sourceLocation)
            for phrase in phrases {
                #expect(error.message.contains(phrase), "\(error)", sourceLocation: sourceLocation)
            }
        }
    }
}

/// Every case of every op group; `OpTableTests` checks each op has a positive one.
let allOpCases: [OpCase] =
    linearAlgebraCases + spatialCases + elementwiseCases + reductionCases + layoutCases
    + normalizationCases + quantizationCases + samplingCases + mathCases + shapingCases
