#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing NumPy `.npy` files, format versions 1.0, 2.0 and 3.0.
///
/// Supported descrs: `<f4` float32, `<f2` float16, `<i8` int64, `<i4` int32, `<i2` int16,
/// `|i1` int8, `|u1` uint8, `|b1` bool. Multi-byte types may also say `=` (native, which is
/// little-endian on every platform Kiln runs on); 1-byte types accept any byte-order mark.
/// Arrays are C-ordered; Fortran-order, object, structured and big-endian arrays are refused
/// with an error that says how to re-save them.
///
/// bfloat16: NumPy has no bfloat16, and `np.save` of an `ml_dtypes.bfloat16` array writes the
/// void descr `'<V2'` ("two opaque bytes"). Kiln writes bfloat16 tensors as `'descr': '<V2'`
/// plus an extra header key `'kiln_dtype': 'bf16'`, and reads `'<V2'` only together with that
/// key; a bare `'<V2'` is refused as ambiguous. NumPy's own `np.load` insists on exactly the
/// three standard keys, so it refuses Kiln's bfloat16 files; every other dtype round-trips
/// with NumPy byte for byte.
///
/// ```swift
/// try Npy.write(try Tensor([1, 2, 3] as [Float], shape: [3]), to: "/tmp/x.npy")
/// let x = try Npy.read(path: "/tmp/x.npy")   // float32[3], borrowing the mapped file
/// ```
public enum Npy {
    /// The first six bytes of every `.npy` file: `\x93NUMPY`.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// NumPy pads the preamble (magic, version, length, header) to a multiple of this.
    static let headerAlignment = 64
    /// The descr written and accepted for each dtype (bfloat16 also needs `kiln_dtype`).
    static let descrs: [(code: String, dtype: DType)] = [
        ("f4", .float32), ("f2", .float16), ("i8", .int64), ("i4", .int32),
        ("i2", .int16), ("i1", .int8), ("u1", .uint8), ("b1", .bool), ("V2", .bfloat16),
    ]
    static let supportedText = "<f4, <f2, <i8, <i4, <i2, |i1, |u1, |b1, and <V2 with 'kiln_dtype': 'bf16'"

    /// Memory-maps the `.npy` file at `path` and returns its array.
    ///
    /// The tensor borrows the mapped bytes (no copy) when the data offset is element-aligned,
    /// which NumPy's 64-byte header padding guarantees; otherwise the data is copied.
    /// ```swift
    /// let w = try Npy.read(path: "weights.npy")
    /// w.isBorrowed   // true
    /// ```
    /// - Throws: ``TensorError`` with `path` set: `.io` when the file cannot be opened,
    ///   `.npyFormat`/`.truncated` for a malformed file, `.npyUnsupported` for a valid array Kiln
    ///   cannot hold.
    public static func read(path: String) throws -> Tensor {
        let file = try MappedFile(path: path)
        let layout = try self.layout(of: file.bytes, path: path)
        if layout.dataOffset % layout.dtype.byteSize == 0 {
            return try file.tensor(dtype: layout.dtype, shape: layout.shape, byteOffset: layout.dataOffset)
        }
        return try copy(layout, from: file.bytes)
    }

    /// Parses a whole `.npy` file held in memory and returns a copy of its array.
    ///
    /// ```swift
    /// let t = try Npy.decode(bytes, path: nil)
    /// ```
    /// - Parameters:
    ///   - bytes: the complete file contents.
    ///   - path: the name used in error messages, if any.
    /// - Throws: ``TensorError`` as for ``read(path:)``.
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String? = nil) throws -> Tensor {
        try copy(layout(of: bytes, path: path), from: bytes)
    }

    /// The complete `.npy` file for `tensor`: version 1.0 unless the header needs more than
    /// 65535 bytes (then 2.0), data in row-major order whatever the tensor's dim order.
    ///
    /// ```swift
    /// let bytes = Npy.encode(try Tensor([true, false] as [Bool], shape: [2]))
    /// ```
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        var out = preamble(header: headerText(for: tensor))
        out.reserveCapacity(out.count + tensor.byteCount)
        appendRowMajorData(of: tensor, to: &out)
        return out
    }

    /// Writes `tensor` to `path` atomically: the bytes go to a temporary file in the same
    /// directory, which is synced and renamed over `path`. On failure the temporary file is
    /// removed and an existing file at `path` is left untouched.
    ///
    /// ```swift
    /// try Npy.write(logits, to: "out/logits.npy")
    /// ```
    /// - Throws: ``TensorError`` of kind `.io` naming `path`.
    public static func write(_ tensor: Tensor, to path: String) throws {
        try FileIO.writeAtomically(encode(tensor), to: path)
    }
}

// MARK: - Reading

extension Npy {
    /// Where the array lives in an `.npy` buffer whose preamble has been validated.
    struct Layout: Equatable {
        var dtype: DType
        var shape: [Int]
        /// Byte offset of the first element (the preamble length).
        var dataOffset: Int
        /// Bytes of element data, exactly what remains after the preamble.
        var dataByteCount: Int
    }

    static func copy(_ layout: Layout, from bytes: UnsafeRawBufferPointer) throws -> Tensor {
        let data = UnsafeRawBufferPointer(rebasing: bytes[layout.dataOffset..<layout.dataOffset + layout.dataByteCount])
        return try Tensor(dtype: layout.dtype, shape: layout.shape, copying: data)
    }

    /// Validates magic, version, header and data size; never traps on any input.
    static func layout(of bytes: UnsafeRawBufferPointer, path: String?) throws -> Layout {
        let checked = min(bytes.count, magic.count)
        guard bytes.prefix(checked).elementsEqual(magic.prefix(checked)) else {
            let found = bytes.prefix(magic.count).map { hex($0) }.joined(separator: " ")
            let hint = bytes.starts(with: [0x50, 0x4B]) ? " (this looks like a zip archive, e.g. an .npz)" : ""
            throw TensorError(.npyFormat, "not a .npy file: expected magic 93 4E 55 4D 50 59 (\\x93NUMPY), found \(found)\(hint)", path: path)
        }
        guard bytes.count >= 10 else {
            throw TensorError(.truncated, "file is \(bytes.count) bytes, shorter than the .npy preamble", path: path)
        }
        let (major, minor) = (bytes[6], bytes[7])
        let lengthFieldSize: Int
        switch (major, minor) {
        case (1, 0): lengthFieldSize = 2
        case (2, 0), (3, 0): lengthFieldSize = 4
        default:
            throw TensorError(.npyUnsupported, "unknown .npy format version \(major).\(minor); supported: 1.0, 2.0, 3.0", path: path)
        }
        let headerStart = 8 + lengthFieldSize
        guard bytes.count >= headerStart else {
            throw TensorError(.truncated, "file is \(bytes.count) bytes, shorter than the version \(major).0 preamble", path: path)
        }
        var headerLength = 0
        for i in 0..<lengthFieldSize { headerLength |= Int(bytes[8 + i]) << (8 * i) }
        guard headerLength <= bytes.count - headerStart else {
            throw TensorError(.truncated,
                              "header length \(headerLength) runs past the end of the file (\(bytes.count - headerStart) bytes after the length field)",
                              path: path)
        }
        let headerBytes = Array(bytes[headerStart..<headerStart + headerLength])
        let header = try NpyHeader(parsing: headerBytes, utf8: major == 3, path: path)
        let dtype = try resolveDType(header, path: path)
        if header.fortranOrder {
            throw TensorError(.npyUnsupported, "Fortran-order arrays are not supported; save with np.ascontiguousarray", path: path)
        }
        let expected: Int
        do {
            expected = try Shape.byteCount(header.shape, dtype: dtype)
        } catch let error as TensorError {
            throw TensorError(.npyFormat, "header 'shape' \(NpyHeader.shapeText(header.shape)) is invalid: \(error.message)", path: path)
        }
        let dataOffset = headerStart + headerLength
        let present = bytes.count - dataOffset
        let what = "shape \(NpyHeader.shapeText(header.shape)) of \(dtype) needs \(expected) data bytes"
        guard present >= expected else {
            throw TensorError(.truncated, "truncated data: \(what), file has \(present)", path: path)
        }
        guard present == expected else {
            throw TensorError(.npyFormat, "\(what), file has \(present) (trailing bytes or a header that lies)", path: path)
        }
        return Layout(dtype: dtype, shape: header.shape, dataOffset: dataOffset, dataByteCount: expected)
    }

    /// Maps the header's descr (and `kiln_dtype`) to a dtype, or explains why not.
    static func resolveDType(_ header: NpyHeader, path: String?) throws -> DType {
        guard case .string(let descr) = header.descr else {
            throw TensorError(.npyUnsupported,
                              "structured or sub-array dtype \(header.descr.pythonText) is not supported; supported: \(supportedText)",
                              path: path)
        }
        let scalars = Array(descr.unicodeScalars)
        guard let order = scalars.first, "<>|=".unicodeScalars.contains(order) else {
            throw TensorError(.npyFormat, "descr '\(descr)' has no byte-order mark ('<', '>', '|' or '=')", path: path)
        }
        let code = String(String.UnicodeScalarView(scalars.dropFirst()))
        if code.hasPrefix("O") {
            throw TensorError(.npyUnsupported, "object arrays ('\(descr)') are not supported: they hold pickled Python objects", path: path)
        }
        guard let dtype = descrs.first(where: { $0.code == code })?.dtype else {
            throw TensorError(.npyUnsupported,
                              "unsupported dtype '\(descr)'\(describeCode(code)); supported: \(supportedText)", path: path)
        }
        if dtype.byteSize > 1 {
            if order == ">" {
                throw TensorError(.npyUnsupported,
                                  "big-endian dtype '\(descr)' is not supported; convert with a.astype('<\(code)')", path: path)
            }
            if order == "|" {
                throw TensorError(.npyFormat, "descr '\(descr)': byte order '|' is only valid for 1-byte types", path: path)
            }
        }
        switch (dtype, header.kilnDType) {
        case (.bfloat16, "bf16"?): return .bfloat16
        case (.bfloat16, nil):
            throw TensorError(.npyUnsupported,
                              "void dtype <V2 is ambiguous; expected 'kiln_dtype': 'bf16' in the header for bfloat16", path: path)
        case (.bfloat16, let other?):
            throw TensorError(.npyUnsupported, "unsupported 'kiln_dtype': '\(other)'; supported: 'bf16'", path: path)
        case (_, let other?):
            throw TensorError(.npyFormat, "'kiln_dtype': '\(other)' is only valid with descr '<V2', found '\(descr)'", path: path)
        case (_, nil): return dtype
        }
    }

    /// " (float64)" for "f8", " (unicode string)" for "U3": a readable name for an error.
    static func describeCode(_ code: String) -> String {
        let names: [Character: String] = [
            "f": "float", "c": "complex", "i": "int", "u": "uint", "b": "bool",
            "U": "unicode string", "S": "byte string", "V": "void", "M": "datetime", "m": "timedelta",
        ]
        guard let kind = code.first, let name = names[kind] else { return "" }
        if "fciu".contains(kind), let bytes = Int(code.dropFirst()), bytes > 0, bytes <= 64 {
            return " (\(name)\(bytes * 8))"
        }
        return " (\(name))"
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}

// MARK: - Writing

extension Npy {
    /// The header dict exactly as NumPy writes it, e.g.
    /// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
    static func headerText(for tensor: Tensor) -> String {
        let code = descrs.first(where: { $0.dtype == tensor.dtype })?.code ?? "V\(tensor.dtype.byteSize)"
        let order = tensor.dtype.byteSize == 1 ? "|" : "<"
        var text = "{'descr': '\(order)\(code)', 'fortran_order': False, 'shape': \(NpyHeader.shapeText(tensor.shape)), "
        if tensor.dtype == .bfloat16 { text += "'kiln_dtype': 'bf16', " }
        return text + "}"
    }

    /// Magic, version, header length and the header padded with spaces and a final newline to
    /// a multiple of 64 bytes (NumPy's padding, so output matches `np.save` byte for byte).
    static func preamble(header: String) -> [UInt8] {
        let text = Array(header.utf8)
        func padded(lengthFieldSize: Int) -> (padding: Int, headerLength: Int) {
            let padding = headerAlignment - (8 + lengthFieldSize + text.count + 1) % headerAlignment
            return (padding, text.count + padding + 1)
        }
        var (version, lengthFieldSize): (UInt8, Int) = (1, 2)
        if padded(lengthFieldSize: 2).headerLength > 0xFFFF { (version, lengthFieldSize) = (2, 4) }
        let (padding, headerLength) = padded(lengthFieldSize: lengthFieldSize)
        var out = magic + [version, 0]
        for i in 0..<lengthFieldSize { out.append(UInt8(truncatingIfNeeded: headerLength >> (8 * i))) }
        out += text
        out += repeatElement(UInt8(ascii: " "), count: padding)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Appends the elements in row-major order, gathering them when the dim order is not the
    /// identity.
    static func appendRowMajorData(of tensor: Tensor, to out: inout [UInt8]) {
        tensor.withUnsafeRawBytes { src in
            if tensor.isContiguous {
                out += src
                return
            }
            let size = tensor.dtype.byteSize
            let strides = tensor.strides
            var index = [Int](repeating: 0, count: tensor.rank)
            for _ in 0..<tensor.elementCount {
                var offset = 0
                for axis in 0..<tensor.rank { offset += index[axis] * strides[axis] }
                out += src[offset * size..<(offset + 1) * size]
                // Advance the row-major index like an odometer.
                var axis = tensor.rank - 1
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < tensor.shape[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
