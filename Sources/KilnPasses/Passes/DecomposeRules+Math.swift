import KilnIR
import KilnOps

extension Decompose {
    /// Decompositions of the non-core ops of `mathOps`.
    static let mathRules: [String: Rule] = [:]
}
