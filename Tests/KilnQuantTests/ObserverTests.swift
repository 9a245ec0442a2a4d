import KilnQuant
import KilnTensor
import Testing

/// Each observer on small inputs whose ranges are known by hand, and the qparams chosen from them.
@Suite struct ObserverTests {
    static func tensor(_ values: [Float], _ shape: [Int]? = nil) throws -> Tensor {
        try Tensor(values, shape: shape ?? [values.count])
    }

    @Test func minMaxKeepsTheExtremesAndSkipsNonFinite() throws {
        var o = MinMaxObserver()
        #expect(o.range.min.isEmpty)
        o.observe(try Self.tensor([-1, 2, .nan]))
        o.observe(try Self.tensor([0.5, 3, -.infinity]))
        #expect(o.range.min == [-1] && o.range.max == [3])
        // Affine int8: scale 4 / 255, zero point -128 - round(-1 / scale) = -128 + 64.
        let q = o.qparams(for: .int8Activation(observer: .minMax))
        #expect(q.scales == [Float(4) / 255] && q.zeroPoints == [-64])
    }

    @Test func movingAverageMovesByTheAveragingConstant() throws {
        var o = MovingAverageMinMaxObserver(averagingConstant: 0.5)
        o.observe(try Self.tensor([0, 2]))
        #expect(o.range.min == [0] && o.range.max == [2])
        o.observe(try Self.tensor([-2, 4]))
        #expect(o.range.min == [-1] && o.range.max == [3])
    }

    @Test func perChannelMinMaxAlongEitherAxis() throws {
        let t = try Self.tensor([1, -2, 3, 4], [2, 2])
        var rows = PerChannelMinMaxObserver(axis: 0)
        rows.observe(t)
        #expect(rows.range.min == [-2, 3] && rows.range.max == [1, 4])
        var columns = PerChannelMinMaxObserver(axis: -1)
        columns.observe(t)
        #expect(columns.range.min == [1, -2] && columns.range.max == [3, 4])
        // Symmetric int8 weights: max(|min|, |max|) / 127 per channel, zero point 0.
        let q = rows.qparams(for: .int8Weight())
        #expect(q.scales == [Float(2) / 127, Float(4) / 127] && q.zeroPoints == [0, 0])
    }

    @Test func histogramPercentileClipsAnOutlier() throws {
        var o = HistogramObserver(choice: .percentile(0.99))
        // 0...999 in two observations (the second widens the range and rebins), one far outlier.
        o.observe(try Self.tensor((0..<500).map(Float.init)))
        o.observe(try Self.tensor((500..<1000).map(Float.init) + [100_000]))
        let (lo, hi) = (o.range.min[0], o.range.max[0])
        #expect(lo >= 0 && lo < 100, "\(lo)")
        #expect(hi > 900 && hi < 1200, "\(hi)")
        var all = HistogramObserver(choice: .percentile(1))
        all.observe(try Self.tensor([-3, 5]))
        #expect(all.range.min == [-3] && all.range.max == [5])
    }

    @Test func histogramMSETradesClippingForResolution() throws {
        // Uniform values: no range smaller than the data's is better.
        var uniform = HistogramObserver(choice: .mse)
        uniform.observe(try Self.tensor((0..<4096).map { Float($0) / 4096 }))
        #expect(uniform.range.min[0] < 0.01 && uniform.range.max[0] > 0.98, "\(uniform.range)")
        // Clipping one value at distance D costs D²; a range holding it costs each of the N
        // others (D / 255)² / 12, so past N ≈ 780k values clipping wins: 2M values in [-1, 1]
        // and one at 1000 clip it.
        var outlier = HistogramObserver(choice: .mse)
        outlier.observe(try Self.tensor((0..<2_000_000).map { Float($0 % 2000) / 1000 - 1 } + [1000]))
        #expect(outlier.range.max[0] < 50, "\(outlier.range)")
        // With 10k values the same outlier is kept: rounding everything costs less than clipping it.
        var few = HistogramObserver(choice: .mse)
        few.observe(try Self.tensor((0..<10_000).map { Float($0 % 2000) / 1000 - 1 } + [1000]))
        #expect(few.range.max[0] == 1000, "\(few.range)")
        #expect(outlier.range.min[0] <= -0.9)
    }

    @Test func symmetricAndAffineQParams() {
        let symmetric = QParams.choose(min: [-1], max: [0.5], spec: .int8Weight())
        #expect(symmetric.scales == [Float(1) / 127] && symmetric.zeroPoints == [0])
        // The range is widened to hold 0: [2, 4] quantizes as [0, 4].
        let positive = QParams.choose(min: [2], max: [4], spec: .int8Activation())
        #expect(positive.scales == [Float(4) / 255] && positive.zeroPoints == [-128])
        // A zero range gives the smallest scale, eps.
        let empty = QParams.choose(min: [0], max: [0], spec: .int8Activation())
        #expect(empty.scales == [Float.ulpOfOne])
        // int4 groups: max |x| / 7.5 (torchao's 8da4w).
        let int4 = QParams.choose(min: [-3], max: [1.5], spec: .int4GroupWeight(groupSize: 32))
        #expect(int4.scales == [Float(3) / 7.5] && int4.zeroPoints == [0])
    }

    @Test func makeObserverFollowsTheSpec() throws {
        var o = makeObserver(for: .int8Weight(axis: 1))
        o.observe(try Self.tensor([1, -2, 3, 4], [2, 2]))
        #expect(o.range.min == [1, -2])
        #expect(makeObserver(for: .int8Activation(observer: .histogram(.mse))) is HistogramObserver)
        #expect(makeObserver(for: .int8Activation(observer: .movingAverageMinMax(averagingConstant: 0.01)))
                is MovingAverageMinMaxObserver)
    }
}

/// Weights folded into integer constants: values and scales by hand, int4 packed two per byte.
@Suite struct FoldedWeightTests {
    @Test func int8PerChannelRoundsHalfToEven() throws {
        let w = try Tensor([Float(0.5), -1, 0.25, 0.125, 2, 1, -0.5, 0], shape: [2, 4])
        let folded = try FoldedWeight(w, .int8Weight())
        #expect(folded.values.scalars(as: Int8.self) == [64, -127, 32, 16, 127, 64, -32, 0])
        #expect(folded.scales.scalars(as: Float.self) == [Float(1) / 127, Float(2) / 127])
        #expect(folded.scales.shape == [2])
    }

    @Test func int4GroupsPackTwoPerByte() throws {
        // Two groups of 4 per row; group amax 7.5 → scale 1, values round to themselves.
        let row: [Float] = [7.5, -3, 2, 0, 1, -1, 0.5, 7.5]
        let folded = try FoldedWeight(try Tensor(row + row, shape: [2, 8]), .int4GroupWeight(groupSize: 4))
        #expect(folded.values.dtype == .uint8 && folded.values.shape == [2, 4])
        #expect(folded.scales.shape == [2, 2] && folded.scales.scalars(as: Float.self) == [1, 1, 1, 1])
        // 7.5 rounds to 8 and clamps to 7; 0.5 rounds to 0 (ties to even).
        let unpacked = Int4Packing.unpack(folded.values.scalars(as: UInt8.self), count: 16)
        #expect(Array(unpacked.prefix(8)) == [7, -3, 2, 0, 1, -1, 0, 7])
        let odd = try #require(throws: TensorError.self) {
            _ = try FoldedWeight(try Tensor([Float](repeating: 1, count: 6), shape: [2, 3]), .int4GroupWeight(groupSize: 4))
        }
        #expect(odd.message.contains("group size 4"))
    }
}
