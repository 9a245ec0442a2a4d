import KilnTensor

/// A float weight quantized under a weight spec, as convert stores it: the integer values (int8,
/// or int4 packed two per byte in uint8), one f32 scale per channel or group, and the qparams.
///
/// Per channel (axis `a`): one scale per index of dim `a`. Per group (rank-2 `[rows, cols]`):
/// one scale per `size` consecutive elements of a row, scales shaped `[rows, cols / size]`.
/// Values follow torch's `quantize_per_channel`: `clamp(round(x * (1 / scale)) + zero_point)`.
///
/// ```swift
/// let folded = try FoldedWeight(weight, .int4GroupWeight(groupSize: 32))
/// folded.values.shape    // [rows, cols / 2], uint8
/// ```
public struct FoldedWeight: Sendable {
    public var values: Tensor
    public var scales: Tensor
    public var qparams: QParams

    public init(_ weight: Tensor, _ spec: QuantizationSpec) throws {
        let shape = weight.shape
        let x = weight.floatValues()
        // 1. Runs of elements sharing a scale: `run` elements each, `count` runs per cycle.
        let (run, count, scaleShape): (Int, Int, [Int])
        switch spec.granularity {
        case .perChannel(let axis):
            let a = axis < 0 ? axis + shape.count : axis
            guard a >= 0, a < shape.count else { throw TensorError(.invalidShape, "axis \(axis) is out of range for \(shape)") }
            (run, count, scaleShape) = (shape[(a + 1)...].reduce(1, *), shape[a], [shape[a]])
        case .perGroup(let size):
            guard shape.count == 2, size > 0, shape[1] % size == 0 else {
                throw TensorError(.invalidShape, "group size \(size) does not divide the rows of \(shape)")
            }
            (run, count, scaleShape) = (size, x.count / size, [shape[0], shape[1] / size])
        case .perTensor, .perToken:
            (run, count, scaleShape) = (x.count, 1, [1])
        }
        // 2. Each run's min and max, then the spec's qparams.
        var lo = [Float](repeating: .infinity, count: count), hi = [Float](repeating: -.infinity, count: count)
        for (i, v) in x.enumerated() where v.isFinite {
            let k = (i / run) % count
            lo[k] = min(lo[k], v)
            hi[k] = max(hi[k], v)
        }
        for k in 0..<count where lo[k] > hi[k] { (lo[k], hi[k]) = (0, 0) }
        qparams = QParams.choose(min: lo, max: hi, spec: spec)
        // 3. The integer values.
        var q = [Int8](repeating: 0, count: x.count)
        var wide = [Int16](repeating: 0, count: spec.dtype == .int16 ? x.count : 0)
        let (qmin, qmax) = (Float(spec.quantMin), Float(spec.quantMax))
        for (i, v) in x.enumerated() {
            let k = (i / run) % count
            let inv = 1 / qparams.scales[k]
            // NaN becomes 0 clamped into the range, as the quantize kernels do.
            let rounded = (v * inv).rounded(.toNearestOrEven) + Float(qparams.zeroPoints[k])
            let r = min(max(rounded.isNaN ? 0 : rounded, qmin), qmax)
            if spec.dtype == .int16 { wide[i] = Int16(r) } else if spec.dtype == .uint8 { q[i] = Int8(bitPattern: UInt8(r)) } else { q[i] = Int8(r) }
        }
        switch spec.dtype {
        case .int4:
            guard shape.last.map({ $0 % 2 == 0 }) ?? false else {
                throw TensorError(.invalidShape, "int4 packing needs an even last dim, got \(shape)")
            }
            values = try Tensor(Int4Packing.pack(q), shape: Array(shape.dropLast()) + [shape[shape.count - 1] / 2])
        case .int8: values = try Tensor(q, shape: shape)
        case .uint8: values = try Tensor(q.map { UInt8(bitPattern: $0) }, shape: shape)
        case .int16: values = try Tensor(wide, shape: shape)
        }
        scales = try Tensor(qparams.scales, shape: scaleShape)
    }
}
