import KilnTensor

/// The static type of a tensor value: dtype and (possibly symbolic) shape.
///
/// ```swift
/// TensorType(.float32, [1, Dim(seq), 256]).description   // "f32[1, seq, 256]"
/// ```
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var dtype: DType
    public var shape: [Dim]

    public init(_ dtype: DType, _ shape: [Dim]) {
        self.dtype = dtype
        self.shape = shape
    }

    /// A type with constant dims.
    public init(_ dtype: DType, static shape: [Int]) {
        self.init(dtype, shape.map { Dim($0) })
    }

    public var rank: Int { shape.count }

    /// The dims as integers when every dim is constant.
    public var staticShape: [Int]? {
        var out: [Int] = []
        out.reserveCapacity(shape.count)
        for d in shape {
            guard let v = d.staticValue else { return nil }
            out.append(v)
        }
        return out
    }

    /// The shape at every symbol's upper bound: what memory is planned for.
    public var upperBoundShape: [Int] { shape.map(\.upperBound) }

    public var description: String {
        "\(dtype.textName)[\(shape.map(\.description).joined(separator: ", "))]"
    }
}
