import KilnOps
import KilnTensor

// Shape copies: unsqueeze, squeeze, expand, split and select. Each moves bytes only, so one kernel
// serves every dtype; each checks the outputs it was given against its arguments before writing.

/// The copy kernels; the view ops (`unsqueeze`, `squeeze.dims`, ...) share their `_copy` form's.
let shapingCopyKernels: [KernelEntry] = [
    KernelEntry(op: "unsqueeze_copy", name: "any_unsqueeze_copy__portable", kernel: unsqueezeCopy),
    KernelEntry(op: "unsqueeze", name: "any_unsqueeze__portable", kernel: unsqueezeCopy),
    KernelEntry(op: "squeeze_copy.dims", name: "any_squeeze_copy_dims__portable", kernel: squeezeCopy),
    KernelEntry(op: "squeeze.dims", name: "any_squeeze_dims__portable", kernel: squeezeCopy),
    KernelEntry(op: "squeeze.dim", name: "any_squeeze_dim__portable", kernel: squeezeCopy),
    KernelEntry(op: "expand_copy", name: "any_expand_copy__portable", kernel: expandCopy),
    KernelEntry(op: "expand", name: "any_expand__portable", kernel: expandCopy),
    KernelEntry(op: "split_with_sizes_copy", name: "any_split_with_sizes_copy__portable", kernel: splitCopy),
    KernelEntry(op: "split_with_sizes", name: "any_split_with_sizes__portable", kernel: splitCopy),
    KernelEntry(op: "split.Tensor", name: "any_split__portable", kernel: splitCopy),
    KernelEntry(op: "select_copy.int", name: "any_select_copy_int__portable", kernel: selectCopy),
    KernelEntry(op: "select.int", name: "any_select_int__portable", kernel: selectCopy),
]

/// unsqueeze: the same bytes with a dim of size 1 inserted at `dim` (-rank-1...rank).
private func unsqueezeCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let out = try ShapingSupport.onlyOutput(call, dtype: x.dtype)
    let d = call.arguments.int("dim")
    guard d >= -(x.rank + 1), d <= x.rank else {
        throw call.error("argument 'dim': dim \(d) is out of range for inserting into a tensor of rank \(x.rank)")
    }
    // 1. The output is the input's shape with a 1 at the new dim.
    let at = d < 0 ? d + x.rank + 1 : d
    var matches = out.rank == x.rank + 1 && out.shape[at] == 1
    for i in 0..<x.rank where matches { matches = out.shape[i < at ? i : i + 1] == x.shape[i] }
    guard matches else { throw call.error("expected an output of \(x) with a 1 inserted at dim \(at), got \(out)") }
    // 2. One copy.
    try ShapingSupport.copyAll(call, x, into: out)
}

/// squeeze.dims / squeeze.dim: the same bytes without the listed dims of size 1.
private func squeezeCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let out = try ShapingSupport.onlyOutput(call, dtype: x.dtype)
    // 1. The listed dims (one int for squeeze.dim), normalized; a repeat is an error.
    if case .int(let d) = call.arguments["dim"] {
        try squeeze(call, x, out, dims: CollectionOfOne(d))
    } else {
        try squeeze(call, x, out, dims: call.arguments.intList("dim"))
    }
}

private func squeeze(_ call: KernelCall, _ x: Tensor, _ out: Tensor, dims: some Collection<Int>) throws(KernelError) {
    try withTemporaryInts(Swift.max(x.rank, 1)) { (removed) throws(KernelError) in
        for d in dims {
            let a = try ShapingSupport.axis(call, d, rank: x.rank)
            guard removed[a] == 0 else { throw call.error("argument 'dim': dim \(d) appears more than once") }
            removed[a] = x.rank > 0 && x.shape[a] == 1 ? 1 : 2
        }
        // 2. The output is the input without the removed dims.
        var kept = 0
        var matches = true
        for i in 0..<x.rank where removed[i] != 1 {
            matches = matches && kept < out.rank && out.shape[kept] == x.shape[i]
            kept += 1
        }
        guard matches, kept == out.rank else {
            throw call.error("expected an output of \(x) without its listed dims of size 1, got \(out)")
        }
    }
    // 3. One copy.
    try ShapingSupport.copyAll(call, x, into: out)
}

/// expand: every output element reads the input element it broadcasts from (stride 0 along the
/// expanded and the new leading dims).
private func expandCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    let out = try ShapingSupport.onlyOutput(call, dtype: x.dtype)
    let size = call.arguments.intList("size")
    guard size.count >= x.rank, out.rank == size.count else {
        throw call.error("argument 'size': cannot expand \(x) to \(size) (output \(out))")
    }
    let offset = size.count - x.rank
    try withTemporaryInts(x.rank, out.rank) { (inStrides, strides) throws(KernelError) in
        ShapeMath.contiguousStrides(of: x.shape, into: inStrides)
        for i in 0..<out.rank {
            // 1. Each output dim: its requested size (-1 keeps the input's), and where it reads.
            let s = size[i], o = out.shape[i]
            if i < offset {
                guard s >= 0, o == s else { throw call.error("argument 'size': new dim \(i) is \(s), output \(out)") }
                continue   // stride 0: a new leading dim repeats the whole input
            }
            let d = x.shape[i - offset]
            guard s == -1 ? o == d : (o == s && (d == s || d == 1)) else {
                throw call.error("argument 'size': cannot expand dim \(i - offset) of \(x) to \(s) (output \(out))")
            }
            strides[i] = d == o ? inStrides[i - offset] : 0
        }
        // 2. One strided copy.
        ShapingSupport.copy(x, offset: 0, strides: strides, into: out)
    }
}

/// split_with_sizes(_copy) and split.Tensor: consecutive pieces along `dim`; output k starts
/// where output k-1 ends.
private func splitCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    guard x.rank > 0 else { throw call.error("argument 'self': cannot split a 0-d tensor") }
    let dim = try ShapingSupport.axis(call, call.arguments.int("dim"), rank: x.rank)
    let total = x.shape[dim]
    // 1. The piece sizes: split_sizes as given, or split_size each with a shorter last piece.
    let fixed = call.op.parameterIndex("split_size") != nil ? call.arguments.int("split_size") : nil
    let given = fixed == nil ? call.arguments.intList("split_sizes") : []
    var expectedCount = given.count
    if let fixed {
        guard fixed > 0 || (fixed == 0 && total == 0) else {
            throw call.error("argument 'split_size': \(fixed) cannot split a dim of size \(total)")
        }
        expectedCount = total == 0 ? 1 : (total + fixed - 1) / fixed
    }
    guard call.outputs.count == expectedCount else {
        throw call.error("expected \(expectedCount) outputs, got \(call.outputs.count)")
    }
    // 2. Each output is the input with its piece's size along dim; the pieces cover the dim.
    var start = 0
    for (k, out) in call.outputs.enumerated() {
        let piece = fixed.map { Swift.min($0, total - k * $0) } ?? given[k]
        guard piece >= 0, out.dtype == x.dtype, ShapeMath.shape(out.shape, is: x.shape, withDim: dim, resizedTo: piece) else {
            throw call.error("output \(k) is \(out), expected \(x.dtype) with size \(piece) in dim \(dim) of \(x)")
        }
        start += piece
    }
    guard start == total else {
        throw call.error("argument 'split_sizes': the pieces add up to \(start), dim \(dim) of \(x) has \(total)")
    }
    // 3. One strided copy per piece, from its first element along dim.
    withTemporaryInts(x.rank) { strides in
        ShapeMath.contiguousStrides(of: x.shape, into: strides)
        var offset = 0
        for out in call.outputs {
            ShapingSupport.copy(x, offset: offset * strides[dim], strides: strides, into: out)
            offset += out.shape[dim]
        }
    }
}

/// select: the slice at `index` (negative counts from the end) along `dim`, without that dim.
private func selectCopy(_ call: KernelCall) throws(KernelError) {
    let x = call.input("self")
    guard x.rank > 0 else { throw call.error("argument 'self': cannot select from a 0-d tensor") }
    let out = try ShapingSupport.onlyOutput(call, dtype: x.dtype)
    let dim = try ShapingSupport.axis(call, call.arguments.int("dim"), rank: x.rank)
    let size = x.shape[dim], index = call.arguments.int("index")
    guard index >= -size, index < size else {
        throw call.error("argument 'index': index \(index) is out of range for dim \(dim) of size \(size)")
    }
    var matches = out.rank == x.rank - 1
    for i in 0..<out.rank where matches { matches = out.shape[i] == x.shape[i < dim ? i : i + 1] }
    guard matches else { throw call.error("expected an output of \(x) without dim \(dim), got \(out)") }
    withTemporaryInts(x.rank, Swift.max(out.rank, 1)) { inStrides, strides in
        // Read from the selected slice with the input's strides of the other dims.
        ShapeMath.contiguousStrides(of: x.shape, into: inStrides)
        for i in 0..<out.rank { strides[i] = inStrides[i < dim ? i : i + 1] }
        let start = (index < 0 ? index + size : index) * inStrides[dim]
        ShapingSupport.copy(x, offset: start, strides: strides.part(0, out.rank), into: out)
    }
}
