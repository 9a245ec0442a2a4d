import KilnKernels
import KilnOps
import KilnTensor
import Testing

/// f32 → int8/uint8 quantization (the vectorized loop) against the formula written out element
/// by element, on lengths that are not multiples of the vector width and on the values where the
/// arithmetic is delicate: ties, NaN, infinities, values outside the range, and a range that
/// does not hold 0 (NaN becomes 0 clamped into the range). The torch fixtures cover the rest.
@Suite struct QuantizeKernelTests {
    static let special: [Float] = [.nan, .infinity, -.infinity, 2.5, 3.5, -2.5, -3.5, 0.5, -0.5, 0.4, 300, -300,
                                   127.5, -128.5, 255.5, 1e30, -1e30, .leastNonzeroMagnitude]

    /// Runs `op` on `x` and returns the integers it wrote.
    static func quantize(_ op: String, _ x: [Float], scale: Double, zeroPoint: Int, range: ClosedRange<Int>,
                         dtype: DType) throws -> [Int] {
        let c = try ShapingKernelTests().call(op, [try Tensor(x, shape: [x.count])], [
            "input": .tensor(0), "scale": .float(scale), "zero_point": .int(zeroPoint), "quant_min": .int(range.lowerBound),
            "quant_max": .int(range.upperBound), "dtype": .dtype(dtype),
        ])
        try ShapingKernelTests().run(c)
        let out = c.outputs[0]
        return dtype == .int8 ? out.scalars(as: Int8.self).map(Int.init) : out.scalars(as: UInt8.self).map(Int.init)
    }

    /// clamp(round_half_even(x · (1/scale)) + zp) in f32, NaN as 0.
    static func expected(_ x: [Float], scale: Double, zeroPoint: Int, range: ClosedRange<Int>) -> [Int] {
        let inv = Float(1 / scale), zp = Float(zeroPoint)
        return x.map { v in
            let r = (v * inv).rounded(.toNearestOrEven) + zp
            if r.isNaN { return min(max(0, range.lowerBound), range.upperBound) }
            if r <= Float(range.lowerBound) { return range.lowerBound }
            if r >= Float(range.upperBound) { return range.upperBound }
            return Int(r)
        }
    }

    static func values(count: Int) -> [Float] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var x: [Float] = []
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u = Float(state >> 40) / Float(1 << 24)
            // Every third value on a half-integer multiple of the scale (a tie), the rest spread wide.
            x.append(i % 3 == 0 ? (Float(Int(u * 400) - 200) + 0.5) * 0.25 : (u - 0.5) * 100)
        }
        return special + x
    }

    @Test(arguments: [1, 15, 16, 17, 100])
    func int8MatchesTheFormula(count: Int) throws {
        let x = Self.values(count: count)
        for (range, zp) in [(-128...127, 0), (-128...127, -3), (-8...7, 1), (1...10, 0)] {
            let got = try Self.quantize("quantized_decomposed.quantize_per_tensor", x, scale: 0.25, zeroPoint: zp,
                                        range: range, dtype: .int8)
            #expect(got == Self.expected(x, scale: 0.25, zeroPoint: zp, range: range), "range \(range), zp \(zp)")
        }
    }

    @Test(arguments: [16, 33])
    func uint8MatchesTheFormula(count: Int) throws {
        let x = Self.values(count: count)
        let got = try Self.quantize("quantized_decomposed.quantize_per_tensor", x, scale: 0.25, zeroPoint: 128,
                                    range: 0...255, dtype: .uint8)
        #expect(got == Self.expected(x, scale: 0.25, zeroPoint: 128, range: 0...255))
    }

    @Test func nanBecomesZeroClampedIntoARangeWithoutZero() throws {
        let got = try Self.quantize("quantized_decomposed.quantize_per_tensor", [.nan, 0, 20], scale: 1, zeroPoint: 0,
                                    range: 1...10, dtype: .int8)
        #expect(got == [1, 1, 10])
    }
}
