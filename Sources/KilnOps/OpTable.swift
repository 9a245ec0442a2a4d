/// The op table: every op Kiln knows, defined once, shared by compiler, kernels and runtime.
///
/// ```swift
/// OpTable.schema(named: "linear")?.pte        // nil: decomposed before portable emission
/// OpTable.schema(named: "addmm")?.pte         // aten::addmm.out
/// ```
public enum OpTable {
    /// Every op, in a stable order (grouped by concept).
    public static let all: [OpSchema] =
        linearAlgebraOps + convolutionOps + elementwiseOps + reductionOps + layoutOps
        + normalizationOps + quantizationOps + mathOps + shapingOps + samplingOps

    private static let byName: [String: OpSchema] = {
        var table: [String: OpSchema] = [:]
        for op in all {
            precondition(table[op.name] == nil, "op \(op.name) is defined twice")
            table[op.name] = op
        }
        return table
    }()

    /// The op called `name` (as written in `.kir`), or nil.
    public static func schema(named name: String) -> OpSchema? { byName[name] }

    /// Names of every op, sorted; for "did you mean" messages and listings.
    public static var names: [String] { byName.keys.sorted() }
}
