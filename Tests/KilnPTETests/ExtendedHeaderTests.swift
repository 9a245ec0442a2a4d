import KilnPTE
import Testing

/// ExecuTorch's `eh00` header and the segment layout after the flatbuffer.
@Suite struct ExtendedHeaderTests {
    @Test func headerFollowsTheIdentifier() throws {
        let file = RichProgram.file()
        let bytes = try file.serialized()
        #expect(Array(bytes[4..<8]) == Array("ET12".utf8))
        #expect(Array(bytes[8..<12]) == Array("eh00".utf8))
        #expect(bytes.uint32(at: 12) == 32)
        let programSize = bytes.uint64(at: 16), base = bytes.uint64(at: 24), dataSize = bytes.uint64(at: 32)
        #expect(base % 128 == 0 && base >= programSize && base - programSize < 128)
        let last = try #require(file.program.segments.last)
        #expect(dataSize == last.offset + last.size)
        #expect(UInt64(bytes.count) == base + dataSize)
        // The root offset skips the header.
        #expect(bytes.uint32(at: 0) >= 40)
    }

    @Test func segmentsAre128ByteAlignedAndHoldTheirPayloads() throws {
        let file = RichProgram.file()
        let bytes = try file.serialized()
        let base = Int(bytes.uint64(at: 24))
        var previousEnd: UInt64 = 0
        for (segment, payload) in zip(file.program.segments, file.segments) {
            #expect(segment.offset % 128 == 0)
            #expect(segment.offset >= previousEnd && segment.offset - previousEnd < 128)
            #expect(segment.size == UInt64(payload.count))
            let start = base + Int(segment.offset)
            #expect(Array(bytes[start..<(start + payload.count)]) == payload)
            previousEnd = segment.offset + segment.size
        }
    }

    @Test func parsedHeaderMatches() throws {
        let bytes = try RichProgram.bytes()
        try bytes.withUnsafeBytes { raw throws in
            let header = try #require(try ExtendedHeader(parsing: raw))
            #expect(header.headerLength == 32)
            #expect(header.bytes == Array(bytes[8..<40]))
            let view = try PTEProgramView(file: raw)
            #expect(view.header == header)
            #expect(view.flatbuffer.count == Int(header.programSize))
        }
    }

    @Test func fileWithoutSegmentsHasAHeaderAndNoPadding() throws {
        let bytes = try PTEFile(program: PTE.Program(executionPlan: [PTE.ExecutionPlan(name: "f")])).serialized()
        #expect(Array(bytes[8..<12]) == Array("eh00".utf8))
        #expect(bytes.uint64(at: 16) == UInt64(bytes.count))
        #expect(bytes.uint64(at: 24) == 0 && bytes.uint64(at: 32) == 0)
    }

    /// ExecuTorch writes no header when there are no segments; its loader accepts both, so
    /// does Kiln's.
    @Test func fileWithoutHeaderIsAccepted() throws {
        let file = PTEFile(program: PTE.Program(version: 2, executionPlan: [PTE.ExecutionPlan(name: "f")]))
        let bytes = try file.serialized()
        var stripped = Array(bytes[0..<8]) + Array(bytes[40...])
        stripped.setUInt32(bytes.uint32(at: 0) - 32, at: 0)
        #expect(try PTEFile(decoding: stripped) == file)
        try stripped.withUnsafeBytes { raw throws in
            #expect(try ExtendedHeader(parsing: raw) == nil)
            #expect(try PTEProgramView(file: raw).header == nil)
        }
    }

    @Test func segmentsWithoutAHeaderAreRejected() throws {
        let bytes = try SmallProgram.file().serialized()
        let programSize = Int(bytes.uint64(at: 16))
        var stripped = Array(bytes[0..<8]) + Array(bytes[40..<programSize])
        stripped.setUInt32(bytes.uint32(at: 0) - 32, at: 0)
        expectDecodeError(stripped, .header, "no segment base offset", location: "segments[0]")
    }

    @Test func olderTwentyFourByteHeaderIsAccepted() throws {
        var bytes = try SmallProgram.file().serialized()
        bytes.setUInt32(24, at: 12)  // length 24: no segment_data_size field
        try bytes.withUnsafeBytes { raw throws in
            let header = try #require(try ExtendedHeader(parsing: raw))
            #expect(header.segmentDataSize == 0)
        }
        #expect(try PTEFile(decoding: bytes) == SmallProgram.file())
    }

    @Test func badHeaderFields() throws {
        let original = try SmallProgram.file().serialized()
        var bytes = original
        bytes.setUInt32(23, at: 12)
        expectDecodeError(bytes, .header, "shorter than 24", location: "header")
        bytes = original
        bytes.setUInt64(UInt64(original.count + 1), at: 16)
        expectDecodeError(bytes, .truncated, "larger than the file", location: "header")
        bytes = original
        bytes.setUInt64(20, at: 16)
        expectDecodeError(bytes, .header, "smaller than the header", location: "header")
        bytes = original
        bytes.setUInt64(8, at: 24)
        expectDecodeError(bytes, .header, "inside the program", location: "header")
        bytes = original
        bytes.setUInt64(UInt64.max, at: 32)
        expectDecodeError(bytes, .truncated, "past the end of the file", location: "header")
        expectDecodeError(Array(original[0..<20]), .truncated, "extended header is cut off", location: "header")
    }
}
