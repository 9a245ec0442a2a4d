import KilnOps
import KilnTensor

/// Constant data in the text form: `dense [...]` elements (exact for every dtype, NaN payloads as
/// `0x...` bits) and `sidecar(offset=..., bytes=...)` references into the memory-mapped sidecar.
extension Parser {
    mutating func constant(_ name: String, at nameToken: Token) throws(IRError) {
        let typeToken = current
        let type = try tensorType("of constant %\(name)")
        guard let shape = type.staticShape else {
            throw error(.dynamicConstant, "constant %\(name) has symbolic shape \(type); constants must be static", at: typeToken)
        }
        let count: Int
        do { count = try Shape.elementCount(shape) } catch {
            throw self.error(.denseData, "constant %\(name): \(error)", at: typeToken)
        }
        let tensor: Tensor
        if acceptWord("dense") {
            tensor = try denseData(type.dtype, shape: shape, count: count, name: name)
        } else if current.kind == .identifier("sidecar") {
            tensor = try sidecarData(type.dtype, shape: shape, name: name)
        } else {
            throw expected("'dense [...]' or 'sidecar(offset=..., bytes=...)'", "after the type of constant %\(name)")
        }
        try define(name, at: nameToken) { (b: inout GraphBuilder) throws(IRError) in [try b.constant(name, tensor)] }
    }

    mutating func denseData(_ dtype: DType, shape: [Int], count: Int, name: String) throws(IRError) -> Tensor {
        let open = current
        try expect("[", "after 'dense'")
        var elements: [(Token, Bool, Token)] = []  // token, whether it was negated, where it starts
        if !accept("]") {
            repeat {
                let start = current
                let negative = accept("-")
                switch current.kind {
                case .punct, .end: throw expected("an element", "in the data of constant %\(name)")
                default: break
                }
                elements.append((take(), negative, start))
                guard elements.count <= count else {
                    throw error(.denseData, "constant %\(name) of type \(dtype.textName)\(shape) has \(count) elements; more are given",
                                at: start)
                }
            } while accept(",")
            try expect("]", "to close the data of constant %\(name)")
        }
        guard elements.count == count else {
            throw error(.denseData, "constant %\(name) of type \(dtype.textName)\(shape) has \(count) elements, \(elements.count) given",
                        at: open)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * dtype.byteSize)
        for (t, negative, start) in elements {
            try appendElement(t, negative: negative, start: start, dtype: dtype, to: &bytes, constant: name)
        }
        do {
            return try bytes.withUnsafeBytes { raw in try Tensor(dtype: dtype, shape: shape, copying: raw) }
        } catch {
            throw self.error(.denseData, "constant %\(name): \(error)", at: open)
        }
    }

    /// Appends one element's bytes; `start` is where it is written (its '-' when negated).
    func appendElement(_ t: Token, negative: Bool, start: Token, dtype: DType, to bytes: inout [UInt8],
                       constant name: String) throws(IRError) {
        func bad(_ why: String) -> IRError {
            let shown = negative ? "'-" + t.display.dropFirst() : t.display
            return error(.denseData, "element \(shown) of constant %\(name) (\(dtype.textName)): \(why)", at: start)
        }
        func append<V>(_ value: V) { withUnsafeBytes(of: value) { bytes += $0 } }
        if dtype.isFloatingPoint {
            // Parse from the source text so float16 / bfloat16 round exactly once.
            var text: String
            switch t.kind {
            case .integer(let v): text = String(v)
            case .float(_, let s): text = s
            case .identifier("inf"), .identifier("nan"): text = t.kind == .identifier("inf") ? "inf" : "nan"
            case .hex(let bits):
                guard !negative else { throw bad("a bit pattern cannot be negated") }
                let width = dtype.byteSize * 8
                guard width == 64 || bits >> UInt64(width) == 0 else { throw bad("bit pattern wider than \(width) bits") }
                switch dtype {
                case .float32: append(UInt32(bits))
                default: append(UInt16(bits))
                }
                return
            default: throw bad("expected a number")
            }
            if negative { text = "-" + text }
            switch dtype {
            case .float32:
                guard let v = Float(text) else { throw bad("not a float") }
                append(v)
            case .float16:
                guard let v = Float16(text) else { throw bad("not a float") }
                append(v)
            default:
                guard let v = Float(text) else { throw bad("not a float") }
                append(BFloat16(v).bitPattern)
            }
            return
        }
        if dtype == .bool {
            switch t.kind {
            case .identifier("true") where !negative: bytes.append(1)
            case .identifier("false") where !negative: bytes.append(0)
            case .integer(let v) where !negative && v <= 255: bytes.append(UInt8(v))
            default: throw bad("expected true or false")
            }
            return
        }
        let outOfRange = "out of range \(dtype.integerRange.map { "\($0.lowerBound)...\($0.upperBound)" } ?? "")"
        guard case .integer(let magnitude) = t.kind else {
            if case .hugeInteger(let digits) = t.kind {
                guard digits == Parser.intMinMagnitude, dtype == .int64, negative else { throw bad(outOfRange) }
                append(Int64.min)
                return
            }
            throw bad("expected an integer")
        }
        let v = negative ? -magnitude : magnitude
        guard let range = dtype.integerRange, range.contains(Int64(v)) else { throw bad(outOfRange) }
        switch dtype {
        case .int64: append(Int64(v))
        case .int32: append(Int32(v))
        case .int16: append(Int16(v))
        case .int8: append(Int8(v))
        default: append(UInt8(v))
        }
    }

    mutating func sidecarData(_ dtype: DType, shape: [Int], name: String) throws(IRError) -> Tensor {
        let t = take()
        try expect("(", "after 'sidecar'")
        try expectWord("offset", "in sidecar(...)")
        try expect("=", "after 'offset'")
        let offset = try integer("as the sidecar offset")
        try expect(",", "after the offset")
        try expectWord("bytes", "in sidecar(...)")
        try expect("=", "after 'bytes'")
        let count = try integer("as the byte count")
        try expect(")", "to close sidecar(...)")
        guard let fileName = sidecarName else {
            throw error(.sidecar, "constant %\(name) is in a sidecar file, but the text names none (add: sidecar \"FILE\")", at: t)
        }
        let expectedBytes: Int
        do { expectedBytes = try Shape.byteCount(shape, dtype: dtype) } catch {
            throw self.error(.sidecar, "constant %\(name): \(error)", at: t)
        }
        guard count == expectedBytes else {
            throw error(.sidecar, "constant %\(name) is \(dtype.textName)\(shape) (\(expectedBytes) bytes), sidecar entry says \(count) bytes",
                        at: t)
        }
        guard offset >= 0, offset % dtype.byteSize == 0 else {
            throw error(.sidecar, "constant %\(name): offset \(offset) is not a multiple of the \(dtype.textName) element size", at: t)
        }
        if sidecarFile == nil {
            guard let resolver else {
                throw error(.sidecar, "constant %\(name) needs sidecar file \"\(fileName)\", and no file was given to read it from", at: t)
            }
            do { sidecarFile = try resolver(fileName) } catch {
                throw self.error(.sidecar, "cannot open sidecar \"\(fileName)\": \(error)", at: sidecarToken ?? t)
            }
        }
        guard let file = sidecarFile else { throw error(.sidecar, "no sidecar file", at: t) }
        do {
            return try file.tensor(dtype: dtype, shape: shape, byteOffset: offset)
        } catch {
            throw self.error(.sidecar, "constant %\(name): \(error)", at: t)
        }
    }
}
