/// ExecuTorch's extended header: 32 bytes right after the root offset and the file identifier
/// (so at file offset 8), telling where the flatbuffer ends and the segments begin.
///
/// Layout (little-endian): magic `eh00`, `uint32` header length, `uint64` program size (the
/// flatbuffer with this header), `uint64` segment base offset (0 without segments), `uint64`
/// segment data size. Older files have a 24-byte header without the last field.
///
/// ```swift
/// if let header = try ExtendedHeader(parsing: bytes) { print(header.segmentBaseOffset) }
/// ```
public struct ExtendedHeader: Equatable, Sendable {
    /// Where the header starts in the file.
    public static let fileOffset = 8
    /// The magic bytes, `eh00`.
    public static let magic: [UInt8] = Array("eh00".utf8)
    /// The length Kiln writes.
    public static let length = 32
    /// The shortest header ExecuTorch accepts (without `segment_data_size`).
    public static let minimumLength = 24

    /// Length of the header as written in it (≥ 24).
    public var headerLength: UInt32
    /// Bytes of flatbuffer data, this header included.
    public var programSize: UInt64
    /// File offset of the first segment; segment offsets are relative to it (0 without segments).
    public var segmentBaseOffset: UInt64
    /// Bytes of segment data from the base offset (0 when absent from an older header).
    public var segmentDataSize: UInt64

    public init(programSize: UInt64, segmentBaseOffset: UInt64, segmentDataSize: UInt64,
                headerLength: UInt32 = UInt32(ExtendedHeader.length)) {
        self.headerLength = headerLength
        self.programSize = programSize
        self.segmentBaseOffset = segmentBaseOffset
        self.segmentDataSize = segmentDataSize
    }

    /// Reads the header of `file`: nil when there is none (no `eh00` at offset 8), a throw
    /// (`.header`, `.truncated`) when one is there but malformed or claims more than the file has.
    public init?(parsing file: UnsafeRawBufferPointer) throws(PTEError) {
        let start = Self.fileOffset
        guard file.count >= start + 4,
              file[start] == Self.magic[0], file[start + 1] == Self.magic[1],
              file[start + 2] == Self.magic[2], file[start + 3] == Self.magic[3] else { return nil }
        guard file.count >= start + Self.minimumLength else {
            throw PTEError(.truncated, "extended header is cut off: the file has \(file.count) bytes", location: "header")
        }
        headerLength = UInt32.load(from: file, at: start + 4)
        guard headerLength >= Self.minimumLength else {
            throw PTEError(.header, "extended header length \(headerLength) is shorter than \(Self.minimumLength)",
                           location: "header")
        }
        programSize = UInt64.load(from: file, at: start + 8)
        segmentBaseOffset = UInt64.load(from: file, at: start + 16)
        if headerLength > Self.minimumLength {
            guard file.count >= start + 32 else {
                throw PTEError(.truncated, "extended header is cut off: the file has \(file.count) bytes", location: "header")
            }
            segmentDataSize = UInt64.load(from: file, at: start + 24)
        } else {
            segmentDataSize = 0
        }
        let fileSize = UInt64(file.count)
        guard programSize >= UInt64(start) + UInt64(headerLength) else {
            throw PTEError(.header, "program size \(programSize) is smaller than the header itself", location: "header")
        }
        guard programSize <= fileSize else {
            throw PTEError(.truncated, "program size \(programSize) is larger than the file (\(fileSize) bytes)",
                           location: "header")
        }
        if segmentBaseOffset != 0 {
            guard segmentBaseOffset >= programSize else {
                throw PTEError(.header, "segment base offset \(segmentBaseOffset) is inside the program (\(programSize) bytes)",
                               location: "header")
            }
            let (end, overflow) = segmentBaseOffset.addingReportingOverflow(segmentDataSize)
            guard !overflow, end <= fileSize else {
                throw PTEError(.truncated, "segment data \(segmentBaseOffset)..<\(segmentBaseOffset &+ segmentDataSize) "
                               + "is past the end of the file (\(fileSize) bytes)", location: "header")
            }
        }
    }

    /// The 32 bytes Kiln writes.
    public var bytes: [UInt8] {
        var out = Self.magic
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        append(UInt32(Self.length))
        append(programSize)
        append(segmentBaseOffset)
        append(segmentDataSize)
        return out
    }
}
