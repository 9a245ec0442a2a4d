import KilnTensor

/// What quantization did and what it cost in accuracy and size.
///
/// SQNR is `10·log10(Σx² / Σ(x − x̂)²)` in dB over every element of every sample, `x` the float
/// graph's value and `x̂` the quantized graph's (infinite when they are equal; elements whose `x`
/// is not finite are left out).
public struct QuantizationReport: Sendable {
    /// One quantized tensor: a weight, a calibrated activation, or a dynamic one.
    public struct TensorRow: Sendable {
        public var name: String
        public var node: String
        /// `weight`, `activation` or `dynamic`.
        public var role: String
        public var spec: String
        /// Per-tensor: one of each; per channel or group: one per channel or group; dynamic: none.
        public var scales: [Float]
        public var zeroPoints: [Int]
        /// SQNR of the quantized-dequantized tensor against the float one.
        public var sqnr: Double
    }

    /// The output of one quantized pattern against the float graph's.
    public struct NodeRow: Sendable {
        public var node: String
        public var pattern: String
        public var sqnr: Double
    }

    /// One graph output over the held-out samples.
    public struct OutputFigures: Sendable {
        public var name: String
        public var sqnr: Double
        public var maxAbsError: Double
    }

    /// File and weight sizes, measured on compiled programs by the caller that compiles.
    public struct Sizes: Sendable {
        public var fileBytesBefore: Int
        public var fileBytesAfter: Int
        public var weights: PTEWeightSizes

        public init(fileBytesBefore: Int, fileBytesAfter: Int, weights: PTEWeightSizes) {
            self.fileBytesBefore = fileBytesBefore
            self.fileBytesAfter = fileBytesAfter
            self.weights = weights
        }
    }

    public var scheme: String
    public var calibrationSamples: Int
    public var heldOutSamples: Int
    /// The samples the per-tensor and per-node SQNRs are measured on (`held-out`, `calibration`),
    /// or nil when there were none.
    public var measuredOn: String?
    public var tensors: [TensorRow]
    public var nodes: [NodeRow]
    /// One entry per graph output; empty when held-out figures were skipped.
    public var endToEnd: [OutputFigures]
    /// Why the held-out figures were skipped, when they were.
    public var skipped: String?
    public var sizes: Sizes?

    /// The smallest end-to-end SQNR over the outputs (nil when skipped).
    public var endToEndSQNR: Double? { endToEnd.map(\.sqnr).min() }
}

/// Accumulates Σx² and Σ(x − x̂)² over samples.
public struct SQNRAccumulator: Sendable {
    public private(set) var signal = 0.0
    public private(set) var noise = 0.0
    public private(set) var maxAbsError = 0.0
    /// How many values were compared.
    public private(set) var count = 0

    public init() {}

    /// Adds one sample: `reference` the float values, `actual` the quantized graph's.
    public mutating func add(reference: Tensor, actual: Tensor) {
        let x = reference.floatValues(), y = actual.floatValues()
        // Non-finite reference values (a mask's -inf) carry no signal to compare; a non-finite
        // actual value where the reference is finite is an infinite error.
        for (a, b) in zip(x, y) where a.isFinite {
            count += 1
            let (da, db) = (Double(a), Double(b))
            signal += da * da
            guard b.isFinite else {
                (noise, maxAbsError) = (.infinity, .infinity)
                continue
            }
            noise += (da - db) * (da - db)
            maxAbsError = max(maxAbsError, abs(da - db))
        }
    }

    /// `10·log10(signal / noise)` dB: +infinity when the noise is 0 (exact), -infinity when an
    /// actual value was not finite, NaN when nothing was compared.
    public var sqnr: Double {
        count == 0 ? .nan : noise == 0 ? .infinity : 10 * log10(signal / noise)
    }

    /// How an SQNR that is not a finite number reads: "inf" (exact), "-inf" (an actual value
    /// was infinite or NaN), "not measured" (nothing compared); nil for a finite value.
    public static func label(_ sqnr: Double) -> String? {
        sqnr.isNaN ? "not measured" : sqnr.isInfinite ? (sqnr > 0 ? "inf" : "-inf") : nil
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
