#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dense tensor: dtype, shape, dim order and the bytes behind them.
///
/// Storage is owned (64-byte aligned) or borrowed from a memory-mapped file (aligned to whatever
/// the file used: Kiln aligns to 64, ExecuTorch to 16), so code reading a tensor may rely on
/// element alignment only. A tensor is a value: writing through
/// ``withUnsafeMutableRawBytes(_:)`` first copies storage that is borrowed or shared.
///
/// ```swift
/// let x = try Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
/// x.scalars(as: Float.self)   // [1, 2, 3, 4]
/// ```
public struct Tensor: @unchecked Sendable, Equatable, CustomStringConvertible {
    /// Element type.
    public let dtype: DType
    /// Size of each dimension.
    public let shape: [Int]
    /// Physical order of the dimensions, outermost first (`[0, 1, ..., rank-1]` is row-major).
    public let dimOrder: [Int]
    /// Number of elements.
    public let elementCount: Int
    private var storage: TensorStorage
    private var byteOffset: Int

    /// Bytes of element data (`elementCount * dtype.byteSize`).
    public var byteCount: Int { elementCount * dtype.byteSize }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// True when ``dimOrder`` is the identity (row-major).
    public var isContiguous: Bool { dimOrder == Shape.contiguousDimOrder(rank: rank) }
    /// Element strides implied by ``dimOrder``.
    public var strides: [Int] { Shape.strides(shape, dimOrder: dimOrder) }

    /// A tensor over `storage`, starting `byteOffset` bytes in.
    /// - Throws: ``TensorError`` when the shape is invalid, the dim order is not a permutation,
    ///   or the storage is too small.
    public init(dtype: DType, shape: [Int], dimOrder: [Int]? = nil, storage: TensorStorage, byteOffset: Int = 0) throws {
        let order = dimOrder ?? Shape.contiguousDimOrder(rank: shape.count)
        try Shape.validateDimOrder(order, rank: shape.count)
        let bytes = try Shape.byteCount(shape, dtype: dtype)
        guard byteOffset >= 0, byteOffset <= storage.byteCount, bytes <= storage.byteCount - byteOffset else {
            throw TensorError(.dataSizeMismatch,
                              "\(dtype)\(shape) needs \(bytes) bytes at offset \(byteOffset), storage has \(storage.byteCount)")
        }
        self.dtype = dtype
        self.shape = shape
        self.dimOrder = order
        self.elementCount = bytes / Swift.max(dtype.byteSize, 1)
        self.storage = storage
        self.byteOffset = byteOffset
    }

    /// A zero-filled tensor with owned, aligned storage.
    public init(zeros dtype: DType, shape: [Int], dimOrder: [Int]? = nil) throws {
        let bytes = try Shape.byteCount(shape, dtype: dtype)
        try self.init(dtype: dtype, shape: shape, dimOrder: dimOrder, storage: TensorStorage(zeroedByteCount: bytes))
    }

    /// A tensor holding `values` in row-major order.
    /// - Throws: ``TensorError`` when `values.count` is not the shape's element count.
    public init<T: TensorElement>(_ values: [T], shape: [Int]) throws {
        let count = try Shape.elementCount(shape)
        guard count == values.count else {
            throw TensorError(.dataSizeMismatch, "shape \(shape) has \(count) elements, \(values.count) values given")
        }
        try self.init(zeros: T.dtype, shape: shape)
        values.withUnsafeBytes { src in
            storage.baseAddress.copyMemory(from: src.baseAddress ?? UnsafeRawPointer(storage.baseAddress),
                                           byteCount: src.count)
        }
    }

    /// A tensor holding a copy of `bytes`, which must be exactly the shape's byte count.
    public init(dtype: DType, shape: [Int], dimOrder: [Int]? = nil, copying bytes: UnsafeRawBufferPointer) throws {
        let needed = try Shape.byteCount(shape, dtype: dtype)
        guard needed == bytes.count else {
            throw TensorError(.dataSizeMismatch, "\(dtype)\(shape) needs \(needed) bytes, \(bytes.count) given")
        }
        try self.init(zeros: dtype, shape: shape, dimOrder: dimOrder)
        if let src = bytes.baseAddress, needed > 0 {
            storage.baseAddress.copyMemory(from: src, byteCount: needed)
        }
    }

    /// Calls `body` with the element bytes.
    public func withUnsafeRawBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.baseAddress + byteOffset, count: byteCount))
    }

    /// Calls `body` with writable element bytes, copying first unless this tensor is the only
    /// owner of owned storage.
    public mutating func withUnsafeMutableRawBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        if !storage.isOwned || !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage(zeroedByteCount: byteCount)
            if byteCount > 0 { copy.baseAddress.copyMemory(from: storage.baseAddress + byteOffset, byteCount: byteCount) }
            storage = copy
            byteOffset = 0
        }
        return try body(UnsafeMutableRawBufferPointer(start: storage.baseAddress + byteOffset, count: byteCount))
    }

    /// The element bytes, writable in place with no copy on write.
    ///
    /// For kernels writing into output tensors their caller allocated for them (the evaluator,
    /// the runtime's arena). Other code should use ``withUnsafeMutableRawBytes(_:)``.
    public var unsafeMutableRawBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage.baseAddress + byteOffset, count: byteCount)
    }

    /// The elements as `T` (which must match ``dtype``), for reading in kernels.
    public func unsafeBuffer<T: TensorElement>(of type: T.Type) -> UnsafeBufferPointer<T> {
        precondition(T.dtype == dtype, "unsafeBuffer(of: \(T.self)) on a \(dtype) tensor")
        return UnsafeBufferPointer(start: (storage.baseAddress + byteOffset).assumingMemoryBound(to: T.self),
                                   count: elementCount)
    }

    /// The elements as `T` (which must match ``dtype``), writable in place with no copy on write;
    /// see ``unsafeMutableRawBytes``.
    public func unsafeMutableBuffer<T: TensorElement>(of type: T.Type) -> UnsafeMutableBufferPointer<T> {
        precondition(T.dtype == dtype, "unsafeMutableBuffer(of: \(T.self)) on a \(dtype) tensor")
        return UnsafeMutableBufferPointer(start: (storage.baseAddress + byteOffset).assumingMemoryBound(to: T.self),
                                          count: elementCount)
    }

    /// True when the data pointer is a multiple of `alignment` bytes.
    public func isAligned(to alignment: Int) -> Bool {
        Int(bitPattern: storage.baseAddress + byteOffset) % alignment == 0
    }

    /// True when the bytes are borrowed (for example from a memory-mapped file).
    public var isBorrowed: Bool { !storage.isOwned }

    /// The elements in storage order, read as `T` (which must match ``dtype``).
    public func scalars<T: TensorElement>(as type: T.Type) -> [T] {
        precondition(T.dtype == dtype, "scalars(as: \(T.self)) on a \(dtype) tensor")
        if T.self == Bool.self {
            // Any nonzero byte is true; never reinterpret arbitrary bytes as Bool.
            return withUnsafeRawBytes { raw in raw.map { $0 != 0 } as! [T] }
        }
        return withUnsafeRawBytes { raw in
            [T](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
                if elementCount > 0 {
                    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
                }
                initialized = elementCount
            }
        }
    }

    /// Every element converted to Float, in storage order (for tests, printing and comparison).
    public func floatValues() -> [Float] {
        switch dtype {
        case .float32: return scalars(as: Float.self)
        case .float16: return scalars(as: Float16.self).map(Float.init)
        case .bfloat16: return scalars(as: BFloat16.self).map(\.floatValue)
        case .int64: return scalars(as: Int64.self).map(Float.init)
        case .int32: return scalars(as: Int32.self).map(Float.init)
        case .int16: return scalars(as: Int16.self).map(Float.init)
        case .int8: return scalars(as: Int8.self).map(Float.init)
        case .uint8: return scalars(as: UInt8.self).map(Float.init)
        case .bool: return scalars(as: Bool.self).map { $0 ? 1 : 0 }
        }
    }

    /// The same bytes with another shape of equal element count (no copy).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let count = try Shape.elementCount(newShape)
        guard count == elementCount, isContiguous else {
            throw TensorError(.invalidShape, "cannot view \(dtype)\(shape) as \(newShape)")
        }
        return try Tensor(dtype: dtype, shape: newShape, storage: storage, byteOffset: byteOffset)
    }

    /// Equal when dtype, shape, dim order and every byte match (so NaNs with equal bits are equal).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.dtype == rhs.dtype, lhs.shape == rhs.shape, lhs.dimOrder == rhs.dimOrder else { return false }
        return lhs.withUnsafeRawBytes { a in
            rhs.withUnsafeRawBytes { b in
                a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
            }
        }
    }

    public var description: String { "\(dtype)\(shape)" }
}
