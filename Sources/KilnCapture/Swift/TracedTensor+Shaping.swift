import KilnIR
import KilnOps

// Shape ops: reshape, flatten, permute, transpose, slicing with ranges, cat, (un)squeeze, expand.

extension TracedTensor {
    /// The same elements in `shape` (`view_copy`): one size may be -1, and a symbolic size
    /// (`x.shape[1]`) is passed as -1, so at most one of the two kinds.
    ///
    /// ```swift
    /// let heads = x.reshape([1, x.shape[1], 4, 64])     // x: f32[1, seq, 256]
    /// ```
    public func reshape(_ shape: [Dim], file: String = #fileID, line: Int = #line) -> TracedTensor {
        let location = tracer.location(file, line)
        let sizes = shape.map { $0.staticValue ?? -1 }
        guard sizes.filter({ $0 == -1 }).count <= 1 else {
            tracer.fail(CaptureError(.trace, "reshape of \(type) to \(shape): at most one size may be -1 or symbolic",
                                     location: location))
            return TracedTensor(tracer: tracer, id: nil, type: type)
        }
        return apply("view_copy", [], ["size": .intList(sizes)], at: location)
    }

    /// `reshape(_:)` with the sizes listed: `x.reshape(1, -1)`.
    public func reshape(_ shape: Dim..., file: String = #fileID, line: Int = #line) -> TracedTensor {
        reshape(shape, file: file, line: line)
    }

    /// PyTorch's name for ``reshape(_:file:line:)``: `x.view(1, -1)`.
    public func view(_ shape: Dim..., file: String = #fileID, line: Int = #line) -> TracedTensor {
        reshape(shape, file: file, line: line)
    }

    /// Dims `start...end` merged into one (`flatten.using_ints`).
    public func flattened(start: Int = 0, end: Int = -1, file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("flatten.using_ints", [], ["start_dim": .int(start), "end_dim": .int(end)], at: tracer.location(file, line))
    }

    /// Dims reordered: result dim i is dim `dims[i]` (`permute_copy`).
    public func permuted(_ dims: Int..., file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("permute_copy", [], ["dims": .intList(dims)], at: tracer.location(file, line))
    }

    /// Dims `dim0` and `dim1` swapped (`transpose.int`); negative dims count from the end.
    public func transposed(_ dim0: Int, _ dim1: Int, file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("transpose.int", [], ["dim0": .int(dim0), "dim1": .int(dim1)], at: tracer.location(file, line))
    }

    /// A size-1 dim inserted at `dim`.
    public func unsqueezed(_ dim: Int, file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("unsqueeze", [], ["dim": .int(dim)], at: tracer.location(file, line))
    }

    /// The size-1 dims among `dims` removed.
    public func squeezed(_ dims: Int..., file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("squeeze.dims", [], ["dim": .intList(dims)], at: tracer.location(file, line))
    }

    /// Broadcast to `shape` (-1 keeps a dim) (`expand_copy`).
    public func expanded(_ shape: [Int], file: String = #fileID, line: Int = #line) -> TracedTensor {
        apply("expand_copy", [], ["size": .intList(shape)], at: tracer.location(file, line))
    }

    /// The elements of `range` along `dim` (`slice_copy.Tensor`, Python's rules: negative
    /// bounds count from the end, bounds past the end are clamped).
    ///
    /// ```swift
    /// let upper = x.slice(-1, 32...)       // x[..., 32:]
    /// ```
    public func slice(_ dim: Int, _ range: some SliceBounds, step: Int = 1,
                      file: String = #fileID, line: Int = #line) -> TracedTensor {
        slice(dim, range.sliceBounds, step: step, at: tracer.location(file, line))
    }

    /// `x[dim: 1, 0..<16]`: ``slice(_:_:step:file:line:)`` as a subscript.
    public subscript(dim dim: Int, _ range: some SliceBounds, file file: String = #fileID, line line: Int = #line) -> TracedTensor {
        slice(dim, range.sliceBounds, step: 1, at: tracer.location(file, line))
    }

    /// `x[0..<2, 1...]`: slices of the leading dims, one range per dim.
    public subscript(_ ranges: any SliceBounds..., file file: String = #fileID, line line: Int = #line) -> TracedTensor {
        let location = tracer.location(file, line)
        var t = self
        for (dim, range) in ranges.enumerated() {
            t = t.slice(dim, range.sliceBounds, step: 1, at: location)
        }
        return t
    }

    func slice(_ dim: Int, _ bounds: (start: Int?, end: Int?), step: Int, at location: String) -> TracedTensor {
        let start: Argument<ValueID> = bounds.start.map { .int($0) } ?? .none
        let end: Argument<ValueID> = bounds.end.map { .int($0) } ?? .none
        return apply("slice_copy.Tensor", [], ["dim": .int(dim), "start": start, "end": end, "step": .int(step)], at: location)
    }
}

/// `tensors` joined along `dim` (`cat`). At least one tensor must be given (as for
/// `torch.cat`; an empty list is a programming error and stops, like indexing an empty array).
public func concatenated(_ tensors: [TracedTensor], dim: Int = 0, file: String = #fileID, line: Int = #line) -> TracedTensor {
    guard let first = tensors.first else {
        preconditionFailure("concatenated needs at least one tensor")
    }
    let ids = tensors.compactMap(\.id)
    return first.tracer.record("cat", [], ["tensors": .tensorList(ids), "dim": .int(dim)], listed: tensors,
                               at: first.tracer.location(file, line))[0]
}

/// A range of indices along one dim, as Python writes slices: `2..<5` is `2:5`, `2...` is `2:`,
/// `..<(-1)` is `:-1`.
public protocol SliceBounds {
    /// Start and end (exclusive); nil for an open side.
    var sliceBounds: (start: Int?, end: Int?) { get }
}

extension Range: SliceBounds where Bound == Int {
    public var sliceBounds: (start: Int?, end: Int?) { (lowerBound, upperBound) }
}

extension ClosedRange: SliceBounds where Bound == Int {
    /// `a...b` ends after `b`; `a...(-1)` runs to the end.
    public var sliceBounds: (start: Int?, end: Int?) { (lowerBound, upperBound == -1 ? nil : upperBound + 1) }
}

extension PartialRangeFrom: SliceBounds where Bound == Int {
    public var sliceBounds: (start: Int?, end: Int?) { (lowerBound, nil) }
}

extension PartialRangeUpTo: SliceBounds where Bound == Int {
    public var sliceBounds: (start: Int?, end: Int?) { (nil, upperBound) }
}

extension PartialRangeThrough: SliceBounds where Bound == Int {
    public var sliceBounds: (start: Int?, end: Int?) { (nil, upperBound == -1 ? nil : upperBound + 1) }
}
