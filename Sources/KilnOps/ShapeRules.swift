import KilnTensor

/// Helpers the ops' type rules share; each throws an ``OpError`` naming the argument at fault.
extension OpArguments where T == TensorType {
    /// A dim index in `-rank..<rank`, made non-negative.
    public func axis(_ value: Int, rank: Int, argument: String) throws -> Int {
        let r = Swift.max(rank, 1)
        guard value >= -r, value < r else {
            throw error("dim \(value) is out of range for a tensor of rank \(rank) (expected -\(r)...\(r - 1))",
                        argument: argument)
        }
        return value < 0 ? value + r : value
    }

    /// Several dim indices, normalized and checked for repeats.
    public func axes(_ values: [Int], rank: Int, argument: String) throws -> [Int] {
        var seen = Set<Int>()
        return try values.map { v in
            let a = try axis(v, rank: rank, argument: argument)
            guard seen.insert(a).inserted else {
                throw error("dim \(v) appears more than once in \(values)", argument: argument)
            }
            return a
        }
    }

    public func requireFloat(_ t: TensorType, argument: String) throws {
        guard t.dtype.isFloatingPoint else {
            throw error("expected a floating-point tensor, got \(t.dtype)", argument: argument)
        }
    }

    public func requireRank(_ t: TensorType, _ ranks: ClosedRange<Int>, argument: String) throws {
        guard ranks.contains(t.rank) else {
            let expected = ranks.count == 1 ? "rank \(ranks.lowerBound)"
                : ranks.upperBound == Int.max ? "rank \(ranks.lowerBound) or more"
                : "rank \(ranks.lowerBound) to \(ranks.upperBound)"
            throw error("expected \(expected), got \(t)", argument: argument)
        }
    }

    public func requireSameDType(_ a: TensorType, _ b: TensorType, argument: String) throws {
        guard a.dtype == b.dtype else {
            throw error("dtype \(b.dtype) does not match \(a.dtype)", argument: argument)
        }
    }

    public func requireDim(_ actual: Dim, equals expected: Dim, what: String, argument: String) throws {
        guard actual == expected else {
            throw error("\(what) is \(actual), expected \(expected)", argument: argument)
        }
    }

    /// The broadcast of two shapes.
    public func broadcast(_ a: [Dim], _ b: [Dim]) throws -> [Dim] {
        do { return try Shape.broadcast(a, b) } catch let e as TensorError { throw error(e.message) }
    }

    /// A list of positive ints of length `count` (or length 1, repeated).
    public func positiveList(_ name: String, count: Int, allowZero: Bool = false) throws -> [Int] {
        var values = intList(name)
        if values.count == 1 { values = Array(repeating: values[0], count: count) }
        guard values.count == count else {
            throw error("expected \(count) values, got \(values)", argument: name)
        }
        guard values.allSatisfy({ allowZero ? $0 >= 0 : $0 > 0 }) else {
            throw error("expected \(allowZero ? "non-negative" : "positive") values, got \(values)", argument: name)
        }
        return values
    }

    /// Runs dim arithmetic, turning overflow into an error about this op.
    public func dims<R>(_ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as Dim.Overflow { throw error("dimension arithmetic overflows: \(e)") }
    }
}

/// PyTorch's type promotion for two tensor operands: bool < integer < floating point; within a
/// category the wider type wins; float16 with bfloat16 gives float32, uint8 with a signed type
/// gives the next signed type that holds both.
public func promoteTypes(_ a: DType, _ b: DType) -> DType {
    if a == b { return a }
    func category(_ t: DType) -> Int { t == .bool ? 0 : t.isInteger ? 1 : 2 }
    let (ca, cb) = (category(a), category(b))
    if ca != cb { return ca > cb ? a : b }
    if ca == 2 {
        if Set([a, b]) == Set([.float16, .bfloat16]) { return .float32 }
        return a.byteSize >= b.byteSize ? a : b
    }
    // Integers.
    if a == .uint8 || b == .uint8 {
        let other = a == .uint8 ? b : a
        return other == .int8 ? .int16 : other
    }
    return a.byteSize >= b.byteSize ? a : b
}

extension OpArguments {
    /// A 2-D spatial list (`stride`, `padding`, `dilation`, `kernel_size`) as written in a graph:
    /// one value stands for both dims, an empty list is `fallback`; any other length is returned
    /// as it is, for the caller to reject.
    public func pair(_ name: String, or fallback: [Int]) -> [Int] {
        let values = intList(name)
        return values.isEmpty ? fallback : (values.count == 1 ? [values[0], values[0]] : values)
    }
}
