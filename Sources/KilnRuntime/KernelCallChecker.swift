import KilnOps
import KilnPTE
import KilnTensor

/// Checks one KernelCall against its op when the program loads, so that running it can only
/// fail on data: the argument count (one per op parameter, one out tensor per result, one
/// return value: ExecuTorch's `parameters + outs + 1`), each argument's kind, and the out
/// tensors' types against what the op's shape rule gives for the inputs' planned types. An op
/// returning `Tensor[]` has one out argument, a TensorList, and returns a TensorList of the same
/// tensors.
///
/// Argument decoding follows the way ExecuTorch's emitter (and Kiln's) writes them:
///
/// | parameter | EValue |
/// |---|---|
/// | `Tensor` | a Tensor |
/// | `Tensor[]` | a TensorList |
/// | `int`, `bool` | an Int, a Bool |
/// | `float` | a Double (or an Int, widened) |
/// | `Scalar` | an Int or a Double, as written |
/// | `int[]` | an IntList (of Int EValues, dereferenced) |
/// | `ScalarType` | an Int holding the `.pte` ScalarType code |
/// | `str` | a String |
/// | absent optional | a Null |
///
/// A `dtype` the out tensor carries (``KilnOps/KernelCallForm/outDType``: `full.out` has none)
/// has no argument; it is given the first out tensor's dtype.
struct KernelCallChecker {
    let values: [ValueSpec]
    let info: InstructionInfo
    let method: String

    func check(_ op: ResolvedOperator, args: [Int]) throws(RuntimeError) -> KernelSpec {
        let schema = op.schema
        // A dtype the out tensor carries has no argument (see KernelCallForm).
        let parameters = schema.kernelCallParameters.count
        // A `Tensor[]` result is one out argument: a TensorList.
        let outArguments = schema.resultCount ?? 1
        let expected = parameters + outArguments + 1
        guard args.count == expected else {
            let outs = schema.returnsTensorList ? "1 out TensorList"
                : "\(outArguments) out tensor\(outArguments == 1 ? "" : "s")"
            throw fail(.invalidArguments, "has \(args.count) arguments, expected \(expected): \(parameters) for "
                       + "\(schema.signature), \(outs) and the return value")
        }
        let outs: [Int]
        if schema.returnsTensorList {
            guard case .tensorList(let items) = values[args[parameters]] else {
                throw fail(.invalidArguments, "out argument %\(args[parameters]) is \(values[args[parameters]].kindName), "
                           + "expected a TensorList")
            }
            outs = items
        } else {
            outs = Array(args[parameters..<(parameters + outArguments)])
        }
        var outSpecs: [TensorSpec] = []
        for out in outs {
            guard let spec = values[out].tensor else {
                throw fail(.invalidArguments, "out argument %\(out) is \(values[out].kindName), expected a Tensor")
            }
            guard !spec.isConstant else {
                throw fail(.invalidArguments, "out argument %\(out) is a constant; a kernel may not write constants")
            }
            outSpecs.append(spec)
        }
        var arguments: [Argument<Int>] = []
        var next = 0
        for parameter in schema.parameters {
            guard parameter.form == .argument else {
                guard let out = outSpecs.first else {
                    throw fail(.invalidArguments, "'\(parameter.name)' is the out tensor's dtype, and there is no out tensor")
                }
                arguments.append(.dtype(out.dtype))
                continue
            }
            let value = args[next]
            next += 1
            guard let argument = decode(parameter.kind, value) else {
                throw fail(.invalidArguments, "argument '\(parameter.name)' is \(values[value].kindName) %\(value), "
                           + "expected \(parameter.kind)")
            }
            arguments.append(argument)
        }
        let returned = args[expected - 1]
        switch values[returned] {
        case .tensor where schema.resultCount == 1:
            break
        case .tensorList(let items) where schema.resultCount != 1:
            guard items == outs else {
                throw fail(.invalidArguments, "the return value %\(returned) lists \(items), expected the outs \(outs)")
            }
        default:
            throw fail(.invalidArguments, "the return value %\(returned) is \(values[returned].kindName), expected "
                       + (schema.resultCount == 1 ? "the out Tensor" : "a TensorList of the outs"))
        }

        // Kernels take dense, row-major tensors.
        var tensors = outs
        for a in arguments { tensors += a.tensors }
        for t in tensors {
            guard let spec = values[t].tensor else {
                throw fail(.invalidArguments, "value %\(t) is \(values[t].kindName), expected a Tensor")
            }
            guard spec.isContiguous else {
                throw fail(.unsupported, "tensor %\(t) (\(spec.type)) has dim order \(spec.dimOrder); "
                           + "the portable kernels take row-major tensors")
            }
        }

        // The op's shape rule must give the out tensors' types.
        let typed = arguments.map { $0.map { values[$0].tensor?.type ?? TensorType(.float32, static: []) } }
        let results: [TensorType]
        do {
            results = try schema.inferTypes(typed)
        } catch {
            throw fail(.invalidArguments, error.description)
        }
        guard results.count == outs.count else {
            throw fail(.invalidArguments, "has \(outs.count) out tensor\(outs.count == 1 ? "" : "s"), but \(schema.name) "
                       + "gives \(results.count) for these arguments")
        }
        for (position, (result, spec)) in zip(results, outSpecs).enumerated() where !spec.holds(result) {
            let planned = TensorMeta(valueIndex: outs[position], dtype: spec.dtype, sizes: spec.sizes,
                                     dimOrder: spec.dimOrder, isDynamic: spec.isDynamic)
            throw fail(.invalidArguments, "out tensor %\(outs[position]) is \(planned), but \(schema.name) gives "
                       + "\(result) for these arguments")
        }
        return KernelSpec(op: op, arguments: arguments, outs: outs)
    }

    /// The argument EValue `value` gives a parameter of `kind`, or nil when it cannot.
    private func decode(_ kind: ArgumentKind, _ value: Int) -> Argument<Int>? {
        switch (kind, values[value]) {
        case (.tensor, .tensor): return .tensor(value)
        case (.tensorList, .tensorList(let items)): return .tensorList(items)
        case (.int, .int(let v)): return .int(Int(truncatingIfNeeded: v))
        case (.float, .double(let v)): return .float(v)
        case (.float, .int(let v)): return .float(Double(v))
        case (.bool, .bool(let v)): return .bool(v)
        case (.string, .string(let v)): return .string(v)
        case (.intList, .intList(let items)): return .intList(items.map { Int(truncatingIfNeeded: $0) })
        case (.floatList, .doubleList(let items)): return .floatList(items)
        case (.scalar, .int(let v)): return .int(Int(truncatingIfNeeded: v))
        case (.scalar, .double(let v)): return .float(v)
        case (.scalar, .bool(let v)): return .int(v ? 1 : 0)
        case (.dtype, .int(let code)):
            guard let raw = Int8(exactly: code), let type = PTE.ScalarType(rawValue: raw), let dtype = DType(type) else {
                return nil
            }
            return .dtype(dtype)
        case (.optional, .null): return Argument<Int>.none
        case (.optional(let inner), _): return decode(inner, value)
        default: return nil
        }
    }

    private func fail(_ kind: RuntimeError.Kind, _ message: String) -> RuntimeError {
        RuntimeError(kind, "\(method): \(info): \(message)")
    }
}
