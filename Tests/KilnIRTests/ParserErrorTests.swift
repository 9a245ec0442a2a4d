import Foundation
import KilnIR
import KilnTensor
import Testing

/// One test per error kind the `.kir` parser reports: kind, line, column, a key phrase, and the
/// `file:line:col: error:` prefix. Texts are written so the column of the fault is easy to count.
@Suite struct ParserErrorTests {
    // MARK: Lexical

    @Test func unexpectedCharacter() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) $\n  return %y\n}\n",
                         .unexpectedCharacter, line: 2, column: 17, "unexpected character '$'")
        expectParseError("graph @f(%x: f32[2]) {\n  % = relu(%x)\n}\n",
                         .unexpectedCharacter, line: 2, column: 3, "expected a name after '%'")
        // Columns count characters, not bytes.
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) loc(\"é\") é\n}\n",
                         .unexpectedCharacter, line: 2, column: 26, "byte 0xc3")
    }

    @Test func unknownEscapeInString() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) loc(\"é\\q\")\n}\n",
                         .unexpectedCharacter, line: 2, column: 23, "unknown escape '\\q'")
        // A backslash at the end of a line is reported where it stands, not on the next line.
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) loc(\"ab\\\n\")\n}\n",
                         .unexpectedCharacter, line: 2, column: 24, "unknown escape '\\' followed by byte 0xa")
    }

    @Test func unterminatedString() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) loc(\"abc\n  return %y\n}\n",
                         .unterminatedString, line: 2, column: 21, "string is not closed")
        expectParseError("sidecar \"weights.bin", .unterminatedString, line: 1, column: 9, "string is not closed")
    }

    @Test func expectedToken() {
        expectParseError("graph f(%x: f32[2]) {\n}\n", .expectedToken, line: 1, column: 7,
                         "expected the graph name like @forward after 'graph', found 'f'")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x\n  return %y\n}\n", .expectedToken, line: 3, column: 3,
                         "expected ')' after the arguments of relu, found 'return'")
        expectParseError("graph @f(%x: f32[2]) {\n  return %x\n", .expectedToken, line: 3, column: 1,
                         "expected '}' after the return statement, found end of file")
        expectParseError("graph @f(%x: f32[2]) {\n  return %x\n}\n}\n", .expectedToken, line: 4, column: 1,
                         "expected end of file after the graph, found '}'")
        expectParseError("graph @f(%x: f32[2]) {\n  %c = constant f32[1] [1.0]\n  return %c\n}\n", .expectedToken,
                         line: 2, column: 24, "expected 'dense [...]' or 'sidecar(offset=..., bytes=...)'")
    }

    @Test func badVersion() {
        expectParseError("kir 2\ngraph @f(%x: f32[2]) {\n  return %x\n}\n", .badVersion, line: 1, column: 5,
                         "this Kiln reads .kir version 1, the file is version 2")
    }

    @Test func badNumber() {
        expectParseError("graph @f(%x: f32[99999999999999999999]) {\n  return %x\n}\n", .badNumber, line: 1, column: 18,
                         "dimension 99999999999999999999 does not fit in 64 bits")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = mul.Scalar(%x, other=1e)\n  return %y\n}\n", .badNumber,
                         line: 2, column: 29, "expected digits in the exponent")
        expectParseError("graph @f(%x: f32[12ab]) {\n  return %x\n}\n", .badNumber, line: 1, column: 18,
                         "invalid number '12a'")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) #-1\n  return %y\n}\n", .badNumber, line: 2, column: 17,
                         "debug handles are non-negative, got -1")
        expectParseError("symbol s in 1...4\ngraph @f(%x: f32[floordiv(s, 0)]) {\n  return %x\n}\n", .badNumber,
                         line: 2, column: 30, "floordiv needs a positive divisor, got 0")
        expectParseError("graph @f(%x: f32[4611686018427387904 * 4]) {\n  return %x\n}\n", .badNumber, line: 1, column: 18,
                         "dimension arithmetic overflows")
        expectParseError("graph @f(%x: f32[2]) {\n  %c = constant f32[1] dense [0x1ffffffff]\n  return %c\n}\n", .denseData,
                         line: 2, column: 31, "bit pattern wider than 32 bits")
        expectParseError("graph @f(%x: f32[0x]) {\n  return %x\n}\n", .badNumber, line: 1, column: 18,
                         "invalid hexadecimal literal")
    }

    // MARK: Names

    @Test func unknownOp() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = reluu(%x)\n  return %y\n}\n", .unknownOp, line: 2, column: 8,
                         "unknown op 'reluu'")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = add(%x, %x)\n  return %y\n}\n", .unknownOp, line: 2, column: 8,
                         "did you mean 'add.Scalar' or 'add.Tensor'")
    }

    @Test func unknownValue() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%z)\n  return %y\n}\n", .unknownValue, line: 2, column: 13,
                         "%z is not defined")
        expectParseError("graph @f(%x: f32[2]) {\n  return %x, %nope\n}\n", .unknownValue, line: 2, column: 14,
                         "%nope is not defined")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = cat([%x, %q])\n  return %y\n}\n", .unknownValue, line: 2, column: 17,
                         "%q is not defined")
    }

    @Test func unknownDType() {
        expectParseError("graph @f(%x: f33[2]) {\n  return %x\n}\n", .unknownDType, line: 1, column: 14,
                         "unknown dtype 'f33' (expected one of f32, f16, bf16, i64, i32, i16, i8, u8, bool)")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = softmax.int(%x, dim=0, dtype=q8)\n  return %y\n}\n", .unknownDType,
                         line: 2, column: 31, "unknown dtype 'q8'")
    }

    @Test func unknownSymbol() {
        expectParseError("symbol s in 1...4\ngraph @f(%x: f32[n, 2]) {\n  return %x\n}\n", .unknownSymbol, line: 2, column: 18,
                         "unknown symbol 'n'; declare it with 'symbol n in LO...HI'")
    }

    // MARK: Arguments

    @Test func unknownArgument() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x, alpha=2)\n  return %y\n}\n", .unknownArgument,
                         line: 2, column: 17, "relu has no argument 'alpha' (it has: self)")
    }

    @Test func duplicateArgument() {
        expectParseError("graph @f(%x: f32[2, 3], %w: f32[4, 3]) {\n  %y = linear(%x, %w, input=%x)\n  return %y\n}\n",
                         .duplicateArgument, line: 2, column: 23, "argument 'input' of linear is given twice")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = mul.Scalar(%x, other=1, other=2)\n  return %y\n}\n",
                         .duplicateArgument, line: 2, column: 32, "argument 'other' of mul.Scalar is given twice")
    }

    @Test func missingArgument() {
        expectParseError("graph @f(%x: f32[2, 3]) {\n  %y = linear(%x)\n  return %y\n}\n", .missingArgument,
                         line: 2, column: 8, "linear needs argument 'weight' (Tensor); signature: linear(Tensor input")
        expectParseError("graph @f(%x: f32[2, 3]) {\n  %y = view_copy(%x) : f32[6]\n  return %y\n}\n", .missingArgument,
                         line: 2, column: 8, "view_copy needs argument 'size' (int[])")
    }

    @Test func positionalArgument() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x, %x)\n  return %y\n}\n", .positionalArgument,
                         line: 2, column: 17, "relu takes 1 tensor arguments, 2 given")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = view_copy(size=[2], %x)\n  return %y\n}\n", .positionalArgument,
                         line: 2, column: 28, "positional arguments must come before name=value arguments")
    }

    @Test func argumentKind() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = view_copy(%x, size=3)\n  return %y\n}\n", .argumentKind,
                         line: 2, column: 22, "argument 'size' of view_copy expects int[], got the integer 3")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(3)\n  return %y\n}\n", .argumentKind,
                         line: 2, column: 13, "argument 'self' of relu expects Tensor, got the integer 3")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = view_copy(%x, size=[2, %x])\n  return %y\n}\n", .argumentKind,
                         line: 2, column: 22, "expects int[], got a list with a non-integer element")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = softmax.int(%x, dim=0.5)\n  return %y\n}\n", .argumentKind,
                         line: 2, column: 24, "argument 'dim' of softmax.int expects int, got the float 0.5")
    }

    // MARK: Constants

    @Test func denseDataCount() {
        expectParseError("graph @f() {\n  %c = constant f32[3] dense [1, 2]\n  return %c\n}\n", .denseData, line: 2, column: 30,
                         "constant %c of type f32[3] has 3 elements, 2 given")
        expectParseError("graph @f() {\n  %c = constant f32[3] dense [1, 2, 3, 4]\n  return %c\n}\n", .denseData, line: 2, column: 40,
                         "has 3 elements; more are given")
        expectParseError("graph @f() {\n  %c = constant f32[2] dense [1, ]\n  return %c\n}\n", .expectedToken, line: 2, column: 34,
                         "expected an element in the data of constant %c, found ']'")
    }

    @Test func denseDataRange() {
        expectParseError("graph @f() {\n  %c = constant i8[1] dense [200]\n  return %c\n}\n", .denseData, line: 2, column: 30,
                         "element '200' of constant %c (i8): out of range -128...127")
        expectParseError("graph @f() {\n  %c = constant u8[1] dense [-1]\n  return %c\n}\n", .denseData, line: 2, column: 30,
                         "element '-1' of constant %c (u8): out of range 0...255")
        expectParseError("graph @f() {\n  %c = constant bool[1] dense [2.5]\n  return %c\n}\n", .denseData, line: 2, column: 32,
                         "expected true or false")
        expectParseError("graph @f() {\n  %c = constant i64[1] dense [-9223372036854775809]\n  return %c\n}\n", .denseData,
                         line: 2, column: 31, "element '-9223372036854775809' of constant %c (i64): out of range")
        expectParseError("graph @f() {\n  %c = constant i32[1] dense [1.5]\n  return %c\n}\n", .denseData, line: 2, column: 31,
                         "expected an integer")
    }

    @Test func sidecarWithoutSidecarLine() {
        expectParseError("graph @f() {\n  %c = constant f32[2] sidecar(offset=0, bytes=8)\n  return %c\n}\n", .sidecar,
                         line: 2, column: 24, "is in a sidecar file, but the text names none (add: sidecar \"FILE\")")
    }

    @Test func sidecarByteCountMismatch() {
        expectParseError("sidecar \"w.bin\"\ngraph @f() {\n  %c = constant f32[2] sidecar(offset=0, bytes=4)\n  return %c\n}\n",
                         .sidecar, line: 3, column: 24, "is f32[2] (8 bytes), sidecar entry says 4 bytes")
        expectParseError("sidecar \"w.bin\"\ngraph @f() {\n  %c = constant f32[2] sidecar(offset=2, bytes=8)\n  return %c\n}\n",
                         .sidecar, line: 3, column: 24, "offset 2 is not a multiple of the f32 element size")
    }

    @Test func sidecarWithNoResolver() {
        expectParseError("sidecar \"w.bin\"\ngraph @f() {\n  %c = constant f32[2] sidecar(offset=0, bytes=8)\n  return %c\n}\n",
                         .sidecar, line: 3, column: 24, "needs sidecar file \"w.bin\", and no file was given to read it from")
    }

    @Test func sidecarFileMissingOrTooShort() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "m.kir"
            let text = "kir 1\nsidecar \"m.kir.bin\"\n\ngraph @f() {\n  %c = constant f32[2] sidecar(offset=64, bytes=8)\n  return %c\n}\n"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let missing = try #require(throws: IRError.self) { try KIRFile.read(path: path) }
            #expect(missing.kind == .sidecar)
            #expect(missing.line == 2 && missing.column == 1)
            #expect(missing.message.contains("cannot open sidecar \"m.kir.bin\""), "\(missing)")
            #expect(missing.description.hasPrefix("\(path):2:1: error: "))

            try Data(repeating: 0, count: 16).write(to: URL(fileURLWithPath: path + ".bin"))
            let short = try #require(throws: IRError.self) { try KIRFile.read(path: path) }
            #expect(short.kind == .sidecar)
            #expect(short.line == 5 && short.column == 24)
            #expect(short.message.contains("bytes 64..<72 are past the end of the file (16 bytes)"), "\(short)")
            #expect(short.description.hasPrefix("\(path):5:24: error: "))
        }
    }

    @Test func dynamicConstant() {
        expectParseError("symbol s in 1...4\ngraph @f() {\n  %c = constant f32[s] dense []\n  return %c\n}\n", .dynamicConstant,
                         line: 3, column: 17, "constant %c has symbolic shape f32[s]; constants must be static")
    }

    // MARK: Graph structure

    @Test func duplicateName() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x)\n  %y = relu(%x)\n  return %y\n}\n", .duplicateName,
                         line: 3, column: 3, "value %y is defined more than once")
        expectParseError("graph @f(%x: f32[2], %x: f32[3]) {\n  return %x\n}\n", .duplicateName, line: 1, column: 22,
                         "value %x is defined more than once")
        expectParseError("graph @f(%x: f32[2]) {\n  %a, %a = quantized_decomposed.choose_qparams_per_token_asymmetric(%x, dtype=i8)\n"
                            + "  return %a\n}\n", .duplicateName, line: 2, column: 7, "value %a is defined more than once")
        expectParseError("graph @f(%x: f32[2]) {\n  %x = constant f32[1] dense [0]\n  return %x\n}\n", .duplicateName,
                         line: 2, column: 3, "value %x is defined more than once")
    }

    @Test func duplicateHandle() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) #4\n  %z = relu(%y) #4\n  return %z\n}\n", .duplicateHandle,
                         line: 3, column: 17, "debug handle #4 is used by an earlier node")
        // An explicit handle may not reuse one given to an earlier node without one.
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x)\n  %z = relu(%y) #0\n  return %z\n}\n", .duplicateHandle,
                         line: 3, column: 17, "debug handle #0 is used by an earlier node")
        // After the largest handle there is none left to give a node without one.
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) #9223372036854775806\n  %z = relu(%y)\n  %w = relu(%z)\n"
                            + "  return %w\n}\n", .duplicateHandle,
                         line: 4, column: 8, "no debug handle is free after #9223372036854775807")
    }

    @Test func symbolRange() {
        expectParseError("symbol s in 5...2\ngraph @f(%x: f32[s]) {\n  return %x\n}\n", .symbolRange, line: 1, column: 8,
                         "symbol s has range 5...2; expected 0 <= lower <= upper")
        expectParseError("symbol s in -1...2\ngraph @f(%x: f32[s]) {\n  return %x\n}\n", .symbolRange, line: 1, column: 8,
                         "symbol s has range -1...2")
    }

    @Test func duplicateSymbol() {
        expectParseError("symbol s in 1...4\nsymbol s in 1...4\ngraph @f(%x: f32[s]) {\n  return %x\n}\n", .duplicateSymbol,
                         line: 2, column: 8, "symbol s is declared twice")
    }

    @Test func noOutputs() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x)\n}\n", .noOutputs, line: 3, column: 1,
                         "graph @f has no 'return'")
    }

    @Test func resultType() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) : f32[3]\n  return %y\n}\n", .resultType, line: 2, column: 8,
                         "result 0 is declared f32[3], but relu gives f32[2]")
    }

    @Test func resultCount() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y, %z = relu(%x)\n  return %y\n}\n", .resultCount, line: 2, column: 12,
                         "relu has 1 result, 2 names given")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) : f32[2], f32[2]\n  return %y\n}\n", .resultCount,
                         line: 2, column: 8, "relu has 1 result, 2 types given")
        expectParseError("graph @f() {\n  %a, %b = constant f32[1] dense [0]\n  return %a\n}\n", .resultCount, line: 2, column: 7,
                         "a constant defines one value")
    }

    @Test func opRule() {
        let text = "graph @f(%x: f32[2, 3], %w: f32[4, 5]) {\n  %y = linear(%x, %w) loc(\"fc\")\n  return %y\n}\n"
        expectParseError(text, .opRule, line: 2, column: 8, "linear: argument 'weight': in_features (weight dim 1) is 5, expected 3")
        let error = try? #require(throws: IRError.self) { try parse(text) }
        #expect(error?.subject == "linear (#0, loc(\"fc\"))")
    }

    @Test func negativeDim() {
        expectParseError("symbol s in 1...4\ngraph @f(%x: f32[s - 2]) {\n  return %x\n}\n", .negativeDim, line: 2, column: 10,
                         "input %x has dimension s - 2, which can be negative")
        expectParseError("graph @f(%x: f32[-1]) {\n  return %x\n}\n", .negativeDim, line: 1, column: 10,
                         "input %x has dimension -1, which can be negative")
    }

    // MARK: Files

    @Test func ioErrorForAMissingFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "nope.kir"
            let error = try #require(throws: IRError.self) { try KIRFile.read(path: path) }
            #expect(error.kind == .io)
            #expect(error.file == path && error.line == nil && error.column == nil)
            #expect(error.message.hasPrefix("cannot read: cannot open: "), "\(error)")
            #expect(error.description.hasPrefix("\(path): error: cannot read:"))
        }
    }

    @Test func ioErrorForAnUnwritablePath() throws {
        let graph = try makeGraph { b in [try b.input("x", t(.float32, 1))] }
        try withTemporaryDirectory { dir in
            let error = try #require(throws: IRError.self) { try KIRFile.write(graph, to: dir + "no/such/folder/m.kir") }
            #expect(error.kind == .io)
            #expect(error.message.hasPrefix("cannot write: "), "\(error)")
        }
    }

    // MARK: Descriptions

    @Test func descriptionWithoutAFileStartsWithTheLine() {
        let error = try? #require(throws: IRError.self) { try parse("kir 3\n") }
        #expect(error?.description == "1:5: error: this Kiln reads .kir version 1, the file is version 3")
    }

    @Test func everyParserKindHasATest() {
        // Kinds only the verifier reports (the parser's graphs are built by GraphBuilder, which
        // never makes them); every other kind has a test above.
        let verifierOnly: Set<IRError.Kind> = [.invalidName, .undefinedValue, .arity, .constantData]
        let tested: Set<IRError.Kind> = [
            .unexpectedCharacter, .unterminatedString, .expectedToken, .badVersion, .badNumber, .unknownOp,
            .unknownValue, .unknownDType, .unknownSymbol, .unknownArgument, .duplicateArgument, .missingArgument,
            .positionalArgument, .argumentKind, .denseData, .sidecar, .duplicateName, .negativeDim, .opRule,
            .resultCount, .resultType, .dynamicConstant, .symbolRange, .duplicateSymbol, .noOutputs, .duplicateHandle, .io,
        ]
        #expect(Set(IRError.Kind.allCases).subtracting(verifierOnly).subtracting(tested).isEmpty)
    }
}
