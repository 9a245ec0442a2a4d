import KilnOps
import KilnTensor
import Testing

/// Symbolic dims: normal form, division, bounds, evaluation and overflow.
@Suite struct DimTests {
    let s = Dim(Symbol("s", range: 1...128))
    let t = Dim(Symbol("t", range: 1...10))
    let u = Dim(Symbol("u", range: 0...5))

    // MARK: Normal form

    @Test func likeTermsCombine() throws {
        #expect(try s + s == s * 2)
        #expect(try (s + s).description == "2*s")
        #expect(try s * 2 + 1 == 2 * s + 1)
        #expect(try (s * 2 + 1).description == "2*s + 1")
        #expect(try (3 + s) * 2 == s + s + 6)
    }

    @Test func cancellingTermsLeaveAConstant() throws {
        let zero = try s - s
        #expect(zero == 0)
        #expect(zero.staticValue == 0)
        #expect(!zero.isSymbolic)
        #expect(zero.symbols.isEmpty)
        #expect(try (s + 1) - s == 1)
        #expect(try s * 0 == 0)
    }

    @Test func products() throws {
        #expect(try (s * t).description == "s*t")
        #expect(try s * t == t * s)
        #expect(try (s * s).description == "s*s")
        #expect(try ((s + 1) * (t - 1)).description == "s*t - s + t - 1")
        #expect(try (s * t * 3 - s * t * 3) == 0)
    }

    /// Higher degree first, then by the atoms' text; constants last; signs between terms.
    @Test func termOrderInDescription() throws {
        #expect(try (t + s).description == "s + t")
        #expect(try (s + s * t).description == "s*t + s")
        #expect(try (u + t * 2 + s + 7).description == "s + 2*t + u + 7")
        #expect(try (1 - s).description == "-s + 1")
        #expect(try (-s).description == "-s")
        #expect(try (t - s * 2 - 3).description == "-2*s + t - 3")
        #expect(Dim(-4).description == "-4")
        #expect(s.description == "s")
    }

    @Test func equalDimsHashEqually() throws {
        let set: Set<Dim> = [try s + t, try t + s, try (s + t) * 1]
        #expect(set.count == 1)
    }

    @Test func constants() throws {
        #expect(try Dim(3) + 4 == 7)
        #expect(try Dim(6) * 7 == 42)
        #expect(Dim(5).staticValue == 5)
        #expect(Dim(1).isOne)
        #expect(!s.isOne)
        #expect(s.staticValue == nil)
        #expect(s.isSymbolic)
    }

    @Test func symbolsAreCollectedThroughFloorDivisions() throws {
        let d = try s * t + (u + 1).floorDivided(by: 2)
        #expect(d.symbols.map(\.name) == ["s", "t", "u"])
        #expect(d.symbols.first?.range == 1...128)
    }

    // MARK: Division

    @Test func floorDivision() throws {
        // exact when every coefficient and the constant divide
        #expect(try (s * 2 + 4).floorDivided(by: 2) == s + 2)
        #expect(try (s * 6 - 3).floorDivided(by: 3) == 2 * s - 1)
        // constants fold, rounding toward negative infinity
        #expect(try Dim(7).floorDivided(by: 2) == 3)
        #expect(try Dim(-7).floorDivided(by: 2) == -4)
        #expect(try Dim(-8).floorDivided(by: 2) == -4)
        // otherwise an atom
        let half = try (s + 1).floorDivided(by: 2)
        #expect(half.description == "floordiv(s + 1, 2)")
        #expect(half.isSymbolic)
        #expect(try (half + 1).description == "floordiv(s + 1, 2) + 1")
        #expect(try half * 2 != s + 1)
        // by one: unchanged
        #expect(try (s + 1).floorDivided(by: 1) == s + 1)
        // a floordiv atom sorts by its text like any other
        #expect(try (t + half).description == "floordiv(s + 1, 2) + t")
    }

    @Test func floorDivisionNeedsAPositiveDivisor() {
        #expect(throws: Dim.Overflow.self) { try s.floorDivided(by: 0) }
        #expect(throws: Dim.Overflow.self) { try s.floorDivided(by: -2) }
        #expect(throws: Dim.Overflow.self) { try Dim(4).floorDivided(by: 0) }
    }

    @Test func exactDivision() throws {
        #expect(try (s * 4 + 8).exactlyDivided(by: 4) == s + 2)
        #expect(try (s * t * 6).exactlyDivided(by: 3) == 2 * s * t)
        #expect(try (s + 1).exactlyDivided(by: 2) == nil)
        #expect(try (s * 2 + 1).exactlyDivided(by: 2) == nil)
        #expect(Dim(6).exactlyDivided(by: 3) == 2)
        #expect(Dim(7).exactlyDivided(by: 2) == nil)
        #expect(s.exactlyDivided(by: 1) == s)
        #expect(s.exactlyDivided(by: 0) == nil)
        #expect(s.exactlyDivided(by: -1) == nil)
    }

    // MARK: Bounds

    @Test func rangesByIntervalArithmetic() throws {
        #expect(s.range == 1...128)
        #expect(Dim(5).range == 5...5)
        #expect(try (s * 2 + 1).range == 3...257)
        #expect(try (s - t).range == -9...127)
        #expect(try (s * t).range == 1...1280)
        #expect(try (-s).range == -128...(-1))
        #expect(try (u * -3 + 20).range == 5...20)
        #expect(try (s + 1).floorDivided(by: 2).range == 1...64)
        #expect(try (u - 1).floorDivided(by: 2).range == -1...2)
        let d = try s * 2 + t
        #expect(d.upperBound == 266)
        #expect(d.lowerBound == 3)
    }

    @Test func rangesSaturateInsteadOfTrapping() throws {
        let huge = try s * Dim(Int.max / 2)
        #expect(huge.upperBound == Int.max)
        #expect(try (-huge).lowerBound == Int.min)
    }

    @Test func evaluate() throws {
        #expect(try (s * 2 + 1).evaluate(["s": 5]) == 11)
        #expect(try (s * t - t).evaluate(["s": 3, "t": 4]) == 8)
        #expect(try (s + 1).floorDivided(by: 2).evaluate(["s": 6]) == 3)
        #expect(try (u - 1).floorDivided(by: 2).evaluate(["u": 0]) == -1)
        #expect(Dim(9).evaluate([:]) == 9)
        #expect(try (s + t).evaluate(["s": 1]) == nil)
        // a product past 64 bits has no value
        #expect(try (s * Dim(Int.max / 2)).evaluate(["s": 3]) == nil)
    }

    // MARK: Overflow

    @Test func overflowThrowsInsteadOfTrapping() throws {
        #expect(throws: Dim.Overflow.self) { try Dim(Int.max) + 1 }
        #expect(throws: Dim.Overflow.self) { try Dim(Int.max) * 2 }
        #expect(throws: Dim.Overflow.self) { try Dim(Int.min) - 1 }
        #expect(throws: Dim.Overflow.self) { try -Dim(Int.min) }
        #expect(throws: Dim.Overflow.self) { try s * Dim(Int.max) + s }
        #expect(throws: Dim.Overflow.self) { try (s + Dim(Int.max)) * 2 }
        #expect(throws: Dim.Overflow.self) { try (s * Dim(Int.max / 2 + 1)) * (t * 2) }
        let error = try #require(throws: Dim.Overflow.self) { try Dim(Int.max) + 1 }
        #expect(error.description == "\(Int.max) + 1 overflows")
    }

    @Test func largeValuesThatFitDoNotThrow() throws {
        #expect(try Dim(Int.max - 1) + 1 == Dim(Int.max))
        #expect(try Dim(Int.min + 1) - 1 == Dim(Int.min))
        #expect(try (s * Dim(Int.max)).description == "\(Int.max)*s")
    }
}

/// Tensor types: text form, static shape, planned (upper-bound) shape.
@Suite struct TensorTypeTests {
    @Test func description() {
        #expect(TensorType(.float32, [1, seq, 256]).description == "f32[1, seq, 256]")
        #expect(TensorType(.bool, []).description == "bool[]")
        #expect(TensorType(.bfloat16, static: [2, 3]).description == "bf16[2, 3]")
    }

    @Test func shapes() throws {
        let planned = try seq * 2 + 1
        let symbolic = TensorType(.float32, [1, seq, planned])
        #expect(symbolic.rank == 3)
        #expect(symbolic.staticShape == nil)
        #expect(symbolic.upperBoundShape == [1, 128, 257])
        let fixed = TensorType(.int8, static: [4, 5])
        #expect(fixed.staticShape == [4, 5])
        #expect(fixed.upperBoundShape == [4, 5])
        #expect(fixed == TensorType(.int8, [4, 5]))
    }
}
