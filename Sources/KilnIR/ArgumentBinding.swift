import KilnOps

/// Turns a call written as positional tensors plus named arguments into the op's full argument
/// list, filling defaults. Shared by ``GraphBuilder`` and the `.kir` parser so both read calls
/// the same way.
///
/// Positional arguments fill the op's tensor parameters (`Tensor`, `Tensor?`, `Tensor[]`) in
/// order; everything else is named. A named argument may also name a tensor parameter.
enum ArgumentBinding {
    struct Failure: Error {
        var kind: IRError.Kind
        var message: String
        /// Index of the positional argument, or name of the keyword argument, at fault.
        var positional: Int?
        var keyword: String?
    }

    static func bind<T>(_ schema: OpSchema, positional: [Argument<T>],
                        keywords: [(name: String, value: Argument<T>)]) throws(Failure) -> [Argument<T>] {
        var bound = [Argument<T>?](repeating: nil, count: schema.parameters.count)
        let tensorSlots = schema.parameters.indices.filter { schema.parameters[$0].kind.isTensorLike }
        guard positional.count <= tensorSlots.count else {
            throw Failure(kind: .positionalArgument,
                          message: "\(schema.name) takes \(tensorSlots.count) tensor arguments, \(positional.count) given "
                              + "(other arguments are written name=value)",
                          positional: tensorSlots.count)
        }
        for (i, value) in positional.enumerated() { bound[tensorSlots[i]] = value }
        for (name, value) in keywords {
            guard let i = schema.parameterIndex(name) else {
                let known = schema.parameters.map(\.name).joined(separator: ", ")
                throw Failure(kind: .unknownArgument, message: "\(schema.name) has no argument '\(name)' (it has: \(known))",
                              keyword: name)
            }
            guard bound[i] == nil else {
                throw Failure(kind: .duplicateArgument, message: "argument '\(name)' of \(schema.name) is given twice",
                              keyword: name)
            }
            bound[i] = value
        }
        var result: [Argument<T>] = []
        for (i, p) in schema.parameters.enumerated() {
            if let value = bound[i] {
                result.append(value)
            } else if let d = p.defaultValue {
                result.append(d.widened())
            } else {
                throw Failure(kind: .missingArgument,
                              message: "\(schema.name) needs argument '\(p.name)' (\(p.kind)); signature: \(schema.signature)")
            }
        }
        return result
    }
}
