import KilnTensor

/// A histogram of every finite value seen, over a range that grows to hold them, and a range
/// chosen from it: a percentile of the values, or the range with the least expected squared
/// quantization error (PyTorch's `HistogramObserver`, which searches the same way).
///
/// When a value falls outside the current range the histogram is widened and its counts moved to
/// the new bins their centers fall in, so memory stays ``bins`` counts whatever the samples.
///
/// ```swift
/// var observer = HistogramObserver(choice: .percentile(0.999))
/// observer.observe(activations)
/// let (lo, hi) = (observer.range.min[0], observer.range.max[0])
/// ```
public struct HistogramObserver: Observer {
    public var choice: HistogramRange
    /// Integer levels of the spec (256 for int8): the error search's step is range / (levels - 1).
    public var levels: Int
    public let bins: Int
    private var counts: [Double]
    private var lo: Float = 0
    private var hi: Float = 0
    private var seen = false

    public init(choice: HistogramRange, levels: Int = 256, bins: Int = 2048) {
        self.choice = choice
        self.levels = Swift.max(levels, 2)
        self.bins = Swift.max(bins, 1)
        counts = Array(repeating: 0, count: self.bins)
    }

    public mutating func observe(_ tensor: Tensor) {
        // 1. This observation's range; widen the histogram to hold it.
        var sample = MinMaxObserver()
        sample.observe(tensor)
        guard let newLo = sample.range.min.first, let newHi = sample.range.max.first else { return }
        if !seen {
            (lo, hi, seen) = (newLo, newHi > newLo ? newHi : newLo.nextUp, true)
        } else if newLo < lo || newHi > hi {
            rebin(lo: Swift.min(lo, newLo), hi: Swift.max(hi, newHi))
        }
        // 2. Count every finite value in its bin.
        let width = (hi - lo) / Float(bins)
        for v in tensor.unsafeBuffer(of: Float.self) where v.isFinite {
            counts[bin(v, width)] += 1
        }
    }

    /// The bin of `v`, clamped to the histogram (a range too wide for f32 gives an infinite or
    /// NaN quotient, which must not reach an integer conversion).
    private func bin(_ v: Float, _ width: Float) -> Int {
        let t = ((v - lo) / width).rounded(.down)
        guard t.isFinite else { return t > 0 ? bins - 1 : 0 }
        return Int(Swift.min(Swift.max(t, 0), Float(bins - 1)))
    }

    /// Moves every count to the bin of the new range its old bin's center falls in.
    private mutating func rebin(lo newLo: Float, hi newHi: Float) {
        let oldWidth = (hi - lo) / Float(bins), oldLo = lo
        var moved = Array(repeating: 0.0, count: bins)
        (lo, hi) = (newLo, newHi)
        let width = (hi - lo) / Float(bins)
        for (i, n) in counts.enumerated() where n > 0 {
            moved[bin(oldLo + (Float(i) + 0.5) * oldWidth, width)] += n
        }
        counts = moved
    }

    public var range: (min: [Float], max: [Float]) {
        guard seen else { return ([], []) }
        let (first, last): (Int, Int)
        switch choice {
        case .percentile(let fraction): (first, last) = percentileBins(Swift.min(Swift.max(fraction, 0), 1))
        case .mse: (first, last) = leastErrorBins()
        }
        let width = (hi - lo) / Float(bins)
        return ([lo + Float(first) * width], [lo + Float(last + 1) * width])
    }

    /// The bins holding the central `fraction` of the counts.
    private func percentileBins(_ fraction: Double) -> (Int, Int) {
        let total = counts.reduce(0, +)
        let tail = total * (1 - fraction) / 2
        var first = 0, below = 0.0
        while first < bins - 1, below + counts[first] <= tail { below += counts[first]; first += 1 }
        var last = bins - 1, above = 0.0
        while last > first, above + counts[last] <= tail { above += counts[last]; last -= 1 }
        return (first, last)
    }

    /// The bin range whose expected squared error is least: values inside are rounded (error
    /// step² / 12 each), values outside clipped to the nearer end. Candidate ends trim up to 2%
    /// of the counts from either tail, on a geometric ladder.
    private func leastErrorBins() -> (Int, Int) {
        let width = Double(hi - lo) / Double(bins)
        let fractions = [0.0] + (0..<24).map { 2e-6 * pow2($0) }.filter { $0 <= 0.02 }
        var lows: Set<Int> = [], highs: Set<Int> = []
        for f in fractions {
            let (a, b) = percentileBins(1 - 2 * f)
            lows.insert(a)
            highs.insert(b)
        }
        var best = (error: Double.infinity, first: 0, last: bins - 1)
        for a in lows.sorted() {
            for b in highs.sorted() where b > a {
                let e = error(first: a, last: b, width: width)
                if e < best.error { best = (e, a, b) }
            }
        }
        return (best.first, best.last)
    }

    /// Expected squared error of quantizing with the range [bin `first` start, bin `last` end]
    /// widened to hold 0, as the quantizer will.
    private func error(first: Int, last: Int, width: Double) -> Double {
        let start = Swift.min(Double(lo) + Double(first) * width, 0)
        let end = Swift.max(Double(lo) + Double(last + 1) * width, 0)
        let step = (end - start) / Double(levels - 1)
        var total = 0.0
        for (i, n) in counts.enumerated() where n > 0 {
            let center = Double(lo) + (Double(i) + 0.5) * width
            if center < start {
                total += n * (start - center) * (start - center)
            } else if center > end {
                total += n * (center - end) * (center - end)
            } else {
                total += n * step * step / 12
            }
        }
        return total
    }
}

private func pow2(_ n: Int) -> Double {
    var v = 1.0
    for _ in 0..<n { v *= 2 }
    return v
}
