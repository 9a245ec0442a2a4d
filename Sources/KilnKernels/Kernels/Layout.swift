#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnOps
import KilnTensor

/// Portable kernels for the layout ops: views, permutations, slices and concatenation.
///
/// Every kernel moves bytes only, so each one serves every dtype. Inputs are dense and row-major
/// (see ``KernelCall``); each kernel checks the output it was given against its arguments before
/// writing, so a wrong plan fails with a ``KernelError`` instead of writing out of bounds.
let layoutKernels: [KernelEntry] = [
    KernelEntry(op: "view_copy", name: "any_view_copy__portable", kernel: copyAllBytes),
    KernelEntry(op: "dim_order_ops._clone_dim_order", name: "any_clone_dim_order__portable", kernel: copyAllBytes),
    KernelEntry(op: "reshape", name: "any_reshape__portable", kernel: copyAllBytes),
    KernelEntry(op: "flatten.using_ints", name: "any_flatten__portable", kernel: copyAllBytes),
    KernelEntry(op: "permute_copy", name: "any_permute_copy__portable", kernel: permuteCopy),
    KernelEntry(op: "transpose.int", name: "any_transpose__portable", kernel: transposeCopy),
    KernelEntry(op: "slice_copy.Tensor", name: "any_slice_copy__portable", kernel: sliceCopy),
    KernelEntry(op: "cat", name: "any_cat__portable", kernel: catCopy),
]

/// view_copy, reshape, flatten, _clone_dim_order: the same bytes under the output's shape.
private func copyAllBytes(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let out = try onlyOutput(call, dtype: x.dtype)
    // 1. The shape rule sized the output; the bytes must agree one for one.
    guard out.byteCount == x.byteCount else {
        throw call.error("cannot copy \(x) (\(x.elementCount) elements) into \(out) (\(out.elementCount) elements)")
    }
    // 2. One copy.
    copyBytes(x, into: out, byteCount: x.byteCount)
}

/// permute_copy: output dim i is input dim dims[i].
private func permuteCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let dims = call.arguments.intList("dims")
    guard dims.count == x.rank else {
        throw call.error("expected \(x.rank) dims for \(x), got \(dims)")
    }
    try withTemporaryInts(x.rank, x.rank) { (order, seen) throws(KernelError) in
        // 1. Normalize the permutation and check that it is one.
        for i in 0..<dims.count {
            let a = try normalizedDim(call, dims[i], rank: x.rank)
            guard seen[a] == 0 else { throw call.error("dim \(dims[i]) appears more than once in \(dims)") }
            seen[a] = 1
            order[i] = a
        }
        try permute(call, x, order)
    }
}

/// transpose.int: permute_copy with dims dim0 and dim1 swapped.
private func transposeCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    // A rank-0 tensor accepts dims 0 and -1 and is its own transpose.
    let a = try normalizedDim(call, call.arguments.int("dim0"), rank: x.rank)
    let b = try normalizedDim(call, call.arguments.int("dim1"), rank: x.rank)
    try withTemporaryInts(x.rank) { (order) throws(KernelError) in
        for d in 0..<x.rank { order[d] = d }
        if x.rank > 0 { order.swapAt(a, b) }
        try permute(call, x, order)
    }
}

/// Writes `x` permuted by `order` (a valid permutation) into the call's output.
private func permute(_ call: KernelCall, _ x: Tensor, _ order: UnsafeMutableBufferPointer<Int>) throws(KernelError) {
    let out = try onlyOutput(call, dtype: x.dtype)
    let rank = x.rank
    try withTemporaryInts(rank, rank, rank) { (inStrides, srcStrides, dstStrides) throws(KernelError) in
        // 1. The output's shape is the input's taken in `order`.
        guard ShapeMath.shape(out.shape, is: x.shape, permutedBy: order) else {
            throw call.error("expected an output of shape \(order.map { x.shape[$0] }), got \(out)")
        }
        // 2. Walk the output in row-major order, reading the input at its strides taken in `order`.
        ShapeMath.contiguousStrides(of: x.shape, into: inStrides)
        for d in 0..<rank { srcStrides[d] = inStrides[order[d]] }
        ShapeMath.contiguousStrides(of: out.shape, into: dstStrides)
        // 3. One strided copy (a single memcpy when the permutation keeps the layout).
        copyStrided(x, into: out, sourceOffset: 0, sourceStrides: srcStrides, destinationStrides: dstStrides)
    }
}

/// slice_copy.Tensor: elements start..<end by step along dim, with Python's rules for negative
/// and out-of-range bounds (an absent start is 0, an absent end is the dim's size).
private func sliceCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    guard x.rank > 0 else { throw call.error("cannot slice a rank-0 tensor") }
    let dim = try normalizedDim(call, call.arguments.int("dim"), rank: x.rank)
    let step = call.arguments.int("step")
    guard step > 0 else { throw call.error("expected a positive step, got \(step)") }
    let out = try onlyOutput(call, dtype: x.dtype)

    // 1. Resolve the bounds as Python does: negative counts from the end, then clamp to 0...size.
    let size = x.shape[dim]
    func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v &+ size : v, 0), size) }
    let start = clamp(call.arguments.optionalInt("start") ?? 0)
    let end = clamp(call.arguments.optionalInt("end") ?? size)
    let length = end > start ? (end - start - 1) / step + 1 : 0
    guard ShapeMath.shape(out.shape, is: x.shape, withDim: dim, resizedTo: length) else {
        var shape = x.shape
        shape[dim] = length
        throw call.error("expected an output of shape \(shape), got \(out)")
    }

    // 2. Read from element `start` along dim, stepping `step` elements of that dim at a time.
    withTemporaryInts(x.rank, x.rank) { srcStrides, dstStrides in
        ShapeMath.contiguousStrides(of: x.shape, into: srcStrides)
        let offset = start * srcStrides[dim]
        srcStrides[dim] *= step
        ShapeMath.contiguousStrides(of: out.shape, into: dstStrides)
        copyStrided(x, into: out, sourceOffset: offset, sourceStrides: srcStrides, destinationStrides: dstStrides)
    }
}

/// cat: the inputs one after another along dim; inputs may be empty along dim.
private func catCopy(_ call: KernelCall) throws(KernelError) {
    let indices = call.arguments.tensorList("tensors")   // into call.inputs
    guard let firstIndex = indices.first else { throw call.error("expected at least one tensor") }
    let first = call.inputs[firstIndex]
    guard first.rank > 0 else { throw call.error("cannot concatenate rank-0 tensors") }
    let dim = try normalizedDim(call, call.arguments.int("dim"), rank: first.rank)
    let out = try onlyOutput(call, dtype: first.dtype)

    // 1. Check that the inputs agree off dim and that the output holds exactly their sum along it.
    var total = 0
    for (i, index) in indices.enumerated() {
        let t = call.inputs[index]
        guard t.dtype == first.dtype, t.rank == first.rank else {
            throw call.error("tensor \(i) is \(t), tensor 0 is \(first)")
        }
        for a in 0..<t.rank where a != dim && t.shape[a] != first.shape[a] {
            throw call.error("tensor \(i) has size \(t.shape[a]) in dim \(a), tensor 0 has \(first.shape[a])")
        }
        total += t.shape[dim]
    }
    guard ShapeMath.shape(out.shape, is: first.shape, withDim: dim, resizedTo: total) else {
        var shape = first.shape
        shape[dim] = total
        throw call.error("expected an output of shape \(shape), got \(out)")
    }

    // 2. Each input is `outer` blocks of `shape[dim] * inner` contiguous elements; block k of
    //    input i lands in output block k after the blocks of inputs 0..<i.
    let elementSize = first.dtype.byteSize
    let outer = ShapeMath.product(first.shape, 0..<dim)
    let inner = ShapeMath.product(first.shape, (dim + 1)..<first.rank)
    let outRow = total * inner * elementSize
    let dst = out.unsafeMutableRawBytes
    guard outer > 0, outRow > 0, let dstBase = dst.baseAddress else { return }
    var column = 0   // byte offset of the current input inside an output block
    for index in indices {
        let t = call.inputs[index]
        let row = t.shape[dim] * inner * elementSize
        if row > 0 {
            t.withUnsafeRawBytes { src in
                guard let srcBase = src.baseAddress else { return }
                for k in 0..<outer {
                    memcpy(dstBase + k * outRow + column, srcBase + k * row, row)
                }
            }
        }
        column += row
    }
}

// MARK: - Shared checks and copies

/// The call's single output, which must have `dtype`.
private func onlyOutput(_ call: KernelCall, dtype: DType) throws(KernelError) -> Tensor {
    guard call.outputs.count == 1 else { throw call.error("expected 1 output, got \(call.outputs.count)") }
    let out = call.outputs[0]
    guard out.dtype == dtype else { throw call.error("expected a \(dtype) output, got \(out)") }
    return out
}

/// `d` in `-rank..<rank` made non-negative (a rank-0 tensor accepts 0 and -1, as in ATen).
private func normalizedDim(_ call: KernelCall, _ d: Int, rank: Int) throws(KernelError) -> Int {
    let r = Swift.max(rank, 1)
    guard d >= -r, d < r else {
        throw call.error("dim \(d) is out of range for a tensor of rank \(rank) (expected -\(r)...\(r - 1))")
    }
    return d < 0 ? d + r : d
}

private func copyBytes(_ x: Tensor, into out: Tensor, byteCount: Int) {
    let dst = out.unsafeMutableRawBytes
    x.withUnsafeRawBytes { src in
        if byteCount > 0, let s = src.baseAddress, let d = dst.baseAddress { memcpy(d, s, byteCount) }
    }
}

/// Copies `x`'s elements, read from element `sourceOffset` at `sourceStrides`, into `out` at
/// `destinationStrides`, walking `out`'s shape.
private func copyStrided(_ x: Tensor, into out: Tensor, sourceOffset: Int,
                         sourceStrides: UnsafeMutableBufferPointer<Int>,
                         destinationStrides: UnsafeMutableBufferPointer<Int>) {
    let dst = out.unsafeMutableRawBytes
    let elementSize = x.dtype.byteSize
    x.withUnsafeRawBytes { src in
        guard out.elementCount > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        out.shape.withUnsafeBufferPointer { shape in
            StridedCopy.copy(shape: shape, elementSize: elementSize,
                             from: s + sourceOffset * elementSize, strides: UnsafeBufferPointer(sourceStrides),
                             to: d, strides: UnsafeBufferPointer(destinationStrides))
        }
    }
}
