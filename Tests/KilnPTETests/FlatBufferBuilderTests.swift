import KilnPTE
import Testing

/// The builder's wire format, read back with the reader: scalars, defaults, strings, vectors,
/// vtable sharing, force_align, unions, the root and file identifier.
@Suite struct FlatBufferBuilderTests {
    /// Runs `body` on the root table of `bytes`.
    func withRoot<T>(_ bytes: [UInt8], _ body: (FBTable) throws -> T) throws -> T {
        try bytes.withUnsafeBytes { raw in try body(try FBTable.root(of: raw)) }
    }

    @Test func scalarsReadBackAtTheirSlots() throws {
        var b = FlatBufferBuilder()
        b.startTable()
        b.add(Int64.min, default: 0, slot: 0)
        b.add(UInt32.max, default: 0, slot: 1)
        b.add(Int8(-5), default: 0, slot: 2)
        b.add(true, default: false, slot: 3)
        b.add(-1.25, default: 0, slot: 4)
        b.add(Int16(300), default: 0, slot: 5)
        b.add(UInt64(1) << 40, default: 0, slot: 7)
        let bytes = b.finish(root: b.endTable())
        try withRoot(bytes) { t throws in
            #expect(try t.scalar(0, default: Int64(0)) == .min)
            #expect(try t.scalar(1, default: UInt32(0)) == .max)
            #expect(try t.scalar(2, default: Int8(0)) == -5)
            #expect(try t.scalar(3, default: false) == true)
            #expect(try t.scalar(4, default: 0.0) == -1.25)
            #expect(try t.scalar(5, default: Int16(0)) == 300)
            #expect(try t.scalar(6, default: Int32(42)) == 42)  // absent: the default
            #expect(try t.scalar(7, default: UInt64(0)) == 1 << 40)
            #expect(try t.scalar(99, default: UInt8(9)) == 9)  // past the vtable: the default
            #expect(!t.has(6) && t.has(7))
        }
    }

    @Test func scalarsAreAlignedToTheirSize() throws {
        var b = FlatBufferBuilder()
        b.startTable()
        b.add(UInt8(1), default: 0, slot: 0)
        b.add(UInt64(2), default: 0, slot: 1)
        b.add(UInt16(3), default: 0, slot: 2)
        b.add(UInt32(4), default: 0, slot: 3)
        let bytes = b.finish(root: b.endTable())
        #expect(bytes.count % 8 == 0)
        // The reader checks alignment; reading every field proves it.
        try withRoot(bytes) { t throws in
            #expect(try t.scalar(1, default: UInt64(0)) == 2)
            #expect(try t.scalar(2, default: UInt16(0)) == 3)
            #expect(try t.scalar(3, default: UInt32(0)) == 4)
        }
    }

    @Test func defaultsAreLeftOut() throws {
        var b = FlatBufferBuilder()
        b.startTable()
        b.add(Int32(0), default: 0, slot: 0)
        b.add(false, default: false, slot: 1)
        b.add(Int8(1), default: 1, slot: 2)
        b.add(0.0, default: 0, slot: 3)
        b.add(-0.0, default: 0, slot: 4)  // differs from 0.0 bit for bit: written
        let bytes = b.finish(root: b.endTable())
        try withRoot(bytes) { t throws in
            #expect(!t.has(0) && !t.has(1) && !t.has(2) && !t.has(3))
            #expect(t.has(4))
            #expect(try t.scalar(4, default: 1.0).sign == .minus)
        }
    }

    @Test func stringsAreNulTerminatedUTF8() throws {
        var b = FlatBufferBuilder()
        let empty = b.createString("")
        let text = b.createString("forward ✓")
        b.startTable()
        b.add(offset: empty, slot: 0)
        b.add(offset: text, slot: 1)
        let bytes = b.finish(root: b.endTable())
        try withRoot(bytes) { t throws in
            #expect(try t.string(0) == "")
            #expect(try t.string(1) == "forward ✓")
            #expect(try t.string(2) == nil)
        }
        // The string's bytes, its NUL, and its length in front.
        let utf8 = Array("forward ✓".utf8)
        let start = try #require((0..<bytes.count).first { Array(bytes[$0..<min(bytes.count, $0 + utf8.count)]) == utf8 })
        #expect(bytes[start + utf8.count] == 0)
        #expect(bytes.uint32(at: start - 4) == UInt32(utf8.count))
        #expect((start - 4) % 4 == 0)
    }

    @Test func vectorsOfScalarsAndOffsets() throws {
        var b = FlatBufferBuilder()
        let longs = b.createVector([Int64.min, 0, 5])
        let doubles = b.createVector([1.5, -2.0])
        let bools = b.createVector([true, false, true])
        let emptyInts = b.createVector([Int32]())
        let names = ["a", "bc", ""].map { b.createString($0) }
        let strings = b.createVector(offsets: names)
        var tables: [FlatBufferBuilder.Offset] = []
        for i in 0..<3 {
            b.startTable()
            b.add(Int32(i * 10 + 1), default: 0, slot: 0)
            tables.append(b.endTable())
        }
        let tableVector = b.createVector(offsets: tables)
        b.startTable()
        b.add(offset: longs, slot: 0)
        b.add(offset: doubles, slot: 1)
        b.add(offset: bools, slot: 2)
        b.add(offset: emptyInts, slot: 3)
        b.add(offset: strings, slot: 4)
        b.add(offset: tableVector, slot: 5)
        let bytes = b.finish(root: b.endTable())
        try withRoot(bytes) { t throws in
            #expect(Array(try #require(try t.vector(0, of: Int64.self))) == [Int64.min, 0, 5])
            #expect(Array(try #require(try t.vector(1, of: Double.self))) == [1.5, -2.0])
            #expect(Array(try #require(try t.vector(2, of: Bool.self))) == [true, false, true])
            #expect(try t.vector(3, of: Int32.self)?.isEmpty == true)
            #expect(try t.vector(6, of: Int32.self) == nil)
            let s = try #require(try t.tables(4))
            #expect(try (0..<s.count).map { try s.string(at: $0) } == ["a", "bc", ""])
            let v = try #require(try t.tables(5))
            #expect(try (0..<v.count).map { try v.table(at: $0).scalar(0, default: Int32(-1)) } == [1, 11, 21])
            #expect(throws: PTEError.self) { try v.table(at: 3) }
        }
    }

    @Test func equalLayoutsShareOneVtable() throws {
        func build(_ count: Int) -> [UInt8] {
            var b = FlatBufferBuilder()
            var tables: [FlatBufferBuilder.Offset] = []
            for i in 0..<count {
                b.startTable()
                b.add(Int32(i + 1), default: 0, slot: 1)
                tables.append(b.endTable())
            }
            let vector = b.createVector(offsets: tables)
            b.startTable()
            b.add(offset: vector, slot: 0)
            return b.finish(root: b.endTable())
        }
        // Each more table costs its soffset and its field (8 bytes), not another 8-byte vtable.
        let one = build(1).count, many = build(101).count
        #expect(many - one == 100 * (8 + 4))  // table (soffset + field) + the vector's element
        let bytes = build(3)
        try withRoot(bytes) { root throws in
            let v = try #require(try root.tables(0))
            let vtables = try (0..<3).map { i -> Int in
                let table = try v.table(at: i)
                return table.position - Int(bytes.withUnsafeBytes { Int32.load(from: $0, at: table.position) })
            }
            #expect(Set(vtables).count == 1)
        }
    }

    @Test func differentLayoutsGetTheirOwnVtables() throws {
        var b = FlatBufferBuilder()
        b.startTable()
        b.add(Int32(1), default: 0, slot: 0)
        let first = b.endTable()
        b.startTable()
        b.add(Int32(1), default: 0, slot: 1)
        let second = b.endTable()
        let vector = b.createVector(offsets: [first, second])
        b.startTable()
        b.add(offset: vector, slot: 0)
        let bytes = b.finish(root: b.endTable())
        try withRoot(bytes) { root throws in
            let v = try #require(try root.tables(0))
            #expect(try v.table(at: 0).scalar(0, default: Int32(0)) == 1)
            #expect(try v.table(at: 0).has(1) == false)
            #expect(try v.table(at: 1).scalar(1, default: Int32(0)) == 1)
            #expect(try v.table(at: 1).has(0) == false)
        }
    }

    @Test(arguments: [1, 4, 16, 32, 64])
    func forceAlignedBytesStartAligned(_ alignment: Int) throws {
        for shift in 0..<8 {
            var b = FlatBufferBuilder()
            let filler = b.createVector([UInt8](repeating: 9, count: shift))
            let data = b.createVector(bytes: [1, 2, 3, 4, 5], alignment: alignment)
            b.startTable()
            b.add(offset: filler, slot: 0)
            b.add(offset: data, slot: 1)
            b.add(UInt8(1), default: 0, slot: 2)
            let bytes = b.finish(root: b.endTable(), fileIdentifier: "ET12")
            #expect(bytes.count % alignment == 0)
            try withRoot(bytes) { t throws in
                let vector = try #require(try t.vector(1, of: UInt8.self))
                #expect(vector.start % alignment == 0, "shift \(shift)")
                #expect(Array(vector) == [1, 2, 3, 4, 5])
            }
        }
    }

    @Test func unionsStoreTheTagBeforeTheValue() throws {
        var b = FlatBufferBuilder()
        b.startTable()
        b.add(Int64(77), default: 0, slot: 0)
        let member = b.endTable()
        b.startTable()
        b.addUnion(type: 2, value: member, slot: 0)
        let bytes = b.finish(root: b.endTable())
        try withRoot(bytes) { t throws in
            let (tag, value) = try #require(try t.union(0))
            #expect(tag == 2)
            #expect(try value.scalar(0, default: Int64(0)) == 77)
            #expect(try t.scalar(0, default: UInt8(0)) == 2)
            #expect(try t.table(1) != nil)
        }
    }

    @Test func absentUnionIsNil() throws {
        var b = FlatBufferBuilder()
        b.startTable()
        let bytes = b.finish(root: b.endTable())
        try withRoot(bytes) { t throws in #expect(try t.union(0) == nil) }
    }

    @Test func rootAndFileIdentifier() throws {
        var b = FlatBufferBuilder()
        b.startTable()
        b.add(UInt32(5), default: 0, slot: 0)
        let bytes = b.finish(root: b.endTable(), fileIdentifier: "ET12")
        #expect(Array(bytes[4..<8]) == Array("ET12".utf8))
        #expect(Int(bytes.uint32(at: 0)) < bytes.count)
        try withRoot(bytes) { t throws in #expect(try t.scalar(0, default: UInt32(0)) == 5) }
    }

    @Test func sameCallsGiveSameBytes() {
        func build() -> [UInt8] {
            var b = FlatBufferBuilder(initialCapacity: 16)  // grows several times
            let name = b.createString(String(repeating: "x", count: 1000))
            let data = b.createVector(bytes: [UInt8](repeating: 3, count: 333), alignment: 16)
            b.startTable()
            b.add(offset: name, slot: 0)
            b.add(offset: data, slot: 1)
            b.add(Int64(-9), default: 0, slot: 2)
            return b.finish(root: b.endTable(), fileIdentifier: "ET12")
        }
        #expect(build() == build())
    }
}
