import KilnTensor

/// A named dimension whose size is known only to lie in `range` (the `.pte` DYNAMIC_BOUND case).
public struct Symbol: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The name, as written in `.kir` (`seq`).
    public let name: String
    /// The sizes the symbol may take; `range.upperBound` is what memory is planned for.
    public let range: ClosedRange<Int>

    public init(_ name: String, range: ClosedRange<Int>) {
        self.name = name
        self.range = range
    }

    public static func < (a: Symbol, b: Symbol) -> Bool { a.name < b.name }
    public var description: String { name }
}

/// A tensor dimension: a constant, or a polynomial with integer coefficients over bounded symbols
/// and floor-divisions of such polynomials by constants.
///
/// Kept in one normal form (terms sorted, no zero coefficients), so structural equality is the
/// equality shape rules need. Arithmetic throws on 64-bit overflow instead of trapping.
///
/// ```swift
/// let s = Dim(Symbol("s", range: 1...128))
/// let d = try s * 2 + 1            // 2*s + 1
/// d.upperBound                     // 257
/// ```
public struct Dim: Hashable, Sendable, CustomStringConvertible, BroadcastableDim, ExpressibleByIntegerLiteral {
    /// An indivisible factor of a term.
    public indirect enum Atom: Hashable, Sendable, Comparable, CustomStringConvertible {
        case symbol(Symbol)
        /// `floordiv(numerator, divisor)` with divisor > 1 and a non-constant numerator.
        case floorDiv(Dim, Int)

        public var description: String {
            switch self {
            case .symbol(let s): return s.name
            case .floorDiv(let n, let d): return "floordiv(\(n), \(d))"
            }
        }

        public static func < (a: Atom, b: Atom) -> Bool { a.description < b.description }

        /// The closed range of values the atom may take.
        var range: ClosedRange<Int> {
            switch self {
            case .symbol(let s): return s.range
            case .floorDiv(let n, let d):
                let r = n.range
                return r.lowerBound.floorDivided(by: d)...r.upperBound.floorDivided(by: d)
            }
        }
    }

    /// A coefficient times a product of atoms (sorted, repeated for powers).
    struct Term: Hashable, Sendable {
        var atoms: [Atom]
        var coefficient: Int
    }

    /// The constant part.
    public private(set) var constant: Int
    /// Non-constant terms, sorted by ``termOrder``; never a zero coefficient.
    var terms: [Term]

    /// A constant dim.
    public init(_ value: Int) {
        constant = value
        terms = []
    }

    public init(integerLiteral value: Int) { self.init(value) }

    /// A dim that is exactly one symbol.
    public init(_ symbol: Symbol) {
        constant = 0
        terms = [Term(atoms: [.symbol(symbol)], coefficient: 1)]
    }

    init(atom: Atom) {
        constant = 0
        terms = [Term(atoms: [atom], coefficient: 1)]
    }

    /// The value when the dim is a constant.
    public var staticValue: Int? { terms.isEmpty ? constant : nil }
    /// True when the dim involves a symbol.
    public var isSymbolic: Bool { !terms.isEmpty }
    public var isOne: Bool { staticValue == 1 }

    /// Every symbol the dim mentions, sorted by name.
    public var symbols: [Symbol] {
        var found = Set<Symbol>()
        func visit(_ d: Dim) {
            for t in d.terms {
                for a in t.atoms {
                    switch a {
                    case .symbol(let s): found.insert(s)
                    case .floorDiv(let n, _): visit(n)
                    }
                }
            }
        }
        visit(self)
        return found.sorted()
    }

    /// The values the dim may take over its symbols' ranges (interval arithmetic; saturating).
    public var range: ClosedRange<Int> {
        var lo = constant
        var hi = constant
        for t in terms {
            var tlo = t.coefficient
            var thi = t.coefficient
            for a in t.atoms {
                let r = a.range
                let candidates = [tlo.saturatingMul(r.lowerBound), tlo.saturatingMul(r.upperBound),
                                  thi.saturatingMul(r.lowerBound), thi.saturatingMul(r.upperBound)]
                tlo = candidates.min()!
                thi = candidates.max()!
            }
            lo = lo.saturatingAdd(tlo)
            hi = hi.saturatingAdd(thi)
        }
        return lo...hi
    }

    /// The largest value the dim may take: what memory is planned for.
    public var upperBound: Int { range.upperBound }
    /// The smallest value the dim may take.
    public var lowerBound: Int { range.lowerBound }

    /// The value with every symbol replaced by its size in `bindings`; nil when one is missing.
    public func evaluate(_ bindings: [String: Int]) -> Int? {
        var total = constant
        for t in terms {
            var product = t.coefficient
            for a in t.atoms {
                let v: Int?
                switch a {
                case .symbol(let s): v = bindings[s.name]
                case .floorDiv(let n, let d): v = n.evaluate(bindings).map { $0.floorDivided(by: d) }
                }
                guard let v else { return nil }
                let (p, o) = product.multipliedReportingOverflow(by: v)
                if o { return nil }
                product = p
            }
            let (s, o) = total.addingReportingOverflow(product)
            if o { return nil }
            total = s
        }
        return total
    }

    // MARK: Arithmetic

    /// Raised when dim arithmetic leaves the 64-bit range.
    public struct Overflow: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func + (a: Dim, b: Dim) throws -> Dim {
        var result = a
        let (c, o) = a.constant.addingReportingOverflow(b.constant)
        if o { throw Overflow(description: "\(a) + \(b) overflows") }
        result.constant = c
        for t in b.terms { try result.addTerm(t) }
        return result
    }

    public static prefix func - (a: Dim) throws -> Dim { try a * Dim(-1) }

    public static func - (a: Dim, b: Dim) throws -> Dim { try a + (-b) }

    public static func * (a: Dim, b: Dim) throws -> Dim {
        func mul(_ x: Int, _ y: Int) throws -> Int {
            let (p, o) = x.multipliedReportingOverflow(by: y)
            if o { throw Overflow(description: "\(a) * \(b) overflows") }
            return p
        }
        var result = Dim(try mul(a.constant, b.constant))
        for t in a.terms where b.constant != 0 {
            try result.addTerm(Term(atoms: t.atoms, coefficient: try mul(t.coefficient, b.constant)))
        }
        for t in b.terms where a.constant != 0 {
            try result.addTerm(Term(atoms: t.atoms, coefficient: try mul(t.coefficient, a.constant)))
        }
        for ta in a.terms {
            for tb in b.terms {
                try result.addTerm(Term(atoms: (ta.atoms + tb.atoms).sorted(),
                                        coefficient: try mul(ta.coefficient, tb.coefficient)))
            }
        }
        return result
    }

    /// `floor(self / divisor)` for a positive divisor: exact when every coefficient divides,
    /// folded when constant, else a `floordiv` atom.
    public func floorDivided(by divisor: Int) throws -> Dim {
        guard divisor > 0 else { throw Overflow(description: "floordiv(\(self), \(divisor)): divisor must be positive") }
        if divisor == 1 { return self }
        if let v = staticValue { return Dim(v.floorDivided(by: divisor)) }
        if constant % divisor == 0, terms.allSatisfy({ $0.coefficient % divisor == 0 }) {
            var r = self
            r.constant /= divisor
            for i in r.terms.indices { r.terms[i].coefficient /= divisor }
            return r
        }
        return Dim(atom: .floorDiv(self, divisor))
    }

    /// Exact division by a positive constant, or nil when it does not divide.
    public func exactlyDivided(by divisor: Int) -> Dim? {
        guard divisor > 0 else { return nil }
        guard constant % divisor == 0, terms.allSatisfy({ $0.coefficient % divisor == 0 }) else { return nil }
        var r = self
        r.constant /= divisor
        for i in r.terms.indices { r.terms[i].coefficient /= divisor }
        return r
    }

    private mutating func addTerm(_ term: Term) throws {
        if let i = terms.firstIndex(where: { $0.atoms == term.atoms }) {
            let (c, o) = terms[i].coefficient.addingReportingOverflow(term.coefficient)
            if o { throw Overflow(description: "\(self) overflows") }
            if c == 0 { terms.remove(at: i) } else { terms[i].coefficient = c }
        } else if term.coefficient != 0 {
            terms.append(term)
            terms.sort(by: Dim.termOrder)
        }
    }

    /// Higher degree first, then by the atoms' text.
    static func termOrder(_ a: Term, _ b: Term) -> Bool {
        if a.atoms.count != b.atoms.count { return a.atoms.count > b.atoms.count }
        return a.atoms.lexicographicallyPrecedes(b.atoms)
    }

    // MARK: Text

    /// `2*s*t + 3*s - 1`; atoms of a product joined by `*`, constants last.
    public var description: String {
        if terms.isEmpty { return String(constant) }
        var out = ""
        for (i, t) in terms.enumerated() {
            let magnitude = t.coefficient.magnitude
            let body = t.atoms.map(\.description).joined(separator: "*")
            let text = magnitude == 1 ? body : "\(magnitude)*\(body)"
            if i == 0 {
                out += t.coefficient < 0 ? "-" + text : text
            } else {
                out += t.coefficient < 0 ? " - " + text : " + " + text
            }
        }
        if constant > 0 { out += " + \(constant)" }
        if constant < 0 { out += " - \(constant.magnitude)" }
        return out
    }
}

extension Int {
    /// Floor division (rounds toward negative infinity).
    func floorDivided(by d: Int) -> Int {
        let q = self / d
        return (self % d != 0 && ((self < 0) != (d < 0))) ? q - 1 : q
    }

    func saturatingMul(_ other: Int) -> Int {
        let (p, o) = multipliedReportingOverflow(by: other)
        if !o { return p }
        return (self < 0) == (other < 0) ? .max : .min
    }

    func saturatingAdd(_ other: Int) -> Int {
        let (s, o) = addingReportingOverflow(other)
        if !o { return s }
        return other > 0 ? .max : .min
    }
}
