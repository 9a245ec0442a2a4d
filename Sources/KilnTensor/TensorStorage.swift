#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes behind one or more tensors: either owned (allocated here, 64-byte aligned, freed
/// on release) or borrowed (a range of a memory-mapped file or another owner, kept alive by a
/// reference to it).
///
/// Storage is shared between tensor values; ``Tensor`` copies it before a write unless the
/// tensor holds the only reference to owned storage (copy on write).
public final class TensorStorage: @unchecked Sendable {
    /// The alignment of owned storage, in bytes.
    public static let alignment = 64

    /// First byte of the storage (valid for ``byteCount`` bytes).
    public let baseAddress: UnsafeMutableRawPointer
    /// Number of bytes.
    public let byteCount: Int
    /// True when the bytes were allocated here (and may be written in place).
    public let isOwned: Bool
    private let keepAlive: AnyObject?

    /// Allocates `byteCount` zeroed bytes, aligned to ``alignment``; traps when memory runs out.
    /// Sizes that come from files go through ``allocate(zeroedByteCount:)`` instead.
    public convenience init(zeroedByteCount byteCount: Int) {
        guard let raw = TensorStorage.zeroedMemory(byteCount) else {
            fatalError("out of memory allocating \(byteCount) bytes of tensor storage")
        }
        self.init(owning: raw, byteCount: byteCount)
    }

    /// Allocates `byteCount` zeroed, aligned bytes, or returns nil when the size is negative or
    /// the memory cannot be had (for sizes read from untrusted files).
    public static func allocate(zeroedByteCount byteCount: Int) -> TensorStorage? {
        zeroedMemory(byteCount).map { TensorStorage(owning: $0, byteCount: byteCount) }
    }

    private init(owning raw: UnsafeMutableRawPointer, byteCount: Int) {
        self.baseAddress = raw
        self.byteCount = byteCount
        self.isOwned = true
        self.keepAlive = nil
    }

    private static func zeroedMemory(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        guard byteCount >= 0 else { return nil }
        var raw: UnsafeMutableRawPointer?
        // posix_memalign with size 0 may return nil; always allocate at least one line.
        let size = max(byteCount, alignment)
        guard posix_memalign(&raw, alignment, size) == 0, let raw else { return nil }
        memset(raw, 0, size)
        return raw
    }

    /// Borrows `byteCount` bytes at `pointer`; `owner` is retained for as long as this storage lives.
    public init(borrowing pointer: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.baseAddress = pointer
        self.byteCount = byteCount
        self.isOwned = false
        self.keepAlive = owner
    }

    deinit {
        if isOwned { free(baseAddress) }
    }
}

/// A file mapped into memory copy-on-write: reading is zero-copy, and a stray write changes
/// only this process's pages, never the file.
///
/// ```swift
/// let file = try MappedFile(path: "model.kir.bin")
/// let t = try file.tensor(dtype: .float32, shape: [512, 256], byteOffset: 0)
/// ```
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// First byte of the mapping (nil for an empty file).
    public let baseAddress: UnsafeMutableRawPointer?
    /// File size in bytes.
    public let byteCount: Int

    /// Maps the whole file at `path`.
    /// - Throws: ``TensorError`` of kind `.io` naming the path when it cannot be opened or mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TensorError(.io, "cannot open: \(String(cString: strerror(errno)))", path: path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw TensorError(.io, "cannot stat: \(String(cString: strerror(errno)))", path: path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw TensorError(.io, "not a regular file", path: path)
        }
        let size = Int(info.st_size)
        byteCount = size
        if size == 0 {
            baseAddress = nil
            return
        }
        let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw TensorError(.io, "cannot map \(size) bytes: \(String(cString: strerror(errno)))", path: path)
        }
        baseAddress = mapped
    }

    deinit {
        if let baseAddress { munmap(baseAddress, byteCount) }
    }

    /// The mapped bytes.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: baseAddress, count: byteCount)
    }

    /// A storage that borrows `count` bytes at `offset` and keeps the mapping alive.
    /// - Throws: ``TensorError`` of kind `.truncated` when the range is not inside the file.
    public func storage(offset: Int, count: Int) throws -> TensorStorage {
        guard offset >= 0, count >= 0, offset <= byteCount, count <= byteCount - offset else {
            throw TensorError(.truncated,
                              "bytes \(offset)..<\(offset &+ count) are past the end of the file (\(byteCount) bytes)",
                              path: path)
        }
        guard let baseAddress else { return TensorStorage(zeroedByteCount: 0) }
        return TensorStorage(borrowing: baseAddress + offset, byteCount: count, owner: self)
    }

    /// A dense tensor viewing the file's bytes at `byteOffset` (no copy).
    /// - Throws: ``TensorError`` when the shape overflows or the bytes run past the end of the file.
    public func tensor(dtype: DType, shape: [Int], byteOffset: Int) throws -> Tensor {
        let bytes = try Shape.byteCount(shape, dtype: dtype)
        return try Tensor(dtype: dtype, shape: shape, storage: storage(offset: byteOffset, count: bytes))
    }
}
