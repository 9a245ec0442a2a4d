#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

/// Portable kernels for `shapingOps`: the shape copies (`ShapingCopies.swift`), reductions
/// (`ShapingReductions.swift`), indexing (`ShapingIndexing.swift`), layer norm
/// (`ShapingLayerNorm.swift`) and attention (`ShapingAttention.swift`).
///
/// A non-core op (`unsqueeze`, `split.Tensor`, `layer_norm`, ...) runs on its core op's kernel
/// where their parameters agree, so the evaluator computes both forms the same way.
let shapingKernels: [KernelEntry] = shapingCopyKernels + shapingReductionKernels + shapingIndexKernels
    + shapingLayerNormKernels + shapingAttentionKernels

/// Checks and copies the shaping kernels share. Every check throws a ``KernelError`` naming the op
/// (and, in its text, the argument at fault).
enum ShapingSupport {
    /// `d` in `-rank..<rank` made non-negative (a 0-d tensor accepts 0 and -1, as in ATen).
    static func axis(_ call: KernelCall, _ d: Int, rank: Int, argument: String = "dim") throws(KernelError) -> Int {
        let r = Swift.max(rank, 1)
        guard d >= -r, d < r else {
            throw call.error("argument '\(argument)': dim \(d) is out of range for a tensor of rank \(rank) "
                             + "(expected -\(r)...\(r - 1))")
        }
        return d < 0 ? d + r : d
    }

    /// The call's only output, which must have `dtype`.
    static func onlyOutput(_ call: KernelCall, dtype: DType) throws(KernelError) -> Tensor {
        guard call.outputs.count == 1 else { throw call.error("expected 1 output, got \(call.outputs.count)") }
        let out = call.outputs[0]
        guard out.dtype == dtype else { throw call.error("expected a \(dtype) output, got \(out)") }
        return out
    }

    /// Copies all of `x`'s bytes into `out`, which must hold exactly as many.
    static func copyAll(_ call: KernelCall, _ x: Tensor, into out: Tensor) throws(KernelError) {
        guard out.byteCount == x.byteCount, out.dtype == x.dtype else {
            throw call.error("cannot copy \(x) (\(x.elementCount) elements) into \(out) (\(out.elementCount) elements)")
        }
        let dst = out.unsafeMutableRawBytes
        x.withUnsafeRawBytes { src in
            if let s = src.baseAddress, let d = dst.baseAddress, src.count > 0 { memcpy(d, s, src.count) }
        }
    }

    /// Copies the elements of `out`'s shape from `x` (read from element `offset` at `strides`)
    /// into `out`, row-major: one ``StridedCopy``.
    static func copy(_ x: Tensor, offset: Int, strides: UnsafeMutableBufferPointer<Int>, into out: Tensor) {
        let elementSize = x.dtype.byteSize
        let dst = out.unsafeMutableRawBytes
        withTemporaryInts(out.rank) { outStrides in
            ShapeMath.contiguousStrides(of: out.shape, into: outStrides)
            x.withUnsafeRawBytes { src in
                guard out.elementCount > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
                out.shape.withUnsafeBufferPointer { shape in
                    StridedCopy.copy(shape: shape, elementSize: elementSize,
                                     from: s + offset * elementSize, strides: UnsafeBufferPointer(strides),
                                     to: d, strides: UnsafeBufferPointer(outStrides))
                }
            }
        }
    }

    /// Reads element `i` of an int64 or int32 index tensor.
    enum IndexReader {
        case wide(UnsafeBufferPointer<Int64>)
        case narrow(UnsafeBufferPointer<Int32>)

        init(_ call: KernelCall, _ t: Tensor, argument: String) throws(KernelError) {
            switch t.dtype {
            case .int64: self = .wide(t.unsafeBuffer(of: Int64.self))
            case .int32: self = .narrow(t.unsafeBuffer(of: Int32.self))
            default: throw call.error("argument '\(argument)': expected an int64 or int32 tensor, got \(t.dtype)")
            }
        }

        @inline(__always)
        subscript(i: Int) -> Int {
            switch self {
            case .wide(let p): return Int(p[i])
            case .narrow(let p): return Int(p[i])
            }
        }
    }
}
