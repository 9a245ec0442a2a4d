import Foundation
import Testing
@testable import KilnTensor

/// Fixtures come from `scripts/fixtures/make_npy_fixtures.py` (written by NumPy itself).
enum NpyFixtures {
    static func path(_ name: String) throws -> String {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return folder.appendingPathComponent("npy").appendingPathComponent(name).path
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }

    /// `expected.json`: file name → {dtype, shape, values, ints?}.
    static func expected() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("expected.json")))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    static let valid = [
        "b1.npy", "empty.npy", "f2.npy", "f4.npy", "handwritten.npy", "i1.npy", "i2.npy", "i4.npy",
        "i8.npy", "random.npy", "rank3.npy", "scalar.npy", "u1.npy", "v2.npy", "v3.npy",
    ]

    struct Bad: Sendable, CustomTestStringConvertible {
        var file: String
        var kind: TensorError.Kind
        var message: String
        var testDescription: String { file }
    }

    static let bad: [Bad] = [
        Bad(file: "bad_fortran.npy", kind: .npyUnsupported,
            message: "Fortran-order arrays are not supported; save with np.ascontiguousarray"),
        Bad(file: "bad_object.npy", kind: .npyUnsupported, message: "object arrays ('|O') are not supported"),
        Bad(file: "bad_bigendian.npy", kind: .npyUnsupported, message: "big-endian dtype '>f4' is not supported"),
        Bad(file: "bad_f8.npy", kind: .npyUnsupported, message: "unsupported dtype '<f8' (float64); supported: <f4, <f2"),
        Bad(file: "bad_c8.npy", kind: .npyUnsupported, message: "unsupported dtype '<c8' (complex64)"),
        Bad(file: "bad_unicode.npy", kind: .npyUnsupported, message: "unsupported dtype '<U3' (unicode string)"),
        Bad(file: "bad_void.npy", kind: .npyUnsupported, message: "void dtype <V2 is ambiguous"),
        Bad(file: "bad_truncated.npy", kind: .truncated, message: "needs 24 data bytes, file has 19"),
        Bad(file: "bad_shape_too_big.npy", kind: .truncated, message: "shape (4, 3) of f32 needs 48 data bytes, file has 24"),
        Bad(file: "bad_shape_too_small.npy", kind: .npyFormat, message: "shape (1, 3) of f32 needs 12 data bytes, file has 24"),
        Bad(file: "bad_negative_shape.npy", kind: .npyFormat, message: "(-1, 3) is invalid: shape [-1, 3] has a negative dimension"),
        Bad(file: "bad_missing_key.npy", kind: .npyFormat, message: "header is missing key 'shape'"),
        Bad(file: "bad_dict.npy", kind: .npyFormat, message: "expected ':' after key 'descr' at byte 9 of the header, found '''"),
        Bad(file: "bad_magic.npy", kind: .npyFormat, message: "expected magic 93 4E 55 4D 50 59 (\\x93NUMPY), found 93 4E 55 4D 50 5A"),
        Bad(file: "bad_version.npy", kind: .npyUnsupported, message: "unknown .npy format version 4.0"),
        Bad(file: "bad_header_length.npy", kind: .truncated, message: "header length 5000 runs past the end of the file"),
    ]
}

/// An `.npy` file with a hand-written header (padded like NumPy unless `pad` is false).
func npyFile(header: String, data: [UInt8] = [], version: UInt8 = 1, pad: Bool = true) -> [UInt8] {
    npyFile(headerBytes: Array(header.utf8), data: data, version: version, pad: pad)
}

func npyFile(headerBytes: [UInt8], data: [UInt8] = [], version: UInt8 = 1, pad: Bool = true) -> [UInt8] {
    var text = headerBytes
    let prefix = version == 1 ? 10 : 12
    if pad { text += [UInt8](repeating: 0x20, count: 63 - (prefix + text.count) % 64) + [0x0A] }
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0]
    for i in 0..<(prefix - 8) { out.append(UInt8(truncatingIfNeeded: text.count >> (8 * i))) }
    return out + text + data
}

func decode(_ bytes: [UInt8], path: String? = nil) throws -> Tensor {
    try bytes.withUnsafeBytes { try Npy.decode($0, path: path) }
}

/// Runs `body` with a fresh empty directory, removed afterwards.
func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-npy-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try body(dir)
}

@Suite struct NpyFixtureTests {
    @Test func everyFixtureIsCovered() throws {
        let folder = try NpyFixtures.path("")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".npy") }
        #expect(Set(files) == Set(NpyFixtures.valid + NpyFixtures.bad.map(\.file)))
        #expect(Set(try NpyFixtures.expected().keys) == Set(NpyFixtures.valid))
    }

    @Test(arguments: NpyFixtures.valid) func validFixtureMatchesNumPy(_ name: String) throws {
        let expected = try #require(try NpyFixtures.expected()[name])
        let mapped = try Npy.read(path: NpyFixtures.path(name))
        let copied = try decode(NpyFixtures.bytes(name))
        #expect(mapped.isBorrowed)
        #expect(!copied.isBorrowed)
        #expect(mapped == copied)

        #expect(mapped.dtype == DType(textName: try #require(expected["dtype"] as? String)))
        #expect(mapped.shape == (try #require(expected["shape"] as? [Int])))
        let values = try #require(expected["values"] as? [Any]).map { value -> Float in
            switch value {
            case let s as String where s == "inf": return .infinity
            case let s as String where s == "-inf": return -.infinity
            case let s as String where s == "nan": return .nan
            case let n as NSNumber: return Float(n.doubleValue)
            default: Issue.record("bad value \(value) in expected.json"); return 0
            }
        }
        let actual = mapped.floatValues()
        #expect(actual.count == values.count)
        for (a, e) in zip(actual, values) {
            // Bit equality tells -0.0 from 0.0; NaNs only need to be NaN.
            #expect(e.isNaN ? a.isNaN : a.bitPattern == e.bitPattern, "\(name): \(a) vs \(e)")
        }
        if let ints = expected["ints"] as? [NSNumber] {
            let exact: [Int64]
            switch mapped.dtype {
            case .int64: exact = mapped.scalars(as: Int64.self)
            case .int32: exact = mapped.scalars(as: Int32.self).map(Int64.init)
            case .int16: exact = mapped.scalars(as: Int16.self).map(Int64.init)
            case .int8: exact = mapped.scalars(as: Int8.self).map(Int64.init)
            case .uint8: exact = mapped.scalars(as: UInt8.self).map(Int64.init)
            case .bool: exact = mapped.scalars(as: Bool.self).map { $0 ? 1 : 0 }
            default: exact = []
            }
            #expect(exact == ints.map(\.int64Value))
        }
    }

    /// Kiln's writer matches `np.save` byte for byte (header text and padding included).
    @Test(arguments: NpyFixtures.valid.filter { !["handwritten.npy", "v2.npy", "v3.npy"].contains($0) })
    func encodeMatchesNumPyBytes(_ name: String) throws {
        let original = try NpyFixtures.bytes(name)
        #expect(Npy.encode(try Npy.read(path: NpyFixtures.path(name))) == original)
    }

    @Test(arguments: NpyFixtures.bad) func badFixtureIsRefused(_ bad: NpyFixtures.Bad) throws {
        let path = try NpyFixtures.path(bad.file)
        let fromFile = try #require(throws: TensorError.self) { try Npy.read(path: path) }
        #expect(fromFile.kind == bad.kind)
        #expect(fromFile.message.contains(bad.message), "\(fromFile.message)")
        #expect(fromFile.path == path)
        #expect(fromFile.description.hasPrefix(path))
        let fromBytes = try #require(throws: TensorError.self) { try decode(NpyFixtures.bytes(bad.file), path: "x.npy") }
        #expect(fromBytes == TensorError(bad.kind, fromFile.message, path: "x.npy"))
    }
}

@Suite struct NpyHeaderTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        var header: String
        var dtype: DType
        var shape: [Int]
        var testDescription: String { header }
    }

    static let accepted: [Accepted] = [
        Accepted(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", dtype: .float32, shape: [2, 3]),
        Accepted(header: "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"=f2\"}", dtype: .float16, shape: [3]),
        Accepted(header: " {\t'descr':'<i8','fortran_order':False,'shape':()}\n\n", dtype: .int64, shape: []),
        Accepted(header: "{'descr': '<i4', 'fortran_order': False, 'shape': (0, 2,),}", dtype: .int32, shape: [0, 2]),
        Accepted(header: "{'descr': '<u1', 'fortran_order': False, 'shape': (+2,)}", dtype: .uint8, shape: [2]),
        Accepted(header: "{'descr': '=i1', 'fortran_order': False, 'shape': (\n2\n,\n)}", dtype: .int8, shape: [2]),
        Accepted(header: "{'descr': '>b1', 'fortran_order': False, 'shape': (2,)}", dtype: .bool, shape: [2]),
        Accepted(header: "{'descr': '<V2', 'kiln_dtype': 'bf16', 'fortran_order': False, 'shape': (1,)}", dtype: .bfloat16, shape: [1]),
    ]

    @Test(arguments: accepted) func acceptsHeader(_ c: Accepted) throws {
        let bytes = try Shape.byteCount(c.shape, dtype: c.dtype)
        let t = try decode(npyFile(header: c.header, data: [UInt8](repeating: 1, count: bytes)))
        #expect(t.dtype == c.dtype)
        #expect(t.shape == c.shape)
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        var header: String
        var kind: TensorError.Kind
        var message: String
        var testDescription: String { message }
    }

    static let tail = "'fortran_order': False, 'shape': (1,)}"
    static let refused: [Refused] = [
        Refused(header: "", kind: .npyFormat, message: "expected '{' opening the header dict at byte 54 of the header, found the end of the header"),
        Refused(header: "['descr']", kind: .npyFormat, message: "expected '{' opening the header dict at byte 0 of the header, found '['"),
        Refused(header: "{descr: '<f4'}", kind: .npyFormat, message: "expected a quoted key or '}' at byte 1 of the header, found 'd'"),
        Refused(header: "{'descr': '<f4' 'x': 1}", kind: .npyFormat, message: "expected ',' or '}' after the value of 'descr' at byte 16"),
        Refused(header: "{'descr': '<f4}", kind: .npyFormat, message: "expected a closing quote for the string opened at byte 10"),
        Refused(header: "{'descr': '<f\\x34'}", kind: .npyFormat, message: "expected a string without escape sequences at byte 13"),
        Refused(header: "{'descr': None}", kind: .npyFormat, message: "expected a value (string, integer, True, False, tuple or list) at byte 10 of the header, found 'None'"),
        Refused(header: "{'descr': }", kind: .npyFormat, message: "expected a value (string, integer, True, False, tuple or list) at byte 10 of the header, found '}'"),
        Refused(header: "{'descr': '<f4', \(tail) x", kind: .npyFormat, message: "expected only whitespace after the closing '}'"),
        Refused(header: "{'shape': (1.5,)}", kind: .npyFormat, message: "expected ',' or ')' at byte 12 of the header, found '.'"),
        Refused(header: "{'shape': (99999999999999999999,)}", kind: .npyFormat, message: "expected an integer that fits in 64 bits at byte 11"),
        Refused(header: "{'shape': (-,)}", kind: .npyFormat, message: "expected a digit at byte 12"),
        Refused(header: "{'shape': " + String(repeating: "(", count: 100) + "}", kind: .npyFormat, message: "at most 8 levels of nested"),
        Refused(header: "{'descr': '<f4', 'descr': '<f4', \(tail)", kind: .npyFormat, message: "duplicate header key 'descr' at byte 17"),
        Refused(header: "{'descr': '<f4', 'extra': 1, \(tail)", kind: .npyFormat, message: "unexpected header key 'extra' at byte 17"),
        Refused(header: "{'shape': (1,), 'fortran_order': False}", kind: .npyFormat, message: "header is missing key 'descr'"),
        Refused(header: "{'descr': '<f4', 'shape': (1,)}", kind: .npyFormat, message: "header is missing key 'fortran_order'"),
        Refused(header: "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", kind: .npyFormat, message: "'fortran_order' must be True or False, found 0"),
        Refused(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", kind: .npyFormat, message: "'shape' must be a tuple of integers, found 3"),
        Refused(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1, '2')}", kind: .npyFormat, message: "'shape' must be a tuple of integers, found (1, '2')"),
        Refused(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", kind: .npyFormat, message: "is invalid: shape [4611686018427387904, 4] has more elements than fit"),
        Refused(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2305843009213693952,)}", kind: .npyFormat, message: "needs more bytes than fit in a 64-bit count"),
        Refused(header: "{'descr': 'f4', \(tail)", kind: .npyFormat, message: "descr 'f4' has no byte-order mark"),
        Refused(header: "{'descr': '|f4', \(tail)", kind: .npyFormat, message: "byte order '|' is only valid for 1-byte types"),
        Refused(header: "{'descr': '>i8', \(tail)", kind: .npyUnsupported, message: "big-endian dtype '>i8' is not supported; convert with a.astype('<i8')"),
        Refused(header: "{'descr': '<u2', \(tail)", kind: .npyUnsupported, message: "unsupported dtype '<u2' (uint16)"),
        Refused(header: "{'descr': [('a', '<f4')], \(tail)", kind: .npyUnsupported, message: "structured or sub-array dtype [('a', '<f4')] is not supported"),
        Refused(header: "{'descr': '<V2', 'kiln_dtype': 'fp8', \(tail)", kind: .npyUnsupported, message: "unsupported 'kiln_dtype': 'fp8'"),
        Refused(header: "{'descr': '<f4', 'kiln_dtype': 'bf16', \(tail)", kind: .npyFormat, message: "'kiln_dtype': 'bf16' is only valid with descr '<V2', found '<f4'"),
        Refused(header: "{'descr': '<V2', 'kiln_dtype': 2, \(tail)", kind: .npyFormat, message: "'kiln_dtype' must be a string, found 2"),
    ]

    @Test(arguments: refused) func refusesHeader(_ c: Refused) throws {
        let error = try #require(throws: TensorError.self) { try decode(npyFile(header: c.header, data: [0, 0, 0, 0])) }
        #expect(error.kind == c.kind)
        #expect(error.message.contains(c.message), "\(error.message)")
    }

    @Test func headerEncodingFollowsTheVersion() throws {
        // Version 3.0 headers are UTF-8, older ones latin-1: one byte 0xE9 is "é" in 1.0 and
        // invalid in 3.0.
        let header = Array("{'descr': '<f".utf8) + [0xE9] + Array("', 'fortran_order': False, 'shape': (1,), }".utf8)
        let latin1 = try #require(throws: TensorError.self) { try decode(npyFile(headerBytes: header, data: [0, 0, 0, 0])) }
        #expect(latin1.kind == .npyUnsupported)
        #expect(latin1.message.contains("unsupported dtype '<f\u{E9}'"))
        let v3 = try #require(throws: TensorError.self) { try decode(npyFile(headerBytes: header, data: [0, 0, 0, 0], version: 3)) }
        #expect(v3 == TensorError(.npyFormat, "version 3.0 header is not valid UTF-8"))
        let utf8 = "{'descr': '<f\u{E9}', 'fortran_order': False, 'shape': (1,), }"
        let v3Valid = try #require(throws: TensorError.self) { try decode(npyFile(header: utf8, data: [0, 0, 0, 0], version: 3)) }
        #expect(v3Valid.message.contains("unsupported dtype '<f\u{E9}'"))
    }

    @Test func shortFilesAreTruncatedNotBadMagic() throws {
        for length in 0..<10 {
            let error = try #require(throws: TensorError.self) { try decode(Array(npyFile(header: "{}").prefix(length))) }
            #expect(error.kind == .truncated)
        }
        let zip = try #require(throws: TensorError.self) { try decode(Array("PK\u{3}\u{4}rest".utf8)) }
        #expect(zip.message.contains("zip archive"))
    }
}

@Suite struct NpyRoundTripTests {
    /// A tensor of `dtype` with distinct, deterministic bytes (bool: 0 and 1).
    static func sample(_ dtype: DType, shape: [Int]) throws -> Tensor {
        let count = try Shape.byteCount(shape, dtype: dtype)
        let bytes = (0..<count).map { i in dtype == .bool ? UInt8(i % 3 == 0 ? 1 : 0) : UInt8(truncatingIfNeeded: i &* 37 &+ 11) }
        return try bytes.withUnsafeBytes { try Tensor(dtype: dtype, shape: shape, copying: $0) }
    }

    @Test(arguments: DType.allCases, [[2, 3], [], [0, 4], [5], [2, 1, 3]])
    func writeThenRead(_ dtype: DType, _ shape: [Int]) throws {
        let original = try Self.sample(dtype, shape: shape)
        try withTemporaryDirectory { dir in
            let path = dir + "/t.npy"
            try Npy.write(original, to: path)
            let back = try Npy.read(path: path)
            #expect(back == original)
            #expect(back.isBorrowed)
            #expect(try decode(Npy.encode(original)) == original)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["t.npy"])
        }
    }

    @Test func bfloat16IsMarkedInTheHeader() throws {
        let t = try Tensor([BFloat16(1.5), BFloat16(-2), BFloat16(Float.nan)], shape: [3])
        let bytes = Npy.encode(t)
        let text = String(decoding: bytes[10..<bytes.count - 6], as: UTF8.self)
        #expect(text.hasPrefix("{'descr': '<V2', 'fortran_order': False, 'shape': (3,), 'kiln_dtype': 'bf16', }"))
        let back = try decode(bytes)
        #expect(back.dtype == .bfloat16)
        #expect(back.scalars(as: BFloat16.self).map(\.bitPattern) == t.scalars(as: BFloat16.self).map(\.bitPattern))
    }

    @Test func packedInt4RoundTripsAsUInt8() throws {
        let signed: [Int8] = Array(-8...7) + [3, -3, 0]
        let unsigned: [UInt8] = Array(0...15) + [9]
        let tensors = [
            try Tensor(try Int4Packing.pack(signed), shape: [(signed.count + 1) / 2]),
            try Tensor(try Int4Packing.packUnsigned(unsigned), shape: [(unsigned.count + 1) / 2]),
        ]
        try withTemporaryDirectory { dir in
            for (i, t) in tensors.enumerated() {
                try Npy.write(t, to: "\(dir)/w\(i).npy")
            }
            let s = try Npy.read(path: "\(dir)/w0.npy")
            let u = try Npy.read(path: "\(dir)/w1.npy")
            #expect(s.dtype == .uint8)
            #expect(Int4Packing.unpack(s.scalars(as: UInt8.self), count: signed.count) == signed)
            #expect(Int4Packing.unpackUnsigned(u.scalars(as: UInt8.self), count: unsigned.count) == unsigned)
        }
    }

    @Test func boolBytesOtherThanZeroAndOneReadAsTrue() throws {
        let t = try decode(npyFile(header: "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", data: [0, 1, 2, 255]))
        #expect(t.scalars(as: Bool.self) == [false, true, true, true])
        #expect(t.floatValues() == [0, 1, 1, 1])
        #expect(Npy.encode(t).suffix(4) == [0, 1, 2, 255])   // raw bytes are kept
    }

    @Test func nonContiguousTensorIsWrittenRowMajor() throws {
        // Logical [[0, 1, 2], [3, 4, 5]] stored column-major.
        let columnMajor: [Float] = [0, 3, 1, 4, 2, 5]
        let t = try columnMajor.withUnsafeBytes { try Tensor(dtype: .float32, shape: [2, 3], dimOrder: [1, 0], copying: $0) }
        let back = try decode(Npy.encode(t))
        #expect(back.isContiguous)
        #expect(back.scalars(as: Float.self) == [0, 1, 2, 3, 4, 5])
    }

    @Test func hugeHeaderUsesVersion2() throws {
        let t = try Tensor([UInt8(7)], shape: [1]).reshaped([Int](repeating: 1, count: 22_000))
        let bytes = Npy.encode(t)
        #expect(bytes[6] == 2)
        let headerLength = bytes[8..<12].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(headerLength > 0xFFFF)
        #expect((12 + headerLength) % 64 == 0)
        #expect(try decode(bytes) == t)
        let small = Npy.encode(try Tensor([UInt8(7)], shape: [1]))
        #expect(small[6] == 1)
        #expect(small.count == 128 + 1)
    }

    @Test func unalignedDataIsCopied() throws {
        // An unpadded header puts float32 data at an odd offset.
        let values: [Float] = [1, -2, 3.5]
        let bytes = npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", pad: false)
        let file = bytes + values.withUnsafeBytes { Array($0) }
        #expect(bytes.count % 4 != 0)
        try withTemporaryDirectory { dir in
            try Data(file).write(to: URL(fileURLWithPath: dir + "/odd.npy"))
            let t = try Npy.read(path: dir + "/odd.npy")
            #expect(!t.isBorrowed)
            #expect(t.scalars(as: Float.self) == values)
        }
    }
}

@Suite struct NpyAtomicWriteTests {
    let tensor: Tensor

    init() throws {
        tensor = try Tensor([1, 2, 3] as [Float], shape: [3])
    }

    @Test func overwritesAndLeavesNoTemporaryFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/out.npy"
            try Data("old".utf8).write(to: URL(fileURLWithPath: path))
            try Npy.write(tensor, to: path)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.npy"])
            #expect(try Npy.read(path: path) == tensor)
        }
    }

    @Test func missingDirectoryFailsCleanly() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/nope/out.npy"
            let error = try #require(throws: TensorError.self) { try Npy.write(tensor, to: path) }
            #expect(error.kind == .io)
            #expect(error.path == path)
            #expect(error.message.contains("No such file or directory"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        }
    }

    @Test func failedRenameKeepsDestinationAndRemovesTemporaryFile() throws {
        try withTemporaryDirectory { dir in
            // The destination is a non-empty directory: the temp file is written, the rename fails.
            let path = dir + "/out.npy"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            try Data("keep".utf8).write(to: URL(fileURLWithPath: path + "/inside"))
            let error = try #require(throws: TensorError.self) { try Npy.write(tensor, to: path) }
            #expect(error.kind == .io)
            #expect(error.message.contains("cannot rename"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.npy"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: path + "/inside")) == Data("keep".utf8))
        }
    }

    @Test func parentThatIsAFileFailsCleanly() throws {
        try withTemporaryDirectory { dir in
            try Data("keep".utf8).write(to: URL(fileURLWithPath: dir + "/file"))
            let error = try #require(throws: TensorError.self) { try Npy.write(tensor, to: dir + "/file/out.npy") }
            #expect(error.kind == .io)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["file"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/file")) == Data("keep".utf8))
        }
    }
}

/// Hostile input must produce thrown errors, never a trap.
@Suite struct NpyFuzzTests {
    /// True when `bytes` decode, false when they throw a ``TensorError`` (any other error is an issue).
    static func decodes(_ bytes: [UInt8]) -> Bool {
        do {
            _ = try decode(bytes)
            return true
        } catch is TensorError {
            return false
        } catch {
            Issue.record("unexpected error type: \(error)")
            return false
        }
    }

    @Test(arguments: ["f4.npy", "v2.npy", "b1.npy", "scalar.npy", "bf16"])
    func everyTruncationThrows(_ name: String) throws {
        let bytes = name == "bf16"
            ? Npy.encode(try Tensor([BFloat16(1), BFloat16(2)], shape: [2]))
            : try NpyFixtures.bytes(name)
        #expect(Self.decodes(bytes))
        for length in 0..<bytes.count {
            #expect(!Self.decodes(Array(bytes.prefix(length))), "prefix of \(length) bytes decoded")
        }
    }

    @Test(arguments: ["f4.npy", "v3.npy", "handwritten.npy"])
    func everyHeaderByteFlipIsHandled(_ name: String) throws {
        let original = try NpyFixtures.bytes(name)
        let dataOffset = try #require(original.lastIndex(of: 0x0A)) + 1
        for index in 0..<dataOffset {
            var bytes = original
            for value in 0...255 where value != Int(original[index]) {
                bytes[index] = UInt8(value)
                _ = Self.decodes(bytes)
            }
        }
    }

    @Test func emptyAndGarbageFilesThrow() throws {
        try withTemporaryDirectory { dir in
            try Data().write(to: URL(fileURLWithPath: dir + "/empty.npy"))
            let error = try #require(throws: TensorError.self) { try Npy.read(path: dir + "/empty.npy") }
            #expect(error.kind == .truncated)
            #expect(error.path == dir + "/empty.npy")
        }
        var generator = SeededGenerator(seed: 42)
        let header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".utf8)
        let syntax = Array("(),:'\"[]{} -+0123456789TrueFalse".utf8)
        for _ in 0..<5000 {
            // Replace one to three bytes, with either Python syntax or any byte.
            var noise = header
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let at = Int.random(in: 0..<noise.count, using: &generator)
                noise[at] = Bool.random(using: &generator)
                    ? syntax.randomElement(using: &generator) ?? 0 : UInt8.random(in: 0...255, using: &generator)
            }
            _ = Self.decodes(npyFile(headerBytes: noise, data: [0, 0, 0, 0, 0, 0, 0, 0]))
        }
    }
}
