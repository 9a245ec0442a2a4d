/// Every pass, by name: what `kiln check --passes` accepts.
///
/// ```swift
/// PassRegistry.pass(named: "dead-code-elimination")    // DeadCodeElimination()
/// try PassRegistry.passes(named: ["decompose", "cse"])  // throws, listing the valid names
/// ```
public enum PassRegistry {
    /// Every pass type, in the order they are listed.
    public static let all: [any Pass.Type] = [
        DeadCodeElimination.self,
        CommonSubexpressionElimination.self,
        ConstantFolding.self,
        Decompose.self,
        FoldBatchNorm.self,
        SimplifyLayout.self,
        MarkActivationFusion.self,
    ]

    /// Every pass name, in ``all``'s order.
    public static var names: [String] { all.map { $0.name } }

    /// The pass called `name` with its default options, or nil.
    public static func pass(named name: String) -> (any Pass)? {
        all.first { $0.name == name }.map { $0.init() }
    }

    /// The passes called `names`, in order.
    /// - Throws: `.unknownPass` naming the first unknown name and listing the valid ones.
    public static func passes(named names: [String]) throws(PassError) -> [any Pass] {
        var passes: [any Pass] = []
        for name in names {
            guard let pass = pass(named: name) else {
                throw PassError(.unknownPass, "unknown pass '\(name)'; valid passes: \(self.names.joined(separator: ", "))")
            }
            passes.append(pass)
        }
        return passes
    }
}
