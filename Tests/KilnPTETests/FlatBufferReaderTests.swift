import KilnPTE
import Testing

/// The reader on hand-broken buffers: every bad offset, length, alignment and string is an
/// error, never a trap.
@Suite struct FlatBufferReaderTests {
    /// root table: slot 0 = string "hello", slot 1 = [Int32] [1, 2, 3], slot 2 = Int64 9,
    /// slot 3 = sub-table.
    static func sample() -> [UInt8] {
        var b = FlatBufferBuilder()
        let text = b.createString("hello")
        let ints = b.createVector([Int32(1), 2, 3])
        b.startTable()
        b.add(Int32(4), default: 0, slot: 0)
        let sub = b.endTable()
        b.startTable()
        b.add(offset: text, slot: 0)
        b.add(offset: ints, slot: 1)
        b.add(Int64(9), default: 0, slot: 2)
        b.add(offset: sub, slot: 3)
        return b.finish(root: b.endTable(), fileIdentifier: "ET12")
    }

    /// Positions inside `sample()`.
    struct Layout {
        var root = 0, vtable = 0, stringField = 0, string = 0, vectorField = 0, vector = 0
    }

    static func layout(_ bytes: [UInt8]) -> Layout {
        var l = Layout()
        l.root = Int(bytes.uint32(at: 0))
        l.vtable = l.root - Int(Int32(bitPattern: bytes.uint32(at: l.root)))
        func field(_ slot: Int) -> Int { l.root + Int(bytes[l.vtable + 4 + 2 * slot]) | Int(bytes[l.vtable + 5 + 2 * slot]) << 8 }
        l.stringField = field(0)
        l.string = l.stringField + Int(bytes.uint32(at: l.stringField))
        l.vectorField = field(1)
        l.vector = l.vectorField + Int(bytes.uint32(at: l.vectorField))
        return l
    }

    func read(_ bytes: [UInt8], _ body: (FBTable) throws(PTEError) -> Void) -> PTEError? {
        bytes.withUnsafeBytes { raw -> PTEError? in
            do throws(PTEError) {
                try body(try FBTable.root(of: raw))
                return nil
            } catch {
                return error
            }
        }
    }

    func readAll(_ t: FBTable) throws(PTEError) {
        _ = try t.string(0)
        _ = try t.vector(1, of: Int32.self)
        _ = try t.scalar(2, default: Int64(0))
        _ = try t.table(3)?.scalar(0, default: Int32(0))
    }

    @Test func sampleReads() {
        #expect(read(Self.sample(), readAll) == nil)
    }

    @Test func rootOffsetPastTheEnd() {
        var bytes = Self.sample()
        bytes.setUInt32(UInt32(bytes.count), at: 0)
        #expect(read(bytes, readAll)?.kind == .outOfRange)
        bytes.setUInt32(UInt32.max, at: 0)
        #expect(read(bytes, readAll)?.kind == .outOfRange)
    }

    @Test func misalignedRoot() {
        var bytes = Self.sample()
        bytes.setUInt32(bytes.uint32(at: 0) + 2, at: 0)
        let error = read(bytes, readAll)
        #expect(error?.kind == .flatbuffer && error?.message.contains("aligned") == true, "\(String(describing: error))")
    }

    @Test func vtableOutsideTheBuffer() {
        var bytes = Self.sample()
        let l = Self.layout(bytes)
        for soffset: Int32 in [Int32.min, Int32.max, Int32(l.root + 4), -Int32(bytes.count)] {
            bytes.setUInt32(UInt32(bitPattern: soffset), at: l.root)
            #expect(read(bytes, readAll)?.kind == .outOfRange, "soffset \(soffset)")
        }
    }

    @Test func vtableWithBadSizes() {
        let original = Self.sample()
        let l = Self.layout(original)
        var bytes = original
        bytes[l.vtable] = 3  // odd vtable size
        #expect(read(bytes, readAll)?.message.contains("bad size") == true)
        bytes = original
        bytes[l.vtable] = 0xFE; bytes[l.vtable + 1] = 0xFF  // vtable past the end
        #expect(read(bytes, readAll)?.kind == .outOfRange)
        bytes = original
        bytes[l.vtable + 2] = 2; bytes[l.vtable + 3] = 0  // table smaller than its soffset
        #expect(read(bytes, readAll)?.message.contains("bad size") == true)
    }

    @Test func fieldOutsideItsTable() {
        var bytes = Self.sample()
        let l = Self.layout(bytes)
        bytes[l.vtable + 4 + 2 * 2] = 0xF8; bytes[l.vtable + 5 + 2 * 2] = 0x7F  // Int64 field at 0x7FF8
        let error = read(bytes, readAll)
        #expect(error?.kind == .outOfRange && error?.message.contains("outside its table") == true, "\(String(describing: error))")
    }

    @Test func stringOffsetPastTheEnd() {
        var bytes = Self.sample()
        let l = Self.layout(bytes)
        bytes.setUInt32(UInt32(bytes.count * 2), at: l.stringField)
        #expect(read(bytes, readAll)?.kind == .outOfRange)
    }

    @Test func stringLengthPastTheEnd() {
        var bytes = Self.sample()
        let l = Self.layout(bytes)
        bytes.setUInt32(UInt32.max, at: l.string)
        #expect(read(bytes, readAll)?.kind == .outOfRange)
    }

    @Test func stringWithoutNul() {
        var bytes = Self.sample()
        let l = Self.layout(bytes)
        bytes[l.string + 4 + 5] = UInt8(ascii: "!")
        #expect(read(bytes, readAll)?.message.contains("NUL") == true)
    }

    @Test func stringWithInvalidUTF8() {
        var bytes = Self.sample()
        let l = Self.layout(bytes)
        bytes[l.string + 5] = 0xFF
        #expect(read(bytes, readAll)?.message.contains("UTF-8") == true)
    }

    @Test func vectorCountPastTheEnd() {
        var bytes = Self.sample()
        let l = Self.layout(bytes)
        for count: UInt32 in [UInt32.max, UInt32.max / 4 + 1, UInt32(bytes.count)] {
            bytes.setUInt32(count, at: l.vector)
            #expect(read(bytes, readAll)?.kind == .outOfRange, "count \(count)")
        }
    }

    @Test func errorsNameTheField() throws {
        var bytes = Self.sample()
        let l = Self.layout(bytes)
        bytes.setUInt32(UInt32.max, at: l.vector)
        let error = read(bytes) { t throws(PTEError) in _ = try t.vector(1, of: Int32.self, name: "sizes") }
        #expect(error?.location == "sizes")
    }

    @Test func everyTruncationIsAnError() {
        let bytes = Self.sample()
        // Everything up to the last byte of content ("hello" and its NUL, written first and so
        // last in the buffer) is needed; only the alignment padding after it is not.
        let contentEnd = Self.layout(bytes).string + 4 + 5 + 1
        #expect(contentEnd > bytes.count - 4)
        for length in 0..<contentEnd {
            let error = read(Array(bytes[..<length]), readAll)
            #expect(error != nil, "length \(length)")
        }
    }

    @Test func everySingleByteChangeReadsOrThrows() {
        let bytes = Self.sample()
        for position in bytes.indices {
            for value: UInt8 in [0, 1, 0x7F, 0x80, 0xFF] {
                var changed = bytes
                changed[position] = value
                _ = read(changed, readAll)  // must return, not trap
            }
        }
    }
}
