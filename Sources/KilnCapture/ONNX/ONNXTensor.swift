import KilnTensor
import SwiftProtobuf

/// Reading ONNX `TensorProto`s into Kiln tensors.
enum ONNXTensor {
    /// The Kiln dtype of an ONNX `TensorProto.DataType` code, or nil when Kiln has none.
    static func dtype(_ code: Int32) -> DType? {
        switch code {
        case 1: return .float32
        case 2: return .uint8
        case 3: return .int8
        case 5: return .int16
        case 6: return .int32
        case 7: return .int64
        case 9: return .bool
        case 10: return .float16
        case 16: return .bfloat16
        default: return nil
        }
    }

    /// ONNX's name for a data type code (for messages).
    static func dtypeName(_ code: Int32) -> String {
        Onnx_TensorProto.DataType(rawValue: Int(code)).map { "\($0)" } ?? "data type \(code)"
    }

    /// The ONNX data type code of a Kiln dtype.
    static func code(_ dtype: DType) -> Int64 {
        switch dtype {
        case .float32: return 1
        case .uint8: return 2
        case .int8: return 3
        case .int16: return 5
        case .int32: return 6
        case .int64: return 7
        case .bool: return 9
        case .float16: return 10
        case .bfloat16: return 16
        }
    }

    /// Decodes `proto` (raw_data, a typed field, or external data under `directory`).
    /// - Throws: ``ONNXError`` (`.unsupportedDType`, `.tensorSize`, `.io`) naming the tensor.
    static func decode(_ proto: Onnx_TensorProto, directory: String, what: String) throws(ONNXError) -> Tensor {
        let subject = proto.name.isEmpty ? what : "\(what) '\(proto.name)'"
        guard let dtype = dtype(proto.dataType) else {
            throw ONNXError(.unsupportedDType, "\(subject) has element type \(dtypeName(proto.dataType)), which Kiln does not have")
        }
        var shape: [Int] = []
        var count = 1
        for d in proto.dims {
            guard d >= 0, d <= Int64(Int32.max) else {
                throw ONNXError(.tensorSize, "\(subject) has dims \(proto.dims): dimension \(d) is out of range")
            }
            shape.append(Int(d))
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, product <= (1 << 40) else {
                throw ONNXError(.tensorSize, "\(subject) has dims \(proto.dims), too many elements")
            }
            count = product
        }
        let bytes = count * dtype.byteSize
        func wrongSize(_ source: String, _ got: Int, unit: String = "bytes") -> ONNXError {
            ONNXError(.tensorSize, "\(subject): \(source) holds \(got) \(unit), but \(dtype)\(shape) needs "
                      + (unit == "bytes" ? "\(bytes) bytes" : "\(count) \(unit)"))
        }
        do {
            if proto.dataLocation == .external {
                return try external(proto, dtype: dtype, shape: shape, bytes: bytes, directory: directory, subject: subject)
            }
            if proto.hasRawData {
                guard proto.rawData.count == bytes else { throw wrongSize("raw_data", proto.rawData.count) }
                return try proto.rawData.withUnsafeBytes { try Tensor(dtype: dtype, shape: shape, copying: $0) }
            }
            switch dtype {
            case .float32:
                guard proto.floatData.count == count else { throw wrongSize("float_data", proto.floatData.count, unit: "values") }
                return try Tensor(proto.floatData, shape: shape)
            case .int64:
                guard proto.int64Data.count == count else { throw wrongSize("int64_data", proto.int64Data.count, unit: "values") }
                return try Tensor(proto.int64Data, shape: shape)
            default:
                // int32_data carries every narrower type, one value per element (16-bit floats as bits).
                guard proto.int32Data.count == count else { throw wrongSize("int32_data", proto.int32Data.count, unit: "values") }
                var t = try Tensor(zeros: dtype, shape: shape)
                t.withUnsafeMutableRawBytes { raw in
                    for (i, v) in proto.int32Data.enumerated() {
                        switch dtype.byteSize {
                        case 4: raw.storeBytes(of: v, toByteOffset: i * 4, as: Int32.self)
                        case 2: raw.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: i * 2, as: UInt16.self)
                        default: raw.storeBytes(of: dtype == .bool ? (v != 0 ? 1 : 0) : UInt8(truncatingIfNeeded: v),
                                                toByteOffset: i, as: UInt8.self)
                        }
                    }
                }
                return t
            }
        } catch let e as ONNXError {
            throw e
        } catch {
            throw ONNXError(.tensorSize, "\(subject): \(error)")
        }
    }

    /// Maps external data: `location` relative to `directory`, `offset` and `length` in bytes.
    private static func external(_ proto: Onnx_TensorProto, dtype: DType, shape: [Int], bytes: Int, directory: String,
                                 subject: String) throws -> Tensor {
        var entries: [String: String] = [:]
        for e in proto.externalData { entries[e.key] = e.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw ONNXError(.invalidModel, "\(subject) has data_location EXTERNAL but no 'location'")
        }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw ONNXError(.invalidModel, "\(subject): external data location '\(location)' must stay inside the model's folder")
        }
        let offset = Int(entries["offset"] ?? "0")
        let length = entries["length"].map { Int($0) } ?? bytes
        guard let offset, let length, offset >= 0 else {
            throw ONNXError(.invalidModel, "\(subject): external data offset/length are not non-negative integers")
        }
        guard length == bytes else {
            throw ONNXError(.tensorSize, "\(subject): external data length is \(length) bytes, but \(dtype)\(shape) needs \(bytes) bytes")
        }
        let path = directory.isEmpty ? location : directory + "/" + location
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw ONNXError(.io, "\(subject): cannot map external data: \(error)")
        }
        guard offset <= file.byteCount, bytes <= file.byteCount - offset else {
            throw ONNXError(.tensorSize, "\(subject): external data \(offset)..<\(offset &+ bytes) is past the end of "
                            + "'\(location)' (\(file.byteCount) bytes)")
        }
        let mapped = try file.tensor(dtype: dtype, shape: shape, byteOffset: offset)
        if offset % dtype.byteSize == 0 { return mapped }
        // A misaligned element: copy so kernels read aligned values.
        return try mapped.withUnsafeRawBytes { try Tensor(dtype: dtype, shape: shape, copying: $0) }
    }
}
