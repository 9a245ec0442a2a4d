#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

// Indexing: index_select, gather and embedding. Each copies elements of any dtype picked by an
// int64 or int32 index tensor, checking every index before it writes anything: an index out of
// range is an error naming the op, the argument and the index (ATen does not wrap negative
// indices in these ops, and neither does Kiln).

let shapingIndexKernels: [KernelEntry] = [
    KernelEntry(op: "index_select", name: "any_index_select__portable", kernel: indexSelect),
    KernelEntry(op: "gather", name: "any_gather__portable", kernel: gather),
    KernelEntry(op: "embedding", name: "any_embedding__portable", kernel: embedding),
]

/// Throws unless every element of `index` lies in `0..<size`. (`what` is built only for the
/// error: building text allocates.)
private func checkIndices(_ call: KernelCall, _ index: ShapingSupport.IndexReader, count: Int, size: Int,
                          argument: String, what: @autoclosure () -> String) throws(KernelError) {
    for i in 0..<count {
        let v = index[i]
        guard v >= 0, v < size else {
            throw call.error("argument '\(argument)': index \(v) (element \(i)) is out of range for \(what()) of size \(size)")
        }
    }
}

/// index_select: the slices of `self` at `index` along `dim`, one contiguous block each.
private func indexSelect(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self"), indexTensor = call.input("index")
    let out = try ShapingSupport.onlyOutput(call, dtype: x.dtype)
    let dim = try ShapingSupport.axis(call, call.arguments.int("dim"), rank: x.rank)
    let index = try ShapingSupport.IndexReader(call, indexTensor, argument: "index")
    guard indexTensor.rank <= 1 else { throw call.error("argument 'index': expected a 0-d or 1-d index, got \(indexTensor)") }
    // 1. outer × size × inner around dim (a 0-d self is one element).
    let count = indexTensor.elementCount
    let size = x.rank == 0 ? 1 : x.shape[dim]
    let outer = x.rank == 0 ? 1 : ShapeMath.product(x.shape, 0..<dim)
    let inner = x.rank == 0 ? 1 : ShapeMath.product(x.shape, (dim + 1)..<x.rank)
    let expected = x.rank == 0 ? count == 1 && out.rank == 0
        : ShapeMath.shape(out.shape, is: x.shape, withDim: dim, resizedTo: count)
    guard expected else { throw call.error("output \(out) does not hold \(count) slices of \(x) along dim \(dim)") }
    try checkIndices(call, index, count: count, size: size, argument: "index", what: "dim \(dim)")
    // 2. Copy block (o, index[j]) of inner elements to block (o, j).
    let elementSize = x.dtype.byteSize, block = inner * elementSize
    let dst = out.unsafeMutableRawBytes
    x.withUnsafeRawBytes { src in
        guard block > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        for o in 0..<outer {
            for j in 0..<count {
                memcpy(d + (o * count + j) * block, s + (o * size + index[j]) * block, block)
            }
        }
    }
}

/// gather: `out[p] = self[p with its dim-th coordinate replaced by index[p]]`, p over index's shape.
private func gather(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self"), indexTensor = call.input("index")
    let out = try ShapingSupport.onlyOutput(call, dtype: x.dtype)
    let dim = try ShapingSupport.axis(call, call.arguments.int("dim"), rank: x.rank)
    let index = try ShapingSupport.IndexReader(call, indexTensor, argument: "index")
    guard indexTensor.rank == x.rank, out.shape == indexTensor.shape else {
        throw call.error("argument 'index': \(indexTensor) must have self's rank (\(x)) and the output's shape (\(out))")
    }
    for d in 0..<x.rank where d != dim && indexTensor.shape[d] > x.shape[d] {
        throw call.error("argument 'index': size \(indexTensor.shape[d]) in dim \(d) exceeds self's \(x.shape[d])")
    }
    let size = x.rank == 0 ? 1 : x.shape[dim]
    try checkIndices(call, index, count: indexTensor.elementCount, size: size, argument: "index", what: "dim \(dim)")
    if out.elementCount == 0 { return }
    switch x.dtype.byteSize {
    case 1: gatherElements(x, out, index, dim: dim, UInt8.self)
    case 2: gatherElements(x, out, index, dim: dim, UInt16.self)
    case 4: gatherElements(x, out, index, dim: dim, UInt32.self)
    default: gatherElements(x, out, index, dim: dim, UInt64.self)
    }
}

/// Walks the output (the index's shape) row-major; the source offset steps by self's strides,
/// except along dim, where it is `index * stride[dim]`. `E` is an integer of the element's size.
private func gatherElements<E: FixedWidthInteger>(_ x: Tensor, _ out: Tensor, _ index: ShapingSupport.IndexReader,
                                                  dim: Int, _: E.Type) {
    let rank = x.rank
    withTemporaryInts(Swift.max(rank, 1), Swift.max(rank, 1)) { strides, position in
        ShapeMath.contiguousStrides(of: x.shape, into: strides)
        let dimStride = rank == 0 ? 0 : strides[dim]
        let dst = out.unsafeMutableRawBytes, size = MemoryLayout<E>.size
        x.withUnsafeRawBytes { src in
            var base = 0   // source offset of the current position without its dim coordinate
            for i in 0..<out.elementCount {
                let v = src.loadUnaligned(fromByteOffset: (base + index[i] * dimStride) * size, as: E.self)
                dst.storeBytes(of: v, toByteOffset: i * size, as: E.self)
                // Advance the odometer (innermost first); the dim coordinate adds nothing to base.
                var a = rank - 1
                while a >= 0 {
                    position[a] += 1
                    if a != dim { base += strides[a] }
                    if position[a] < out.shape[a] { break }
                    if a != dim { base -= strides[a] * out.shape[a] }
                    position[a] = 0
                    a -= 1
                }
            }
        }
    }
}

/// embedding: row `indices[i]` of the 2-D `weight` for every element of `indices`
/// (`padding_idx` only affects gradients).
private func embedding(_ call: KernelCall) throws(KernelError) {
    let weight = call.input("weight"), indexTensor = call.input("indices")
    let out = try ShapingSupport.onlyOutput(call, dtype: weight.dtype)
    guard weight.rank == 2 else { throw call.error("argument 'weight': expected a 2-D weight, got \(weight)") }
    let index = try ShapingSupport.IndexReader(call, indexTensor, argument: "indices")
    let (rows, width) = (weight.shape[0], weight.shape[1])
    guard ShapeMath.shape(out.shape, is: indexTensor.shape, upTo: indexTensor.rank, then: width) else {
        throw call.error("output \(out) is not \(indexTensor.shape) + [\(width)]")
    }
    let count = indexTensor.elementCount
    try checkIndices(call, index, count: count, size: rows, argument: "indices", what: "the \(rows) rows of weight")
    let row = width * weight.dtype.byteSize
    let dst = out.unsafeMutableRawBytes
    weight.withUnsafeRawBytes { src in
        guard row > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        for i in 0..<count { memcpy(d + i * row, s + index[i] * row, row) }
    }
}
