import KilnIR
import KilnOps

extension Decompose {
    /// Decompositions of the non-core ops of `samplingOps`.
    static let samplingRules: [String: Rule] = [:]
}
