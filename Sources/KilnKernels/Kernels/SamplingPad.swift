import KilnOps
import KilnTensor

/// constant_pad_nd, for every dtype: pair `i` of `pad` (before, after) pads dim `rank - 1 - i`;
/// negative pads crop.
///
/// Step 1 checks the output's shape, step 2 fills the whole output with `value` (converted as
/// ATen converts a Scalar: truncated for integer types, wrapping into them; nonzero for bool),
/// step 3 copies the part of the input that survives the crops into place with one strided copy.
@Sendable func constantPadNd(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self"), out = call.outputs[0]
    let pad = call.arguments.intList("pad")
    let rank = x.rank
    guard out.dtype == x.dtype, out.rank == rank, pad.count % 2 == 0, pad.count / 2 <= rank else {
        throw call.error("cannot pad \(x) by \(pad) into \(out)")
    }
    try withTemporaryInts(rank, rank, rank, rank) { (before, overlap, inStrides, outStrides) throws(KernelError) in
        // Step 1: each dim's leading pad, and the output's shape.
        for pair in 0..<(pad.count / 2) { before[rank - 1 - pair] = pad[2 * pair] }
        for pair in 0..<(pad.count / 2) {
            let d = rank - 1 - pair
            let (grown, overflow) = x.shape[d].addingReportingOverflow(pad[2 * pair] &+ pad[2 * pair + 1])
            guard !overflow, out.shape[d] == grown else {
                throw call.error("output \(out) does not have \(x) padded by \(pad) along dim \(d)")
            }
        }
        for d in 0..<(rank - pad.count / 2) where out.shape[d] != x.shape[d] {
            throw call.error("output \(out) does not have \(x) padded by \(pad) along dim \(d)")
        }
        // Step 2: the fill.
        try fill(call, out)
        // Step 3: input elements i with 0 <= i + before < out land at i + before.
        var inOffset = 0, outOffset = 0
        ShapeMath.contiguousStrides(of: x.shape, into: inStrides)
        ShapeMath.contiguousStrides(of: out.shape, into: outStrides)
        for d in 0..<rank {
            let first = Swift.max(0, -before[d])
            let end = Swift.min(x.shape[d], out.shape[d] - before[d])
            overlap[d] = Swift.max(0, end - first)
            inOffset += first * inStrides[d]
            outOffset += (first + before[d]) * outStrides[d]
        }
        let elementSize = x.dtype.byteSize
        guard let dst = out.unsafeMutableRawBytes.baseAddress else { return }
        x.withUnsafeRawBytes { src in
            guard let src = src.baseAddress else { return }
            StridedCopy.copy(shape: UnsafeBufferPointer(overlap), elementSize: elementSize,
                             from: src + inOffset * elementSize, strides: UnsafeBufferPointer(inStrides),
                             to: dst + outOffset * elementSize, strides: UnsafeBufferPointer(outStrides))
        }
    }
}

/// Fills `out` with the call's `value` in `out`'s dtype.
private func fill(_ call: KernelCall, _ out: Tensor) throws(KernelError) {
    guard out.elementCount > 0 else { return }
    let value = call.arguments["value"]
    switch out.dtype {
    case .float32: fillAll(out, Float(floatValue(value)))
    case .float16: fillAll(out, Float16(Float(floatValue(value))))
    case .bfloat16: fillAll(out, BFloat16(Float(floatValue(value))))
    case .int64: fillAll(out, Int64(truncatingIfNeeded: try integerValue(call, value)))
    case .int32: fillAll(out, Int32(truncatingIfNeeded: try integerValue(call, value)))
    case .int16: fillAll(out, Int16(truncatingIfNeeded: try integerValue(call, value)))
    case .int8: fillAll(out, Int8(truncatingIfNeeded: try integerValue(call, value)))
    case .uint8: fillAll(out, UInt8(truncatingIfNeeded: try integerValue(call, value)))
    case .bool: fillAll(out, floatValue(value) != 0)
    }
}

private func fillAll<T: TensorElement>(_ out: Tensor, _ value: T) {
    out.unsafeMutableBuffer(of: T.self).update(repeating: value)
}

/// A Scalar argument as a Double (ints above 2^53 round; only float types read it this way, and
/// bool, for which only zero matters).
private func floatValue(_ value: Argument<Int>) -> Double {
    switch value {
    case .int(let v): return Double(v)
    case .float(let v): return v
    default: return 0
    }
}

/// A Scalar argument as an integer: an int as it is, a float truncated toward zero.
private func integerValue(_ call: KernelCall, _ value: Argument<Int>) throws(KernelError) -> Int64 {
    switch value {
    case .int(let v): return Int64(v)
    case .float(let v):
        guard let truncated = Int64(exactly: v.rounded(.towardZero)) else {
            throw call.error("value \(v) does not convert to \(call.outputs[0].dtype)")
        }
        return truncated
    default: return 0
    }
}
