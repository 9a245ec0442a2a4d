import Foundation
import KilnIR
import KilnKernels
import KilnOps
import KilnPasses
import KilnTensor
import Testing

// Shared vocabulary of the KilnPasses tests: parsing, running passes with the verifier on,
// comparing tensors, and the golden files.

/// Parses `text` (no sidecar).
func parse(_ text: String, file: String = "test.kir") throws -> Graph {
    try KIRParser.parse(text, file: file)
}

/// Runs `passes` through a manager that verifies after each one, as every test does.
@discardableResult
func runPasses(_ passes: [any Pass], on graph: inout Graph) throws -> [PassStatistics] {
    try PassManager(passes, verifyEachPass: true).run(&graph)
}

/// True when every op in `ops` has a registered kernel.
func kernelsExist(_ ops: String...) -> Bool {
    ops.allSatisfy { KernelRegistry.entry(for: $0) != nil }
}

/// Expects `body` to throw a ``PassError`` of `kind` whose description contains every phrase.
func expectPassError(_ kind: PassError.Kind, _ phrases: String..., sourceLocation: Testing.SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(kind) error", sourceLocation: sourceLocation)
    } catch let error as PassError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(error.description.contains(phrase), "'\(error)' lacks '\(phrase)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a PassError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects two float tensors of equal shape to agree within `tolerance` (absolute, plus relative
/// to the larger magnitude).
func expectClose(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-5, _ what: String = "",
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(a.dtype == b.dtype && a.shape == b.shape, "\(what): \(a) vs \(b)", sourceLocation: sourceLocation)
    guard a.dtype == b.dtype, a.shape == b.shape else { return }
    var worst: (index: Int, x: Float, y: Float)?
    for (i, (x, y)) in zip(a.floatValues(), b.floatValues()).enumerated() {
        let same = x == y || (x.isNaN && y.isNaN) || abs(x - y) <= tolerance * max(1, abs(x), abs(y))
        if !same { worst = (i, x, y); break }
    }
    #expect(worst == nil, "\(what): element \(worst?.index ?? 0) is \(worst?.x ?? 0) vs \(worst?.y ?? 0)",
            sourceLocation: sourceLocation)
}

/// A float32 tensor of `shape` with values from a small deterministic generator in -1..<1.
func sample(_ shape: [Int], seed: UInt64 = 1) throws -> Tensor {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    let count = shape.reduce(1, *)
    let values = (0..<count).map { _ -> Float in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Float(state >> 40) / Float(1 << 23) - 1
    }
    return try Tensor(values, shape: shape)
}

/// The golden text-IR files in `Golden/`, one per pass, named after it (`decompose.kir`).
///
/// Cases are separated MLIR-style by `// -----` lines. Each case has a `// CASE: label` line,
/// the input graph, and then one of:
/// - `// EXPECTED:` followed by the canonical text the pass must print;
/// - `// EXPECTED: unchanged`: the input is canonical and the pass must print it back as is;
/// - `// EXPECTED-ERROR: phrase`: the pass must fail with a ``PassError`` containing `phrase`.
enum Golden {
    struct Case: CustomStringConvertible {
        enum Expectation {
            case text(String)
            case unchanged
            case error(String)
        }

        var label: String
        var input: String
        var expectation: Expectation
        var description: String { label }
    }

    static let separator = "\n// -----\n"

    static func path(_ name: String) throws -> String {
        let folder = try #require(Bundle.module.url(forResource: "Golden", withExtension: nil))
        return folder.appendingPathComponent(name).path
    }

    /// The cases of `Golden/<pass>.kir`.
    static func cases(_ pass: String) throws -> [Case] {
        let text = try String(contentsOfFile: path(pass + ".kir"), encoding: .utf8)
        return try text.components(separatedBy: separator).map { chunk in
            let lines = chunk.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let labelLine = try #require(lines.firstIndex { $0.hasPrefix("// CASE: ") }, "a case in \(pass).kir has no label")
            let expectLine = try #require(lines.firstIndex { $0.hasPrefix("// EXPECTED") },
                                          "case '\(lines[labelLine])' in \(pass).kir has no EXPECTED line")
            let label = String(lines[labelLine].dropFirst("// CASE: ".count))
            let input = lines[(labelLine + 1)..<expectLine].joined(separator: "\n") + "\n"
            let directive = lines[expectLine]
            let expectation: Case.Expectation
            if directive.hasPrefix("// EXPECTED-ERROR: ") {
                expectation = .error(String(directive.dropFirst("// EXPECTED-ERROR: ".count)))
            } else if directive == "// EXPECTED: unchanged" {
                expectation = .unchanged
            } else {
                var rest = lines[(expectLine + 1)...].joined(separator: "\n")
                while rest.hasSuffix("\n\n") { rest.removeLast() }
                if !rest.hasSuffix("\n") { rest += "\n" }
                expectation = .text(rest)
            }
            return Case(label: label, input: input, expectation: expectation)
        }
    }
}
