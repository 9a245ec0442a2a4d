import KilnKernels
import KilnOps

/// One operator of a method's table, resolved to its op and kernel when the program loads.
struct ResolvedOperator {
    /// `aten::addmm.out`.
    let pte: PTEOperator
    let schema: OpSchema
    let entry: KernelEntry
}

/// ExecuTorch operator names to KilnOps schemas: the op table's `pte` field read backwards,
/// built once.
enum OperatorResolver {
    /// Each op's `.pte` operator (name and overload) to the op.
    static let schemas: [PTEOperator: OpSchema] = {
        var table: [PTEOperator: OpSchema] = [:]
        for op in OpTable.all {
            guard let pte = op.pte else { continue }
            if let other = table[pte] {
                preconditionFailure("ops \(other.name) and \(op.name) are both emitted as \(pte)")  // an op-table bug
            }
            table[pte] = op
        }
        return table
    }()

    /// The op and kernel of `op`, or the error naming it.
    ///
    /// - Parameters:
    ///   - index: the operator's index in the method's `operators`, for the message.
    ///   - firstUse: the first instruction that calls it (nil when none does), for the message.
    static func resolve(_ op: PTEOperator, index: Int, firstUse: Int?) throws(RuntimeError) -> ResolvedOperator {
        let place = "operator \(index), " + (firstUse.map { "used by instruction \($0)" } ?? "not used by any instruction")
        guard let schema = schemas[op] else {
            throw RuntimeError(.unknownOperator, "unknown operator \(op) (\(place)): no op in Kiln's op table "
                               + "is emitted as it, so no kernel can run it")
        }
        guard let entry = KernelRegistry.entry(for: schema.name) else {
            throw RuntimeError(.missingKernel, "operator \(op) (\(place)) is the op \(schema.name), "
                               + "which has no portable kernel")
        }
        return ResolvedOperator(pte: op, schema: schema, entry: entry)
    }
}
