import KilnPTE
import Testing

/// Broken files: each is rejected with a PTEError naming what is wrong, never a crash.
@Suite struct MalformedFileTests {
    /// Positions inside a serialized file, found with the reader.
    enum Locate {
        /// Runs `body` on the root `Program` table of `bytes`.
        static func root<T>(_ bytes: [UInt8], _ body: (FBTable) throws -> T) throws -> T {
            try bytes.withUnsafeBytes { raw in try body(try FBTable.root(of: raw)) }
        }

        /// Where field `slot` of `table` is stored (nil when absent).
        static func field(_ table: FBTable, _ slot: Int) -> Int? {
            let vtable = table.position - Int(Int32.load(from: table.buffer, at: table.position))
            let size = Int(UInt16.load(from: table.buffer, at: vtable))
            guard 4 + 2 * slot < size else { return nil }
            let offset = Int(UInt16.load(from: table.buffer, at: vtable + 4 + 2 * slot))
            return offset == 0 ? nil : table.position + offset
        }

        static func plan(_ root: FBTable, _ index: Int = 0) throws -> FBTable {
            try #require(try root.tables(1)).table(at: index)
        }

        /// The `EValue` table `index` of method 0.
        static func value(_ root: FBTable, _ index: Int) throws -> FBTable {
            try #require(try plan(root).tables(2)).table(at: index)
        }

        /// The `Instruction` table `index` of method 0's chain 0.
        static func instruction(_ root: FBTable, _ index: Int) throws -> FBTable {
            let chain = try #require(try plan(root).tables(5)).table(at: 0)
            return try #require(try chain.tables(2)).table(at: index)
        }
    }

    @Test func everyTruncationIsRejected() throws {
        let bytes = try SmallProgram.file().serialized()
        #expect(decodeError(bytes) == nil)
        var kinds = Set<PTEError.Kind>()
        for length in 0..<bytes.count {
            let error = decodeError(Array(bytes[..<length]))
            #expect(error != nil, "truncated to \(length) of \(bytes.count) bytes decoded")
            if let error { kinds.insert(error.kind) }
        }
        #expect(kinds.contains(.truncated))
    }

    @Test func tinyFilesAreTruncated() {
        expectDecodeError([], .truncated, "0 bytes")
        expectDecodeError([1, 2, 3, 4, 0x45, 0x54, 0x31], .truncated, "7 bytes")
    }

    @Test func wrongIdentifierIsRejected() throws {
        var bytes = try SmallProgram.file().serialized()
        bytes.replaceSubrange(4..<8, with: Array("ET11".utf8))
        expectDecodeError(bytes, .identifier, "file identifier is \"ET11\", expected \"ET12\"")
        bytes.replaceSubrange(4..<8, with: [0, 0xFF, 0x45, 0x54])
        expectDecodeError(bytes, .identifier, "\"\\x00\\xffET\"")
    }

    @Test func rootOffsetOutOfRangeIsRejected() throws {
        var bytes = try SmallProgram.file().serialized()
        bytes.setUInt32(0xFFFF_FFF0, at: 0)
        let error = try #require(decodeError(bytes))
        #expect(error.kind == .flatbuffer || error.kind == .outOfRange, "\(error)")
    }

    @Test func valueOffsetOutOfRangeIsRejected() throws {
        var bytes = try RichProgram.bytes()
        let position = try Locate.root(bytes) { root in
            try #require(Locate.field(try Locate.value(root, 3), 1))  // EValue.val of value 3
        }
        bytes.setUInt32(0x7FFF_0000, at: position)
        let error = try #require(decodeError(bytes))
        #expect(error.kind == .flatbuffer || error.kind == .outOfRange, "\(error)")
        #expect(error.message.contains("values[3]") || error.location?.contains("values[3]") == true, "\(error)")
    }

    @Test func badKernelTypesTagIsRejected() throws {
        var bytes = try RichProgram.bytes()
        let position = try Locate.root(bytes) { root in try #require(Locate.field(try Locate.value(root, 4), 0)) }
        bytes[position] = 12
        let error = try #require(decodeError(bytes))
        #expect(error.kind == .unionTag || error.kind == .flatbuffer, "\(error)")
        #expect("\(error)".contains("values[4]"), "\(error)")
    }

    @Test func badInstructionTagIsRejected() throws {
        var bytes = try RichProgram.bytes()
        let position = try Locate.root(bytes) { root in try #require(Locate.field(try Locate.instruction(root, 1), 0)) }
        bytes[position] = 9
        let error = try #require(decodeError(bytes))
        #expect(error.kind == .unionTag || error.kind == .flatbuffer, "\(error)")
        #expect("\(error)".contains("instructions[1]"), "\(error)")
    }

    /// A tag of another member: the value table is then read as the wrong type. Int (2) read as
    /// Tensor (5) has no sizes and scalar type BYTE: it decodes as a tensor, or fails cleanly.
    @Test func swappedUnionTagDecodesOrFails() throws {
        let original = try RichProgram.bytes()
        let position = try Locate.root(original) { root in try #require(Locate.field(try Locate.value(root, 4), 0)) }
        for tag in UInt8(0)...UInt8(255) {
            var bytes = original
            bytes[position] = tag
            _ = decodeError(bytes)
        }
    }

    @Test func enumOutOfRangeIsRejected() throws {
        var bytes = try RichProgram.bytes()
        // Tensor.shape_dynamism of value 18 (DYNAMIC_BOUND) set to 9.
        let position = try Locate.root(bytes) { root in
            let (_, tensor) = try #require(try Locate.value(root, 18).union(0))
            return try #require(Locate.field(tensor, 8))
        }
        bytes[position] = 9
        expectDecodeError(bytes, .enumValue, "9 is not a TensorShapeDynamism value",
                          location: "execution_plan[0].values[18].tensor.shape_dynamism")
    }

    @Test func unknownScalarTypeIsRejected() throws {
        var bytes = try RichProgram.bytes()
        let position = try Locate.root(bytes) { root in
            let (_, tensor) = try #require(try Locate.value(root, 0).union(0))
            return try #require(Locate.field(tensor, 0))
        }
        bytes[position] = 9  // COMPLEXFLOAT: commented out of the schema
        expectDecodeError(bytes, .enumValue, "9 is not a ScalarType Kiln knows",
                          location: "execution_plan[0].values[0].tensor.scalar_type")
    }

    @Test func segmentPastTheEndIsRejected() throws {
        let bytes = try RichProgram.bytes()
        // The last segment's size, made one byte larger than the file holds.
        var longer = bytes
        let sizeField = try Locate.root(bytes) { root in
            let segment = try #require(try root.tables(4)).table(at: 3)
            return try #require(Locate.field(segment, 1))
        }
        longer.setUInt64(longer.uint64(at: sizeField) + 1, at: sizeField)
        expectDecodeError(longer, .truncated, "past the end of the file", location: "segments[3]")
        // Offsets that overflow.
        var overflowing = bytes
        let offsetField = try Locate.root(bytes) { root in
            let segment = try #require(try root.tables(4)).table(at: 1)
            return try #require(Locate.field(segment, 0))
        }
        overflowing.setUInt64(UInt64.max - 10, at: offsetField)
        expectDecodeError(overflowing, .truncated, "past the end of the file", location: "segments[1]")
    }

    @Test func cutSegmentDataIsRejected() throws {
        let bytes = try RichProgram.bytes()
        expectDecodeError(Array(bytes.dropLast()), .truncated, "past the end of the file", location: "header")
    }

    @Test func flippedBytesAreRejectedOrDecode() throws {
        let bytes = try RichProgram.bytes()
        var rejected = 0
        for position in bytes.indices {
            var flipped = bytes
            flipped[position] ^= 0xFF
            if decodeError(flipped) != nil { rejected += 1 }
        }
        // Most bytes of the flatbuffer matter; segment payload bytes do not.
        #expect(rejected > 0)
    }
}
