import KilnTensor

/// Scales and zero points: one pair for a per-tensor spec, one per channel, group or token.
public struct QParams: Hashable, Sendable {
    public var scales: [Float]
    public var zeroPoints: [Int]

    public init(scales: [Float], zeroPoints: [Int]) {
        self.scales = scales
        self.zeroPoints = zeroPoints
    }

    /// A float bias as the int32 an int8 kernel adds to its accumulator: `value / scale` (scale
    /// = input scale × weight scale) rounded half to even, saturated to Int32, NaN as 0. One rule
    /// for every backend that quantizes biases.
    public static func int32Bias(_ value: Double, scale: Double) -> Int32 {
        let q = (value / scale).rounded(.toNearestOrEven)
        return q.isNaN ? 0 : Int32(Swift.max(-2147483648, Swift.min(2147483647, q)))
    }

    /// PyTorch's `_calculate_qparams` for each (min, max) pair, in f32: the range is widened to
    /// hold 0; symmetric specs take `max(|min|, |max|) / ((quant_max - quant_min) / 2)` and zero
    /// point 0 (the middle of an unsigned range); affine specs `(max - min) / (quant_max - quant_min)`
    /// and the zero point that puts `min` on `quant_min`. Scales are at least `eps`.
    ///
    /// ```swift
    /// QParams.choose(min: [-1], max: [3], spec: .int8Activation()).zeroPoints   // [-64]
    /// ```
    public static func choose(min: [Float], max: [Float], spec: QuantizationSpec) -> QParams {
        let (qmin, qmax) = (Float(spec.quantMin), Float(spec.quantMax))
        let eps = Float(spec.eps)
        var result = QParams(scales: [], zeroPoints: [])
        for (lo, hi) in zip(min, max) {
            let minNeg = Swift.min(lo.isFinite ? lo : 0, 0), maxPos = Swift.max(hi.isFinite ? hi : 0, 0)
            if spec.symmetric {
                let scale = Swift.max(Swift.max(-minNeg, maxPos) / ((qmax - qmin) / 2), eps)
                result.scales.append(scale)
                result.zeroPoints.append(spec.dtype == .uint8 ? (spec.quantMin + spec.quantMax + 1) / 2 : 0)
            } else {
                let scale = Swift.max((maxPos - minNeg) / (qmax - qmin), eps)
                let zp = Int(qmin - (minNeg / scale).rounded(.toNearestOrEven))
                result.scales.append(scale)
                result.zeroPoints.append(Swift.min(Swift.max(zp, spec.quantMin), spec.quantMax))
            }
        }
        return result
    }
}

/// Watches the values a tensor takes over calibration and gives the range to quantize it with.
///
/// ```swift
/// var observer = MinMaxObserver()
/// observer.observe(try Tensor([Float](arrayLiteral: -1, 2), shape: [2]))
/// observer.qparams(for: .int8Activation(observer: .minMax))   // scale 3/255, zero point -43
/// ```
public protocol Observer: Sendable {
    /// Records one value of the tensor (an f32 tensor).
    mutating func observe(_ tensor: Tensor)
    /// The range seen: one (min, max) pair per tensor, or per channel for per-channel observers.
    /// Empty before anything was observed.
    var range: (min: [Float], max: [Float]) { get }
}

extension Observer {
    /// The qparams `spec` gives the observed range (one pair of zeros before any observation).
    public func qparams(for spec: QuantizationSpec) -> QParams {
        let r = range
        guard !r.min.isEmpty else { return QParams.choose(min: [0], max: [0], spec: spec) }
        return QParams.choose(min: r.min, max: r.max, spec: spec)
    }
}

/// The observer `spec` names (its channel axis for per-channel observers, its number of
/// integer levels for the histogram's error search).
public func makeObserver(for spec: QuantizationSpec) -> any Observer {
    switch spec.observer {
    case .minMax: MinMaxObserver()
    case .movingAverageMinMax(let c): MovingAverageMinMaxObserver(averagingConstant: Float(c))
    case .perChannelMinMax:
        if case .perChannel(let axis) = spec.granularity { PerChannelMinMaxObserver(axis: axis) } else { PerChannelMinMaxObserver() }
    case .histogram(let choice): HistogramObserver(choice: choice, levels: spec.quantMax - spec.quantMin + 1)
    }
}

/// The smallest and largest finite value seen (PyTorch's `MinMaxObserver`).
public struct MinMaxObserver: Observer {
    private var lo = Float.infinity
    private var hi = -Float.infinity

    public init() {}

    public mutating func observe(_ tensor: Tensor) {
        for v in tensor.unsafeBuffer(of: Float.self) where v.isFinite {
            lo = Swift.min(lo, v)
            hi = Swift.max(hi, v)
        }
    }

    public var range: (min: [Float], max: [Float]) { lo <= hi ? ([lo], [hi]) : ([], []) }
}

/// Each observation's min and max folded into a running average: the first sets the range, each
/// later one moves it by `averagingConstant` of the way (PyTorch's `MovingAverageMinMaxObserver`).
public struct MovingAverageMinMaxObserver: Observer {
    public var averagingConstant: Float
    private var lo: Float?
    private var hi: Float?

    public init(averagingConstant: Float = 0.01) { self.averagingConstant = averagingConstant }

    public mutating func observe(_ tensor: Tensor) {
        var sample = MinMaxObserver()
        sample.observe(tensor)
        guard let newLo = sample.range.min.first, let newHi = sample.range.max.first else { return }
        if let lo, let hi {
            self.lo = lo + averagingConstant * (newLo - lo)
            self.hi = hi + averagingConstant * (newHi - hi)
        } else {
            (lo, hi) = (newLo, newHi)
        }
    }

    public var range: (min: [Float], max: [Float]) {
        guard let lo, let hi else { return ([], []) }
        return ([lo], [hi])
    }
}

/// Min and max per index of dim `axis` (PyTorch's `PerChannelMinMaxObserver`).
public struct PerChannelMinMaxObserver: Observer {
    public var axis: Int
    private var lo: [Float] = []
    private var hi: [Float] = []

    public init(axis: Int = 0) { self.axis = axis }

    public mutating func observe(_ tensor: Tensor) {
        guard tensor.rank > 0 else { return }
        let a = axis < 0 ? axis + tensor.rank : axis
        guard a >= 0, a < tensor.rank else { return }
        let channels = tensor.shape[a]
        let inner = tensor.shape[(a + 1)...].reduce(1, *)
        if lo.count != channels {
            lo = Array(repeating: .infinity, count: channels)
            hi = Array(repeating: -.infinity, count: channels)
        }
        let values = tensor.unsafeBuffer(of: Float.self)
        for (i, v) in values.enumerated() where v.isFinite {
            let c = (i / inner) % channels
            lo[c] = Swift.min(lo[c], v)
            hi[c] = Swift.max(hi[c], v)
        }
    }

    public var range: (min: [Float], max: [Float]) {
        // A channel that saw nothing (all non-finite) gets the range [0, 0].
        (zip(lo, hi).map { $0 <= $1 ? $0 : 0 }, zip(lo, hi).map { $0 <= $1 ? $1 : 0 })
    }
}
