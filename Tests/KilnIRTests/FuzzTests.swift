import KilnIR
import KilnTensor
import Testing

/// Random edits of canonical text: every outcome must be a graph or an IRError with a position.
@Suite struct FuzzTests {
    /// Bytes worth inserting: the text form's punctuation, digits, escapes, non-ASCII and invalid UTF-8.
    static let alphabet = Array("%@#[](){},:=*+-./\\\"0123456789aefinx_ \n\t".utf8) + [0xC3, 0xA9, 0xFF, 0x00]

    /// Applies one random edit to `bytes`.
    static func mutate(_ bytes: inout [UInt8], _ rng: inout SeededGenerator) {
        guard !bytes.isEmpty else { bytes = [alphabet.randomElement(using: &rng)!]; return }
        let at = Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:  // delete a short run
            bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...4, using: &rng)))
        case 1:  // insert a byte
            bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
        case 2:  // replace a byte
            bytes[at] = alphabet.randomElement(using: &rng)!
        case 3:  // swap two whitespace-separated tokens
            var words = bytes.split(separator: 0x20, omittingEmptySubsequences: false).map(Array.init)
            let i = Int.random(in: 0..<words.count, using: &rng), j = Int.random(in: 0..<words.count, using: &rng)
            words.swapAt(i, j)
            bytes = Array(words.joined(separator: [0x20]))
        case 4:  // duplicate a line
            var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
            let i = Int.random(in: 0..<lines.count, using: &rng)
            lines.insert(lines[i], at: i)
            bytes = Array(lines.joined(separator: [0x0A]))
        case 5:  // a number that does not fit
            bytes.insert(contentsOf: Array("99999999999999999999".utf8), at: at)
        default:  // copy a run from elsewhere in the text
            let from = Int.random(in: 0..<bytes.count, using: &rng)
            bytes.insert(contentsOf: bytes[from..<min(bytes.count, from + Int.random(in: 1...12, using: &rng))], at: at)
        }
    }

    @Test(arguments: ["attention.kir", "cnn_block.kir"])
    func mutatedTextParsesOrFailsCleanly(_ name: String) throws {
        let original = Array(try Golden.text(name).utf8)
        var rng = SeededGenerator(seed: 0x4B49_4C4E)
        var parsed = 0
        var kinds = Set<IRError.Kind>()
        for _ in 0..<1000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) { Self.mutate(&bytes, &rng) }
            let text = String(decoding: bytes, as: UTF8.self)
            let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
            do {
                let graph = try KIRParser.parse(text)
                parsed += 1
                // Whatever parses prints canonically and reads back as the same graph.
                let printed = KIRPrinter.print(graph)
                let again = try KIRParser.parse(printed)
                #expect(again == graph, "\(text)")
                #expect(KIRPrinter.print(again) == printed, "\(text)")
            } catch {
                kinds.insert(error.kind)
                let inside = (error.line ?? 0) >= 1 && (error.line ?? 0) <= lineCount && (error.column ?? 0) >= 1
                #expect(inside, "error without a position in the text: \(error)\n\(text)")
            }
        }
        #expect(parsed > 0)
        #expect(kinds.count > 8, "\(kinds)")
    }

    @Test func deepNestingIsRefusedWithoutCrashing() {
        let depth = 20_000
        let texts = [
            "graph @f(%x: f32[2]) {\n  %y = view_copy(%x, size=" + String(repeating: "[", count: depth) + ")\n}\n",
            "graph @f(%x: f32[" + String(repeating: "(", count: depth) + "2]) {\n  return %x\n}\n",
            "graph @f(%x: f32[" + String(repeating: "floordiv(", count: depth) + "2]) {\n  return %x\n}\n",
            "graph @f(%x: f32[" + String(repeating: "-", count: depth) + "2]) {\n  return %x\n}\n",
        ]
        for text in texts {
            #expect(throws: IRError.self) { try KIRParser.parse(text) }
        }
        expectParseError("graph @f(%x: f32[2]) {\n  %y = view_copy(%x, size=" + String(repeating: "[", count: 65) + ")\n}\n",
                         .expectedToken, line: 2, column: 91, "expected at most 64 levels of nesting in an argument, found '['")
        // As deep as the limit still parses.
        let deep = String(repeating: "(", count: 64) + "2" + String(repeating: ")", count: 64)
        #expect(throws: Never.self) { try KIRParser.parse("graph @f(%x: f32[\(deep)]) {\n  return %x\n}\n") }
    }
}
