import Foundation
import KilnTensor

/// A safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header
/// (`{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, "__metadata__": {...}}`)
/// and the tensors' bytes, which the ``tensors`` borrow without copying.
///
/// Everything is checked before a tensor is made: the header length against the file, the JSON,
/// each dtype (F32, F16, BF16, I64, I32, I16, I8, U8, BOOL), shape and offset pair, that each
/// byte range holds exactly its elements, and that the ranges tile the data with no overlap or hole.
///
/// ```swift
/// let file = try SafetensorsFile(path: "mlp.safetensors")
/// file.tensors["fc1.weight"]?.shape      // [512, 256]
/// ```
public struct SafetensorsFile: @unchecked Sendable {
    /// The path the file was read from.
    public let path: String
    /// Tensor names in the order of their data.
    public let names: [String]
    /// The tensors by name (borrowing the mapped file where aligned for their dtype).
    public let tensors: [String: Tensor]
    /// The header's `__metadata__` strings.
    public let metadata: [String: String]

    /// The dtypes Kiln reads, by their safetensors names.
    static let dtypes: [String: DType] = [
        "F32": .float32, "F16": .float16, "BF16": .bfloat16, "I64": .int64, "I32": .int32,
        "I16": .int16, "I8": .int8, "U8": .uint8, "BOOL": .bool,
    ]

    /// Maps and checks the file at `path`.
    /// - Throws: ``CaptureError`` of kind `.io` (cannot read) or `.safetensors` naming the file
    ///   and, where one is at fault, the tensor and field.
    public init(path: String) throws(CaptureError) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw CaptureError(.io, "\(error)", file: path)
        }
        func bad(_ message: String) -> CaptureError { CaptureError(.safetensors, message, file: path) }
        let bytes = file.bytes
        guard bytes.count >= 8 else { throw bad("the file has \(bytes.count) bytes, fewer than the 8 of the header length") }
        var headerLength: UInt64 = 0
        for i in (0..<8).reversed() { headerLength = headerLength << 8 | UInt64(bytes[i]) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw bad("the header length \(headerLength) runs past the end of the file (\(bytes.count - 8) bytes after it)")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        let header = try Self.parseHeader(Data(bytes[8..<dataStart]), bad)

        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        var metadata: [String: String] = [:]
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let strings = entry.strings else { throw bad("__metadata__ must map strings to strings") }
                metadata = strings
                continue
            }
            if let field = entry.unknownFields.first { throw bad("tensor '\(name)': unknown field '\(field)'") }
            guard let dtypeName = entry.dtype else { throw bad("tensor '\(name)': dtype missing or not a string") }
            guard let dtype = Self.dtypes[dtypeName] else {
                throw bad("tensor '\(name)': dtype '\(dtypeName)' is not one Kiln reads (\(Self.dtypes.keys.sorted().joined(separator: ", ")))")
            }
            guard let shape = entry.shape, shape.allSatisfy({ $0 >= 0 }) else {
                throw bad("tensor '\(name)': shape missing or not a list of non-negative integers")
            }
            guard let offsets = entry.dataOffsets, offsets.count == 2 else {
                throw bad("tensor '\(name)': data_offsets missing or not two integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw bad("tensor '\(name)': data_offsets [\(begin), \(end)] are not inside the \(dataSize) data bytes")
            }
            guard let byteCount = try? Shape.byteCount(shape, dtype: dtype) else {
                throw bad("tensor '\(name)': shape \(shape) has too many elements")
            }
            guard end - begin == byteCount else {
                throw bad("tensor '\(name)': \(dtypeName)\(shape) needs \(byteCount) bytes, data_offsets [\(begin), \(end)] give \(end - begin)")
            }
            entries.append((name, dtype, shape, begin, end))
        }
        // The ranges must tile the data: no overlap (two tensors in the same bytes), no hole.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var position = 0
        for e in entries {
            guard e.begin == position else {
                throw bad(e.begin < position
                          ? "tensor '\(e.name)': bytes \(e.begin)..<\(e.end) overlap the tensor before it (which ends at \(position))"
                          : "tensor '\(e.name)': bytes \(position)..<\(e.begin) before it belong to no tensor")
            }
            position = e.end
        }
        guard position == dataSize else {
            throw bad("the last \(dataSize - position) data bytes (from \(position)) belong to no tensor")
        }

        var tensors: [String: Tensor] = [:]
        for e in entries {
            do {
                let offset = dataStart + e.begin
                let mapped = try file.tensor(dtype: e.dtype, shape: e.shape, byteOffset: offset)
                // A misaligned element would be read unaligned: copy those instead.
                tensors[e.name] = offset % e.dtype.byteSize == 0
                    ? mapped : try mapped.withUnsafeRawBytes { try Tensor(dtype: e.dtype, shape: e.shape, copying: $0) }
            } catch {
                throw bad("tensor '\(e.name)': \(error)")
            }
        }
        self.path = path
        self.names = entries.map(\.name)
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Writes `tensors` (in order) as a safetensors file at `path`, atomically.
    /// - Throws: ``CaptureError`` of kind `.safetensors` for a dtype safetensors cannot name or a
    ///   duplicate name, `.io` when the file cannot be written.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], to path: String) throws(CaptureError) {
        let names = Dictionary(dtypes.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        var header: [String] = []
        var data: [UInt8] = []
        var seen = Set<String>()
        for (name, tensor) in tensors {
            guard seen.insert(name).inserted else { throw CaptureError(.safetensors, "tensor '\(name)' is given twice", file: path) }
            guard let dtype = names[tensor.dtype] else {
                throw CaptureError(.safetensors, "tensor '\(name)': \(tensor.dtype) has no safetensors name", file: path)
            }
            let begin = data.count
            tensor.withUnsafeRawBytes { data += $0 }
            header.append("\(jsonString(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
                          + "\"data_offsets\":[\(begin),\(data.count)]}")
        }
        var json = Array("{\(header.joined(separator: ","))}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }  // spaces keep the data 8-byte aligned
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) }
        bytes += json + data
        do {
            try FileIO.writeAtomically(bytes, to: path)
        } catch {
            throw CaptureError(.io, "\(error)", file: path)
        }
    }

    private static func parseHeader(_ data: Data, _ bad: (String) -> CaptureError) throws(CaptureError) -> [String: HeaderEntry] {
        do {
            return try JSONDecoder().decode([String: HeaderEntry].self, from: data)
        } catch {
            throw bad("the header is not a JSON object of objects")
        }
    }
}

/// One header entry, read leniently so that each wrong field gets its own message.
private struct HeaderEntry: Decodable {
    var dtype: String?
    var shape: [Int]?
    var dataOffsets: [Int]?
    /// For `__metadata__`: the entry as strings, when it is that.
    var strings: [String: String]?
    var unknownFields: [String]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        dtype = try? c.decode(String.self, forKey: Key(stringValue: "dtype"))
        shape = try? c.decode([Int].self, forKey: Key(stringValue: "shape"))
        dataOffsets = try? c.decode([Int].self, forKey: Key(stringValue: "data_offsets"))
        strings = try? decoder.singleValueContainer().decode([String: String].self)
        unknownFields = c.allKeys.map(\.stringValue).filter { !["dtype", "shape", "data_offsets"].contains($0) }.sorted()
    }
}

/// `name` as a JSON string literal.
private func jsonString(_ name: String) -> String {
    var out = "\""
    for scalar in name.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
