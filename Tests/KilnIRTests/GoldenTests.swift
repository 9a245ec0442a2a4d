import Foundation
import KilnIR
import Testing

/// The golden `.kir` files in `Golden/`.
///
/// - `NAME.kir` is canonical: printing what it parses to gives it back byte for byte.
/// - `NAME.input.kir` holds non-canonical cases and `NAME.expected.kir` the canonical form
///   `kiln check` prints for each, split MLIR-style by `// -----` lines, with a `// CASE: label`
///   line per case (the same labels, in the same order, in both files).
enum Golden {
    static let canonical = ["mlp.kir", "cnn_block.kir", "attention.kir"]
    static let paired = ["canonicalize"]

    static func path(_ name: String) throws -> String {
        let folder = try #require(Bundle.module.url(forResource: "Golden", withExtension: nil))
        return folder.appendingPathComponent(name).path
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: path(name), encoding: .utf8)
    }

    static let separator = "\n// -----\n"
    static let labelPrefix = "// CASE: "

    /// One case of a paired file: its label and its text after the label line.
    struct Case {
        var label: String
        var text: String
    }

    /// The cases of a file split by `// -----`; lines before a case's label (a file header) are dropped.
    static func cases(_ name: String) throws -> [Case] {
        try text(name).components(separatedBy: separator).map { chunk in
            var lines = chunk.split(separator: "\n", omittingEmptySubsequences: false)
            let label = try #require(lines.firstIndex { $0.hasPrefix(labelPrefix) }, "a case in \(name) has no label")
            let labelText = String(lines[label].dropFirst(labelPrefix.count))
            lines.removeSubrange(...label)
            return Case(label: labelText, text: lines.joined(separator: "\n"))
        }
    }
}

@Suite struct GoldenTests {
    @Test(arguments: Golden.canonical)
    func canonicalFileIsAFixedPoint(_ name: String) throws {
        let text = try Golden.text(name)
        let graph = try KIRParser.parse(text, file: name)
        #expect(KIRPrinter.print(graph) == text)
        #expect(try KIRFile.read(path: Golden.path(name)) == graph)
    }

    @Test(arguments: Golden.paired)
    func inputsPrintAsExpected(_ name: String) throws {
        let inputs = try Golden.cases(name + ".input.kir")
        let expected = try Golden.cases(name + ".expected.kir")
        #expect(inputs.map(\.label) == expected.map(\.label))
        for (input, canonical) in zip(inputs, expected) {
            do {
                let graph = try KIRParser.parse(input.text, file: "\(name).input.kir")
                #expect(KIRPrinter.print(graph) == canonical.text, "case: \(input.label)")
                // The expected form is canonical itself, and the same graph.
                let reparsed = try KIRParser.parse(canonical.text, file: "\(name).expected.kir")
                #expect(reparsed == graph, "case: \(input.label)")
            } catch {
                Issue.record("case '\(input.label)': \(error)")
            }
        }
    }

    @Test func everyGoldenFileIsTested() throws {
        let folder = try Golden.path("")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        let known = Golden.canonical + Golden.paired.flatMap { [$0 + ".input.kir", $0 + ".expected.kir"] }
        #expect(Set(files) == Set(known))
    }
}
