import KilnIR

/// What one pass did to the graph's size.
public struct PassStatistics: Equatable, Sendable, CustomStringConvertible {
    /// The pass's name.
    public var pass: String
    public var nodesBefore: Int
    public var nodesAfter: Int
    public var constantsBefore: Int
    public var constantsAfter: Int

    public init(pass: String, nodesBefore: Int, nodesAfter: Int, constantsBefore: Int, constantsAfter: Int) {
        self.pass = pass
        self.nodesBefore = nodesBefore
        self.nodesAfter = nodesAfter
        self.constantsBefore = constantsBefore
        self.constantsAfter = constantsAfter
    }

    /// `decompose: 8 -> 14 nodes, 6 -> 6 constants`.
    public var description: String {
        "\(pass): \(nodesBefore) -> \(nodesAfter) nodes, \(constantsBefore) -> \(constantsAfter) constants"
    }
}

/// Runs passes in order, verifying the graph after each one and printing it after the ones
/// named in ``dumpAfter``.
///
/// ```swift
/// var manager = PassManager([Decompose(), ConstantFolding(), DeadCodeElimination()])
/// manager.dumpAfter = ["decompose"]
/// manager.dump = { pass, text in print("// after \(pass)\n" + text) }
/// let stats = try manager.run(&graph)
/// ```
public struct PassManager: Sendable {
    /// Verification after every pass is on in debug builds (and the tests turn it on always).
    public static let verifiesByDefault = _isDebugAssertConfiguration()

    /// The passes, in the order they run.
    public var passes: [any Pass]
    /// Run ``KilnIR/Verifier`` after every pass; a failure is a `.verification` error naming the pass.
    public var verifyEachPass: Bool
    /// Names of the passes after which ``dump`` receives the printed graph.
    public var dumpAfter: Set<String>
    /// How dumps print constant data.
    public var dumpConstants: KIRPrinter.Constants
    /// Receives the pass name and the `.kir` text after each pass in ``dumpAfter``.
    public var dump: @Sendable (_ pass: String, _ text: String) -> Void

    public init(_ passes: [any Pass], verifyEachPass: Bool = PassManager.verifiesByDefault,
                dumpAfter: Set<String> = [], dumpConstants: KIRPrinter.Constants = .inline,
                dump: @escaping @Sendable (_ pass: String, _ text: String) -> Void = { _, _ in }) {
        self.passes = passes
        self.verifyEachPass = verifyEachPass
        self.dumpAfter = dumpAfter
        self.dumpConstants = dumpConstants
        self.dump = dump
    }

    /// Runs every pass on `graph`, which changes only when all of them succeed.
    /// - Returns: one ``PassStatistics`` per pass run.
    /// - Throws: the first ``PassError``, with ``PassError/pass`` set.
    @discardableResult
    public func run(_ graph: inout Graph) throws(PassError) -> [PassStatistics] {
        var current = graph
        var statistics: [PassStatistics] = []
        for pass in passes {
            let name = pass.name
            let (nodes, constants) = (current.nodes.count, current.constants.count)
            do {
                try pass.run(&current)
            } catch {
                var e = error
                if e.pass == nil { e.pass = name }
                throw e
            }
            if verifyEachPass {
                do {
                    try Verifier.verify(current)
                } catch {
                    throw PassError(.verification, "the graph does not verify after this pass: \(error.message)",
                                    pass: name, subject: error.subject)
                }
            }
            statistics.append(PassStatistics(pass: name, nodesBefore: nodes, nodesAfter: current.nodes.count,
                                             constantsBefore: constants, constantsAfter: current.constants.count))
            if dumpAfter.contains(name) {
                dump(name, KIRPrinter.print(current, constants: dumpConstants).text)
            }
        }
        graph = current
        return statistics
    }
}
