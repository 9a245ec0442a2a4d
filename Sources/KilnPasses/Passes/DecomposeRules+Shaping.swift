import KilnIR
import KilnOps

extension Decompose {
    /// Decompositions of the non-core ops of `shapingOps`.
    static let shapingRules: [String: Rule] = [:]
}
