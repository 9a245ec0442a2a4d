import Foundation
import Testing
@testable import KilnTensor

@Suite struct TensorTests {
    @Test func zerosAreAlignedAndZero() throws {
        let t = try Tensor(zeros: .float32, shape: [3, 5])
        #expect(t.isAligned(to: 64))
        #expect(t.floatValues() == [Float](repeating: 0, count: 15))
        #expect(t.byteCount == 60)
    }

    @Test func copyOnWrite() throws {
        let original = try Tensor([1, 2, 3] as [Float], shape: [3])
        var copy = original
        copy.withUnsafeMutableRawBytes { $0.storeBytes(of: Float(9), toByteOffset: 0, as: Float.self) }
        #expect(original.scalars(as: Float.self) == [1, 2, 3])
        #expect(copy.scalars(as: Float.self) == [9, 2, 3])

        // The only owner of owned storage writes in place.
        var unique = try Tensor([1, 2] as [Float], shape: [2])
        let before = unique.withUnsafeRawBytes { $0.baseAddress }
        let during = unique.withUnsafeMutableRawBytes { UnsafeRawPointer($0.baseAddress) }
        #expect(before == during)
    }
}

@Suite struct ShapeTests {
    @Test func broadcast() throws {
        #expect(try Shape.broadcast([8, 1, 6], [7, 1]) == [8, 7, 6])
        #expect(try Shape.broadcast([2, 3], [2, 3]) == [2, 3])
        #expect(try Shape.broadcast([], [4]) == [4])
        #expect(try Shape.broadcast([Int](), []) == [])
        #expect(try Shape.broadcast([1], [5, 4]) == [5, 4])
        #expect(try Shape.broadcast([5, 1, 4], [1, 3, 1]) == [5, 3, 4])
        #expect(try Shape.broadcast([0, 1], [1, 3]) == [0, 3])
        let error = try #require(throws: TensorError.self) { try Shape.broadcast([2, 3], [4, 3]) }
        #expect(error == TensorError(.broadcast, "shapes [2, 3] and [4, 3] do not broadcast: dim -2 is 2 vs 4"))
        #expect(throws: TensorError.self) { try Shape.broadcast([3], [2, 0]) }
    }

    @Test func stridesFollowDimOrder() throws {
        #expect(Shape.strides([2, 3, 4], dimOrder: [0, 1, 2]) == [12, 4, 1])
        #expect(Shape.strides([2, 3, 4, 5], dimOrder: [0, 2, 3, 1]) == [60, 1, 15, 3])   // channels-last
        #expect(Shape.strides([2, 3], dimOrder: [1, 0]) == [1, 2])                          // column-major
        #expect(Shape.strides([], dimOrder: []) == [])
        #expect(Shape.strides([0, 3], dimOrder: [0, 1]) == [3, 1])
        #expect(throws: TensorError.self) { try Shape.validateDimOrder([0, 0], rank: 2) }
        #expect(throws: TensorError.self) { try Shape.validateDimOrder([0], rank: 2) }
    }

    @Test func elementCountChecksOverflowAndSign() throws {
        #expect(try Shape.elementCount([]) == 1)
        #expect(try Shape.elementCount([0, Int.max]) == 0)
        #expect(try Shape.elementCount([2, 3, 4]) == 24)
        let overflow = try #require(throws: TensorError.self) { try Shape.elementCount([Int.max, 2]) }
        #expect(overflow.kind == .sizeOverflow)
        #expect(overflow.message.contains("[\(Int.max), 2]"))
        let negative = try #require(throws: TensorError.self) { try Shape.elementCount([2, -1]) }
        #expect(negative.kind == .invalidShape)
        let bytes = try #require(throws: TensorError.self) { try Shape.byteCount([Int.max / 2 + 1], dtype: .float32) }
        #expect(bytes.kind == .sizeOverflow)
        #expect(try Shape.byteCount([Int.max], dtype: .uint8) == Int.max)
    }
}

@Suite struct BFloat16Tests {
    @Test func roundsToNearestTiesToEven() {
        #expect(BFloat16(1.0).bitPattern == 0x3F80)
        #expect(BFloat16(Float(bitPattern: 0x3F80_8000)).bitPattern == 0x3F80)   // tie, even below
        #expect(BFloat16(Float(bitPattern: 0x3F81_8000)).bitPattern == 0x3F82)   // tie, even above
        #expect(BFloat16(Float(bitPattern: 0x3F80_8001)).bitPattern == 0x3F81)   // just past the tie
        #expect(BFloat16(Float(bitPattern: 0x3F80_7FFF)).bitPattern == 0x3F80)   // just below the tie
        #expect(BFloat16(-1.0 / 3.0).floatValue == -0.333984375)
        #expect(BFloat16(Float.greatestFiniteMagnitude).floatValue == .infinity)   // rounds up past the largest bf16
        #expect(BFloat16(-0.0).bitPattern == 0x8000)
    }

    @Test func nanStaysNaN() {
        #expect(BFloat16(Float.nan).floatValue.isNaN)
        // Payload only in the low 16 bits: truncation alone would give infinity.
        #expect(BFloat16(Float(bitPattern: 0x7F80_0001)).floatValue.isNaN)
        let negative = BFloat16(Float(bitPattern: 0xFF80_0001))
        #expect(negative.floatValue.isNaN)
        #expect(negative.bitPattern & 0x8000 != 0)
    }

    @Test func representableValuesAreExact() {
        for bits in UInt16.min...UInt16.max {
            let value = BFloat16(bitPattern: bits)
            if value.floatValue.isNaN { continue }
            #expect(BFloat16(value.floatValue).bitPattern == bits)
            #expect(Float(value) == value.floatValue)
        }
    }
}

@Suite struct Int4PackingTests {
    @Test func signed() throws {
        #expect(try Int4Packing.pack([-1, 2, 7]) == [0x2F, 0x07])
        let all = Array(Int8(-8)...7)
        #expect(Int4Packing.unpack(try Int4Packing.pack(all), count: all.count) == all)
        #expect(try Int4Packing.pack([]) == [])
        let error = try #require(throws: TensorError.self) { try Int4Packing.pack([0, 8]) }
        #expect(error.message == "int4 value 8 at index 1 is outside -8...7")
        #expect(throws: TensorError.self) { try Int4Packing.pack([-9]) }
    }

    @Test func unsigned() throws {
        #expect(try Int4Packing.packUnsigned([15, 0, 3]) == [0x0F, 0x03])
        let all = Array(UInt8(0)...15)
        #expect(Int4Packing.unpackUnsigned(try Int4Packing.packUnsigned(all), count: all.count) == all)
        let error = try #require(throws: TensorError.self) { try Int4Packing.packUnsigned([1, 2, 16]) }
        #expect(error.message == "uint4 value 16 at index 2 is outside 0...15")
    }
}

@Suite struct MappedFileTests {
    @Test func tensorBorrowsTheMappingAndWritesDoNotReachTheFile() throws {
        let values: [Float] = [1, 2, 3, 4]
        let bytes = values.withUnsafeBytes { Data($0) }
        try withTemporaryDirectory { dir in
            let path = dir + "/data.bin"
            try bytes.write(to: URL(fileURLWithPath: path))
            let file = try MappedFile(path: path)
            #expect(file.byteCount == 16)
            let t = try file.tensor(dtype: .float32, shape: [2, 2], byteOffset: 0)
            #expect(t.isBorrowed)
            #expect(t.scalars(as: Float.self) == values)
            let tail = try file.tensor(dtype: .float32, shape: [2], byteOffset: 8)
            #expect(tail.scalars(as: Float.self) == [3, 4])

            var changed = t
            changed.withUnsafeMutableRawBytes { $0.storeBytes(of: Float(-1), toByteOffset: 0, as: Float.self) }
            #expect(!changed.isBorrowed)
            #expect(changed.scalars(as: Float.self) == [-1, 2, 3, 4])
            #expect(t.scalars(as: Float.self) == values)
            #expect(Array(file.bytes) == Array(bytes))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)

            let past = try #require(throws: TensorError.self) { try file.tensor(dtype: .float32, shape: [3], byteOffset: 8) }
            #expect(past.kind == .truncated)
            #expect(past.path == path)
        }
    }

    @Test func emptyFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/empty.bin"
            try Data().write(to: URL(fileURLWithPath: path))
            let file = try MappedFile(path: path)
            #expect(file.byteCount == 0)
            #expect(file.baseAddress == nil)
            #expect(file.bytes.isEmpty)
            #expect(try file.tensor(dtype: .float32, shape: [0, 4], byteOffset: 0).elementCount == 0)
            let error = try #require(throws: TensorError.self) { try file.tensor(dtype: .uint8, shape: [1], byteOffset: 0) }
            #expect(error.kind == .truncated)
        }
    }

    @Test func nonexistentPathIsNamed() throws {
        let path = "/nonexistent-kiln-dir/weights.bin"
        let error = try #require(throws: TensorError.self) { try MappedFile(path: path) }
        #expect(error.kind == .io)
        #expect(error.path == path)
        #expect(error.description.hasPrefix(path))
        #expect(error.message.contains("No such file or directory"))
    }
}
