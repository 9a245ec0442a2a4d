import KilnQuant
import KilnTensor
import Testing

/// Values a model or a backend can produce that must not crash quantization or read as a good
/// result: NaN weights, a constant first observation, NaN or missing outputs in a measurement.
@Suite struct MalformedValueTests {
    @Test func aNaNWeightFoldsToZero() throws {
        let w = try Tensor([Float(0.5), .nan, -1, 0.25], shape: [1, 4])
        let folded = try FoldedWeight(w, .int8Weight())
        #expect(folded.values.scalars(as: Int8.self) == [64, 0, -127, 32])
    }

    @Test func aHistogramFirstSeeingOneLargeValueStaysUsable() throws {
        var o = HistogramObserver(choice: .percentile(1))
        o.observe(try Tensor([Float](repeating: 1000, count: 8), shape: [8]))
        o.observe(try Tensor([Float(-5), 2000, 5], shape: [3]))
        #expect(o.range.min[0] <= -4 && o.range.max[0] >= 1990)
    }

    @Test func aNaNOutputIsAnInfiniteErrorNotAnExactOne() throws {
        var acc = SQNRAccumulator()
        acc.add(reference: try Tensor([Float(1), 2, 3], shape: [3]), actual: try Tensor([Float(1), .nan, 3], shape: [3]))
        #expect(acc.sqnr == -.infinity && acc.maxAbsError == .infinity)
        #expect(SQNRAccumulator.label(acc.sqnr) == "-inf")
    }

    @Test func nothingComparedIsNotMeasured() {
        let acc = SQNRAccumulator()
        #expect(acc.count == 0 && acc.sqnr.isNaN)
        #expect(SQNRAccumulator.label(acc.sqnr) == "not measured")
        #expect(SQNRAccumulator.label(.infinity) == "inf" && SQNRAccumulator.label(31.5) == nil)
    }
}
