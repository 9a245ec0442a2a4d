/// The header of an `.npy` file: a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
///
/// Parsed by a small strict parser for the part of Python's literal syntax NumPy writes:
/// strings in single or double quotes (no escapes), integers, `True`/`False`, tuples and lists,
/// any whitespace, keys in any order and trailing commas. As in Python, `(3)` is the integer 3,
/// not a tuple. Every error names the byte of the header at fault and what was expected.
struct NpyHeader: Equatable {
    /// A Python literal value in the header.
    indirect enum Value: Equatable {
        case string(String)
        case bool(Bool)
        case int(Int)
        case tuple([Value])
        case list([Value])

        /// The value as Python would print it, for error messages.
        var pythonText: String {
            switch self {
            case .string(let s): return "'\(s)'"
            case .bool(let b): return b ? "True" : "False"
            case .int(let i): return "\(i)"
            case .tuple(let items) where items.count == 1: return "(\(items[0].pythonText),)"
            case .tuple(let items): return "(" + items.map(\.pythonText).joined(separator: ", ") + ")"
            case .list(let items): return "[" + items.map(\.pythonText).joined(separator: ", ") + "]"
            }
        }
    }

    /// The keys NumPy requires.
    static let requiredKeys = ["descr", "fortran_order", "shape"]
    /// Kiln's extra key, naming a dtype NumPy cannot express (only `'bf16'`, with `'<V2'`).
    static let kilnDTypeKey = "kiln_dtype"

    var descr: Value
    var fortranOrder: Bool
    var shape: [Int]
    var kilnDType: String?

    /// Parses and checks the header bytes (version 3.0 headers are UTF-8, older ones latin-1).
    init(parsing bytes: [UInt8], utf8: Bool, path: String?) throws {
        if utf8, !String(decoding: bytes, as: UTF8.self).utf8.elementsEqual(bytes) {
            throw TensorError(.npyFormat, "version 3.0 header is not valid UTF-8", path: path)
        }
        var parser = Parser(bytes: bytes, utf8: utf8, path: path)
        var values: [String: Value] = [:]
        for (key, value, offset) in try parser.parseDict() {
            guard Self.requiredKeys.contains(key) || key == Self.kilnDTypeKey else {
                throw TensorError(.npyFormat,
                                  "unexpected header key '\(key)' at byte \(offset); expected 'descr', 'fortran_order', 'shape' (and optionally '\(Self.kilnDTypeKey)')",
                                  path: path)
            }
            guard values[key] == nil else {
                throw TensorError(.npyFormat, "duplicate header key '\(key)' at byte \(offset)", path: path)
            }
            values[key] = value
        }
        for key in Self.requiredKeys where values[key] == nil {
            throw TensorError(.npyFormat, "header is missing key '\(key)'", path: path)
        }
        guard let descr = values["descr"] else { throw TensorError(.npyFormat, "header is missing key 'descr'", path: path) }
        guard case .bool(let fortranOrder)? = values["fortran_order"] else {
            throw TensorError(.npyFormat,
                              "'fortran_order' must be True or False, found \(values["fortran_order"]?.pythonText ?? "nothing")",
                              path: path)
        }
        guard case .tuple(let dims)? = values["shape"] else {
            throw TensorError(.npyFormat, "'shape' must be a tuple of integers, found \(values["shape"]?.pythonText ?? "nothing")",
                              path: path)
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let n) = dim else {
                throw TensorError(.npyFormat, "'shape' must be a tuple of integers, found \(Value.tuple(dims).pythonText)", path: path)
            }
            shape.append(n)
        }
        switch values[Self.kilnDTypeKey] {
        case nil: kilnDType = nil
        case .string(let name)?: kilnDType = name
        case let other?:
            throw TensorError(.npyFormat, "'\(Self.kilnDTypeKey)' must be a string, found \(other.pythonText)", path: path)
        }
        self.descr = descr
        self.fortranOrder = fortranOrder
        self.shape = shape
    }

    /// A shape as a Python tuple: `()`, `(3,)`, `(2, 3)`.
    static func shapeText(_ shape: [Int]) -> String {
        Value.tuple(shape.map { .int($0) }).pythonText
    }
}

extension NpyHeader {
    /// A cursor over the header bytes. Recursion is bounded by ``maxDepth`` so hostile input
    /// cannot exhaust the stack.
    private struct Parser {
        let bytes: [UInt8]
        let utf8: Bool
        let path: String?
        var position = 0
        static let maxDepth = 8

        init(bytes: [UInt8], utf8: Bool, path: String?) {
            self.bytes = bytes
            self.utf8 = utf8
            self.path = path
        }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        /// The byte at the cursor, quoted for a message.
        var found: String {
            guard let byte = current else { return "the end of the header" }
            if byte >= 0x20, byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
            return "byte 0x\(Npy.hex(byte))"
        }

        func error(expected: String, at offset: Int? = nil, found: String? = nil) -> TensorError {
            TensorError(.npyFormat,
                        "malformed header: expected \(expected) at byte \(offset ?? position) of the header, found \(found ?? self.found)",
                        path: path)
        }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
        }

        mutating func consume(_ char: Unicode.Scalar) -> Bool {
            guard current == UInt8(ascii: char) else { return false }
            position += 1
            return true
        }

        mutating func expect(_ char: Unicode.Scalar, _ what: String) throws {
            guard consume(char) else { throw error(expected: what) }
        }

        /// `{ key: value, ... }` followed only by whitespace.
        mutating func parseDict() throws -> [(key: String, value: Value, offset: Int)] {
            var entries: [(key: String, value: Value, offset: Int)] = []
            skipWhitespace()
            try expect("{", "'{' opening the header dict")
            while true {
                skipWhitespace()
                if consume("}") { break }
                let offset = position
                guard current == UInt8(ascii: "'") || current == UInt8(ascii: "\"") else {
                    throw error(expected: "a quoted key or '}'")
                }
                let key = try parseString()
                skipWhitespace()
                try expect(":", "':' after key '\(key)'")
                skipWhitespace()
                entries.append((key, try parseValue(depth: 0), offset))
                skipWhitespace()
                if consume(",") { continue }
                try expect("}", "',' or '}' after the value of '\(key)'")
                break
            }
            skipWhitespace()
            guard current == nil else { throw error(expected: "only whitespace after the closing '}'") }
            return entries
        }

        mutating func parseValue(depth: Int) throws -> Value {
            guard depth < Self.maxDepth else {
                throw error(expected: "at most \(Self.maxDepth) levels of nested tuples and lists")
            }
            guard let byte = current else { throw error(expected: "a value") }
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "("):
                position += 1
                let (items, sawComma) = try parseItems(close: ")", depth: depth + 1)
                // `(x)` is a parenthesized expression, not a tuple.
                return items.count == 1 && !sawComma ? items[0] : .tuple(items)
            case UInt8(ascii: "["):
                position += 1
                return .list(try parseItems(close: "]", depth: depth + 1).items)
            case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .int(try parseInt())
            default:
                return .bool(try parseBool())
            }
        }

        /// Comma-separated values up to `close` (the opening bracket already consumed).
        mutating func parseItems(close: Unicode.Scalar, depth: Int) throws -> (items: [Value], sawComma: Bool) {
            var items: [Value] = []
            var sawComma = false
            skipWhitespace()
            while !consume(close) {
                items.append(try parseValue(depth: depth))
                skipWhitespace()
                if consume(",") {
                    sawComma = true
                    skipWhitespace()
                    continue
                }
                try expect(close, "',' or '\(close)'")
                break
            }
            return (items, sawComma)
        }

        /// A quoted string without escapes or line breaks.
        mutating func parseString() throws -> String {
            let start = position
            let quote = bytes[position]
            position += 1
            while let byte = current, byte != quote {
                if byte == UInt8(ascii: "\\") { throw error(expected: "a string without escape sequences") }
                if byte == 0x0A || byte == 0x0D { break }
                position += 1
            }
            guard current == quote else {
                throw error(expected: "a closing quote for the string opened at byte \(start)")
            }
            let content = bytes[(start + 1)..<position]
            position += 1
            if utf8 { return String(decoding: content, as: UTF8.self) }
            return String(String.UnicodeScalarView(content.map { Unicode.Scalar($0) }))
        }

        /// A decimal integer with an optional sign, which must fit in `Int`.
        mutating func parseInt() throws -> Int {
            let start = position
            let negative = consume("-")
            if !negative { _ = consume("+") }
            guard let first = current, (0x30...0x39).contains(first) else { throw error(expected: "a digit") }
            var magnitude = 0
            while let byte = current, (0x30...0x39).contains(byte) {
                let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - 0x30))
                guard !overflow1, !overflow2 else {
                    throw error(expected: "an integer that fits in 64 bits", at: start, found: "a longer one")
                }
                magnitude = sum
                position += 1
            }
            return negative ? -magnitude : magnitude
        }

        /// `True` or `False`; any other word is an error naming it.
        mutating func parseBool() throws -> Bool {
            let start = position
            while let byte = current, byte == UInt8(ascii: "_") || (0x30...0x39).contains(byte)
                || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) {
                position += 1
            }
            let word = String(decoding: bytes[start..<position], as: UTF8.self)
            switch word {
            case "True": return true
            case "False": return false
            case "":
                throw error(expected: "a value (string, integer, True, False, tuple or list)")
            default:
                throw error(expected: "a value (string, integer, True, False, tuple or list)", at: start, found: "'\(word)'")
            }
        }
    }
}
