import Foundation
import KilnIR
import KilnOps
import KilnTensor
import Testing

/// `parse(print(g)) == g` and `print(parse(print(g))) == print(g)` for every op, every dtype's
/// constants, symbolic dims, sidecar files, comments and odd whitespace, and escaped locations.
@Suite struct RoundTripTests {
    @Test(arguments: OpCase.all)
    func opRoundTrips(_ c: OpCase) throws {
        try expectRoundTrip(try c.graph())
    }

    @Test func everyOpHasARoundTripCase() throws {
        var used = Set<String>()
        for c in OpCase.all {
            used.formUnion(try c.graph().nodes.map(\.op.name))
        }
        let missing = OpTable.all.map(\.name).filter { !used.contains($0) }
        #expect(missing.isEmpty, "ops with no round-trip case in OpRoundTripCases.swift: \(missing)")
    }

    @Test func nonDefaultAttributesArePrintedAsKeywords() throws {
        let text = KIRPrinter.print(try OpCase.graph("transposed grouped convolution"))
        #expect(text.contains("convolution(%img, %cw, stride=[2, 2], transposed=true, output_padding=[1, 1], groups=2)"))
        let defaults = KIRPrinter.print(try OpCase.graph("sub.Tensor with default alpha"))
        #expect(defaults.contains("sub.Tensor(%x, %y) : i8[4] #0"))
    }

    @Test func absentOptionalTensorsPrintAsNoneOnlyBeforeAPresentOne() throws {
        let text = KIRPrinter.print(try OpCase.graph("batch_norm without weight and bias"))
        #expect(text.contains("batch_norm(%x, none, none, %mean, %var, momentum=0.2, eps=0.001, cudnn_enabled=false)"))
        let trailing = KIRPrinter.print(try OpCase.graph("linear without bias, symbolic batch"))
        #expect(trailing.contains("linear(%x, %w) : f32[1, seq, 2]"))
    }

    @Test func multiResultOpsPrintEveryResult() throws {
        let graph = try OpCase.graph("_native_batch_norm_legit_no_training, three results")
        let text = try expectRoundTrip(graph)
        #expect(text.contains(
            "%y, %saved_mean, %saved_invstd = _native_batch_norm_legit_no_training(%x, %w, none, %mean, %var, momentum=0.1, eps=1e-05)"
                + " : f32[1, 2, 3, 3], f32[0], f32[0] #0 loc(\"bn1\")"))
        #expect(text.contains("return %y, %saved_mean, %saved_invstd\n"))
    }

    // MARK: Symbols

    @Test func symbolicDimsRoundTrip() throws {
        let seq = Dim(seqSymbol)
        let len = Dim(Symbol("len", range: 0...7))
        let graph = try makeGraph { b in
            b.symbol("seq", range: 1...128)
            b.symbol("len", range: 0...7)
            let x = try b.input("x", TensorType(.float32, [try seq * 2 + 1, try (seq + 1).floorDivided(by: 2), 3]))
            let y = try b.input("y", TensorType(.int8, [try seq * len, try Dim(130) - seq, try len * 3 + seq]))
            return [try b.call("relu", [x])[0], try b.call("neg", [y])[0]]
        }
        let text = try expectRoundTrip(graph)
        #expect(text.contains("symbol seq in 1...128\nsymbol len in 0...7\n"))
        #expect(text.contains("%x: f32[2*seq + 1, floordiv(seq + 1, 2), 3]"))
        #expect(text.contains("%y: i8[len*seq, -seq + 130, 3*len + seq]"))
    }

    @Test(arguments: [
        ("seq*2 + 1", "2*seq + 1"),
        ("1+seq+seq", "2*seq + 1"),
        ("(seq + 1) * 2 - 1", "2*seq + 1"),
        ("floordiv(seq+1,2)", "floordiv(seq + 1, 2)"),
        ("floordiv(2*seq + 4, 2)", "seq + 2"),
        ("floordiv(7, 2)", "3"),
        ("seq - seq + 4", "4"),
        ("-(-seq)", "seq"),
    ])
    func dimExpressionsParseToTheirNormalForm(_ written: String, _ canonical: String) throws {
        let graph = try parse("symbol seq in 1...128\ngraph @f(%x: f32[\(written)]) {\n  return %x\n}\n")
        #expect(graph.type(of: graph.inputs[0]).shape[0].description == canonical)
        try expectRoundTrip(graph)
    }

    // MARK: Constants

    @Test func everyDTypeRoundTripsInline() throws {
        let f32: [Float] = [1.5, -0.0, 0.0, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FC0_0001),
                            Float(bitPattern: 0xFFC0_0000), .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1]
        let f16: [Float16] = [0.1, -0.0, 65504, .infinity, -.infinity, .nan, Float16(bitPattern: 0x7E01),
                              .leastNonzeroMagnitude]
        let bf16: [BFloat16] = [BFloat16(1.0 / 3.0), BFloat16(-0.0), BFloat16(.infinity), BFloat16(-.infinity),
                                BFloat16(.nan), BFloat16(bitPattern: 0x7F81), BFloat16(bitPattern: 0xFFC0),
                                BFloat16(bitPattern: 0x0001)]
        let graph = try makeGraph { b in
            [
                try b.constant("f32", try Tensor(f32, shape: [f32.count])),
                try b.constant("f16", try Tensor(f16, shape: [2, 4])),
                try b.constant("bf16", try Tensor(bf16, shape: [4, 2])),
                try b.constant("i64", try Tensor([Int64.min, Int64.max, 0, -1], shape: [2, 2])),
                try b.constant("i32", try Tensor([Int32.min, Int32.max, 7], shape: [3])),
                try b.constant("i16", try Tensor([Int16.min, Int16.max], shape: [2])),
                try b.constant("i8", try Tensor([Int8.min, Int8.max, 0], shape: [3, 1])),
                try b.constant("u8", try Tensor([UInt8.min, UInt8.max], shape: [2])),
                try b.constant("bool", try Tensor([true, false, true], shape: [3])),
                try b.constant("scalar", try Tensor([Float(2)], shape: [])),
                try b.constant("empty", try Tensor([Float](), shape: [0, 3])),
            ]
        }
        let text = try expectRoundTrip(graph)
        let lines = text.split(separator: "\n").map(String.init)
        func line(_ name: String) -> String { lines.first { $0.hasPrefix("  %\(name) = ") } ?? "" }
        #expect(line("f32") == "  %f32 = constant f32[11] dense [1.5, -0.0, 0.0, inf, -inf, nan, 0x7fc00001, 0xffc00000, "
            + "1e-45, 3.4028235e+38, 0.1]")
        #expect(line("f16") == "  %f16 = constant f16[2, 4] dense [0.1, -0.0, 65504.0, inf, -inf, nan, 0x7e01, 6e-08]")
        #expect(line("bf16") == "  %bf16 = constant bf16[4, 2] dense [0.33398438, -0.0, inf, -inf, nan, 0x7f81, 0xffc0, 9.1835e-41]")
        #expect(line("i64") == "  %i64 = constant i64[2, 2] dense [-9223372036854775808, 9223372036854775807, 0, -1]")
        #expect(line("i32") == "  %i32 = constant i32[3] dense [-2147483648, 2147483647, 7]")
        #expect(line("i16") == "  %i16 = constant i16[2] dense [-32768, 32767]")
        #expect(line("i8") == "  %i8 = constant i8[3, 1] dense [-128, 127, 0]")
        #expect(line("u8") == "  %u8 = constant u8[2] dense [0, 255]")
        #expect(line("bool") == "  %bool = constant bool[3] dense [true, false, true]")
        #expect(line("scalar") == "  %scalar = constant f32[] dense [2.0]")
        #expect(line("empty") == "  %empty = constant f32[0, 3] dense []")

        // NaN payloads survive bit for bit.
        let parsed = try parse(text)
        let bits = parsed[parsed.constants[0]].constantData!.scalars(as: Float.self).map(\.bitPattern)
        #expect(bits == f32.map(\.bitPattern))
    }

    @Test func handWrittenElementsParseToTheRightBits() throws {
        let graph = try parse("""
            graph @f() {
              %a = constant f32[4] dense [1, -2, 1e3, -nan]
              %b = constant bf16[2] dense [0.1, -inf]
              %c = constant bool[3] dense [1, 0, true]
              %d = constant f16[1] dense [0x3c00]
              return %a, %b, %c, %d
            }
            """)
        let a = graph[graph.constants[0]].constantData!.scalars(as: Float.self)
        #expect(Array(a.prefix(3)) == [1, -2, 1000])
        #expect(a[3].isNaN && a[3].sign == .minus)
        #expect(graph[graph.constants[1]].constantData!.scalars(as: BFloat16.self) == [BFloat16(Float(0.1)), BFloat16(-.infinity)])
        #expect(graph[graph.constants[2]].constantData!.scalars(as: Bool.self) == [true, false, true])
        #expect(graph[graph.constants[3]].constantData!.scalars(as: Float16.self) == [1])
        try expectRoundTrip(graph)
    }

    @Test func sidecarConstantsRoundTripThroughFiles() throws {
        let graph = try makeGraph { b in
            let x = try b.input("x", t(.float32, 1, 16))
            let w1 = try b.constant("w1", try counting(.float32, [8, 16]))      // 512 bytes: sidecar
            let odd = try b.constant("odd", try counting(.float16, [3, 50]))     // 300 bytes: sidecar, odd size
            let bytes = try b.constant("bytes", try counting(.uint8, [257]))    // 257 bytes: sidecar
            let bias = try b.constant("b1", try counting(.float32, [8]))        // 32 bytes: inline
            let y = try b.call("linear", [x, w1, bias], location: "fc1")[0]
            return [y, odd, bytes]
        }
        try withTemporaryDirectory { dir in
            let path = dir + "model.kir"
            try KIRFile.write(graph, to: path)
            #expect(FileManager.default.fileExists(atPath: path + ".bin"))
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasPrefix("kir 1\nsidecar \"model.kir.bin\"\n"))
            #expect(text.contains("%b1 = constant f32[8] dense ["))

            let entries = try Regex(#"sidecar\(offset=(\d+), bytes=(\d+)\)"#)
            let offsets = text.matches(of: entries).map { Int($0.output[1].substring!)! }
            let sizes = text.matches(of: entries).map { Int($0.output[2].substring!)! }
            #expect(offsets == [0, 512, 832])
            #expect(sizes == [512, 300, 257])
            #expect(offsets.allSatisfy { $0 % KIRPrinter.sidecarAlignment == 0 })
            let sidecarSize = try FileManager.default.attributesOfItem(atPath: path + ".bin")[.size] as? Int
            #expect(sidecarSize == 832 + 257)

            let read = try KIRFile.read(path: path)
            #expect(read == graph)
            for id in read.constants {
                let data = try #require(read[id].constantData)
                #expect(data.isBorrowed == (data.byteCount > KIRFile.defaultSidecarThreshold), "\(read[id].name)")
            }
            #expect(KIRPrinter.print(read) == KIRPrinter.print(graph))

            // Written again from the borrowed tensors, the files are the same bytes.
            let again = dir + "again.kir"
            try KIRFile.write(read, to: again)
            #expect(try Data(contentsOf: URL(fileURLWithPath: again + ".bin")) == Data(contentsOf: URL(fileURLWithPath: path + ".bin")))
        }
    }

    @Test func graphsWithoutLargeConstantsWriteNoSidecar() throws {
        let graph = try makeGraph { b in [try b.constant("c", try counting(.float32, [4]))] }
        try withTemporaryDirectory { dir in
            try KIRFile.write(graph, to: dir + "small.kir")
            #expect(!FileManager.default.fileExists(atPath: dir + "small.kir.bin"))
            #expect(try KIRFile.read(path: dir + "small.kir") == graph)
        }
    }

    // MARK: Text details

    @Test func commentsAndOddWhitespaceParseToTheSameGraph() throws {
        let canonical = """
            kir 1
            symbol seq in 1...128

            graph @forward(%x: f32[1, seq, 4], %y: f32[4]) {
              %w = constant f32[2, 4] dense [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
              %0 = linear(%x, %w) : f32[1, seq, 2] #0 loc("fc")
              %1 = add.Tensor(%x, %y, alpha=2) : f32[1, seq, 4] #1
              return %0, %1
            }

            """
        let odd = "// a header comment\r\n kir  1 // version\r\n\tsymbol seq\tin 1 ... 128\n\n\n"
            + "graph@forward(%x:f32[1,seq,4],// inputs\n%y : f32 [ 4 ]){\n"
            + "%w=constant f32[2,4]dense[1,2,3,4,// row 1\n5,6,7,8]\n"
            + "  // a comment line\n"
            + "%0=linear(%x,%w):f32[1,seq,2]#0 loc ( \"fc\" )\r\n"
            + "\t\t%1 = add.Tensor( %x , %y , alpha = 2 ) # 1\n"
            + "return %0 ,%1 } // trailing"
        let expected = try parse(canonical)
        #expect(try parse(odd) == expected)
        #expect(KIRPrinter.print(try parse(odd)) == canonical)
    }

    @Test(arguments: ["plain", "quote\"inside", "back\\slash", "new\nline", "tab\there", "all \"\\\n\t of them \\\"",
                      "unicode: é → ✓", "", "model.layers.0/attn:12"])
    func locationsWithEscapesRoundTrip(_ location: String) throws {
        let graph = try makeGraph { b in try b.call("relu", [try b.input("x", t(.float32, 1))], location: location) }
        let text = try expectRoundTrip(graph)
        #expect(try parse(text).nodes[0].location?.text == location)
        // Newlines and tabs are escaped: the node stays on one line of plain text.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 7)
        #expect(lines[3].hasPrefix("  %0 = relu(%x) : f32[1] #0 loc(\"") && lines[3].hasSuffix("\")"))
        #expect(!lines[3].contains("\t"))
    }

    @Test func graphWithoutHeaderParses() throws {
        let graph = try parse("graph @g(%a: i32[2]) {\n  %b = neg(%a)\n  return %b\n}")
        #expect(graph.name == "g")
        #expect(KIRPrinter.print(graph) == "kir 1\n\ngraph @g(%a: i32[2]) {\n  %b = neg(%a) : i32[2] #0\n  return %b\n}\n")
    }

    @Test func handlesAndNamesAreKept() throws {
        let graph = try parse("""
            graph @g(%a: i32[2]) {
              %first = neg(%a) #7 loc("one")
              %second = neg(%first)
              %2 = neg(%second) #3
              return %2, %a
            }
            """)
        #expect(graph.nodes.map(\.debugHandle) == [7, 8, 3])
        #expect(graph.nodes.map { graph[$0.results[0]].name } == ["first", "second", "2"])
        try expectRoundTrip(graph)

        let extreme = try parse("graph @g(%a: i32[2]) {\n  %b = neg(%a) #9223372036854775806\n  %c = neg(%b)\n  return %c\n}")
        #expect(extreme.nodes.map(\.debugHandle) == [Int.max - 1, Int.max])
        #expect(extreme.nextDebugHandle == Int.max)
        try expectRoundTrip(extreme)
    }
}
