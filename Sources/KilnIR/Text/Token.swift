/// A lexical token of the `.kir` text form, with the 1-based line and column it starts at.
struct Token: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        /// `%name`
        case value(String)
        /// `@name`
        case global(String)
        /// `name`, `add.Tensor`, `f32`, `true`, `inf`
        case identifier(String)
        case integer(Int)
        /// `0x...`: raw bits, used for NaN payloads in float constants.
        case hex(UInt64)
        /// Digits that do not fit in 64 bits; reported where a number is expected.
        case hugeInteger(String)
        /// A float with its source text (so narrow types parse from the text, not via Double).
        case float(Double, String)
        case string(String)
        /// One of `( ) [ ] { } , : = # * + - ...`
        case punct(String)
        case end
    }

    var kind: Kind
    var line: Int
    var column: Int

    /// How the token reads in "found ..." messages.
    var display: String {
        switch kind {
        case .value(let s): return "'%\(s)'"
        case .global(let s): return "'@\(s)'"
        case .identifier(let s): return "'\(s)'"
        case .integer(let v): return "'\(v)'"
        case .hex(let v): return "'0x\(String(v, radix: 16))'"
        case .hugeInteger(let s): return "'\(s)'"
        case .float(_, let text): return "'\(text)'"
        case .string(let s): return "string \"\(s)\""
        case .punct(let p): return "'\(p)'"
        case .end: return "end of file"
        }
    }
}

/// Splits `.kir` text into tokens. `//` starts a comment that runs to the end of the line.
struct Lexer {
    private let bytes: [UInt8]
    private var offset = 0
    private var line = 1
    private var column = 1

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    /// All tokens, ending with `.end`.
    mutating func tokenize() throws(IRError) -> [Token] {
        var tokens: [Token] = []
        while true {
            let t = try next()
            tokens.append(t)
            if t.kind == .end { return tokens }
        }
    }

    private func peek(_ ahead: Int = 0) -> UInt8? {
        offset + ahead < bytes.count ? bytes[offset + ahead] : nil
    }

    private mutating func advance() {
        if bytes[offset] == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if bytes[offset] & 0xC0 != 0x80 {
            column += 1
        }
        offset += 1
    }

    private static func isIdentStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    private static func isNameChar(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) || c == 0x2E }

    private mutating func next() throws(IRError) -> Token {
        // Whitespace and comments.
        while let c = peek() {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                advance()
            } else if c == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "/") {
                while let d = peek(), d != 0x0A { advance() }
            } else {
                break
            }
        }
        let (startLine, startColumn) = (line, column)
        func token(_ kind: Token.Kind) -> Token { Token(kind: kind, line: startLine, column: startColumn) }
        guard let c = peek() else { return token(.end) }

        if c == UInt8(ascii: "%") || c == UInt8(ascii: "@") {
            advance()
            let name = readWhile(Lexer.isNameChar)
            guard !name.isEmpty else {
                throw IRError(.unexpectedCharacter, "expected a name after '\(Character(UnicodeScalar(c)))'",
                              line: startLine, column: startColumn)
            }
            return token(c == UInt8(ascii: "%") ? .value(name) : .global(name))
        }
        if Lexer.isIdentStart(c) {
            return token(.identifier(readWhile(Lexer.isNameChar)))
        }
        if Lexer.isDigit(c) {
            return token(try readNumber(startLine, startColumn))
        }
        if c == UInt8(ascii: "\"") {
            return token(.string(try readString(startLine, startColumn)))
        }
        if c == UInt8(ascii: "."), peek(1) == UInt8(ascii: "."), peek(2) == UInt8(ascii: ".") {
            advance(); advance(); advance()
            return token(.punct("..."))
        }
        if "()[]{},:=#*+-<>".utf8.contains(c) {
            advance()
            return token(.punct(String(UnicodeScalar(c))))
        }
        let shown = c < 0x80 && c >= 0x20 ? "'\(Character(UnicodeScalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        throw IRError(.unexpectedCharacter, "unexpected character \(shown)", line: startLine, column: startColumn)
    }

    private mutating func readWhile(_ accept: (UInt8) -> Bool) -> String {
        let start = offset
        while let c = peek(), accept(c) { advance() }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    /// `123`, `0x7fc00000`, `1.5`, `1e-05`, `2.5E+10`. A `.` followed by another `.` ends the
    /// number (so `1...128` is `1`, `...`, `128`).
    private mutating func readNumber(_ l: Int, _ c: Int) throws(IRError) -> Token.Kind {
        let start = offset
        if peek() == UInt8(ascii: "0"), peek(1) == UInt8(ascii: "x") || peek(1) == UInt8(ascii: "X") {
            advance(); advance()
            let hex = readWhile { Lexer.isDigit($0) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }
            guard !hex.isEmpty, let v = UInt64(hex, radix: 16) else {
                throw IRError(.badNumber, "invalid hexadecimal literal '0x\(hex)'", line: l, column: c)
            }
            return .hex(v)
        }
        var isFloat = false
        _ = readWhile(Lexer.isDigit)
        if peek() == UInt8(ascii: "."), peek(1) != UInt8(ascii: ".") {
            isFloat = true
            advance()
            _ = readWhile(Lexer.isDigit)
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isFloat = true
            advance()
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { advance() }
            guard let d = peek(), Lexer.isDigit(d) else {
                throw IRError(.badNumber, "expected digits in the exponent of a number", line: l, column: c)
            }
            _ = readWhile(Lexer.isDigit)
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        if let next = peek(), Lexer.isIdentStart(next) {
            throw IRError(.badNumber, "invalid number '\(text)\(Character(UnicodeScalar(next)))'", line: l, column: c)
        }
        if isFloat {
            guard let v = Double(text) else { throw IRError(.badNumber, "invalid number '\(text)'", line: l, column: c) }
            return .float(v, text)
        }
        return Int(text).map(Token.Kind.integer) ?? .hugeInteger(text)
    }

    private mutating func readString(_ l: Int, _ c: Int) throws(IRError) -> String {
        advance()  // opening quote
        var out: [UInt8] = []
        while true {
            guard let ch = peek(), ch != 0x0A else {
                throw IRError(.unterminatedString, "string is not closed before the end of the line", line: l, column: c)
            }
            let (escapeLine, escapeColumn) = (line, column)
            advance()
            if ch == UInt8(ascii: "\"") { break }
            if ch == UInt8(ascii: "\\") {
                guard let e = peek() else { continue }
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(e)
                default:
                    // Reported at the backslash (before a newline would move the position on).
                    let shown = e >= 0x20 && e < 0x7F ? "'\\\(Character(UnicodeScalar(e)))'"
                        : "'\\' followed by byte 0x\(String(e, radix: 16))"
                    throw IRError(.unexpectedCharacter, "unknown escape \(shown) in string",
                                  line: escapeLine, column: escapeColumn)
                }
                advance()
            } else {
                out.append(ch)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Escapes a string for the text form.
func quoted(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out + "\""
}
