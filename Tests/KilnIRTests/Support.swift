import Foundation
import KilnIR
import KilnOps
import KilnTensor
import Testing

// Shared vocabulary of the KilnIR tests: graphs built in a closure, types written
// `t(.float32, 2, 3)`, round-trip and parse-error expectations, temporary folders.

/// A tensor type with static dims: `t(.float32, 2, 3)` is `f32[2, 3]`.
func t(_ dtype: DType, _ dims: Int...) -> TensorType {
    TensorType(dtype, static: dims)
}

/// A constant tensor of `dtype` and `shape` holding 0, 1, 2, ... (as the dtype allows).
func counting(_ dtype: DType, _ shape: [Int]) throws -> Tensor {
    let count = shape.reduce(1, *)
    switch dtype {
    case .float32: return try Tensor((0..<count).map { Float($0) * 0.25 - 1 }, shape: shape)
    case .float16: return try Tensor((0..<count).map { Float16($0) * 0.5 }, shape: shape)
    case .bfloat16: return try Tensor((0..<count).map { BFloat16(Float($0) / 3) }, shape: shape)
    case .int64: return try Tensor((0..<count).map { Int64($0) - 2 }, shape: shape)
    case .int32: return try Tensor((0..<count).map { Int32($0) - 2 }, shape: shape)
    case .int16: return try Tensor((0..<count).map { Int16($0) - 2 }, shape: shape)
    case .int8: return try Tensor((0..<count).map { Int8(truncatingIfNeeded: $0) }, shape: shape)
    case .uint8: return try Tensor((0..<count).map { UInt8(truncatingIfNeeded: $0) }, shape: shape)
    case .bool: return try Tensor((0..<count).map { $0 % 2 == 0 }, shape: shape)
    }
}

/// Builds and verifies a graph called `name`; `body` adds values and returns the outputs.
func makeGraph(_ name: String = "forward",
               _ body: (inout GraphBuilder) throws -> [ValueID]) throws -> Graph {
    var b = GraphBuilder(name: name)
    b.output(try body(&b))
    return try b.finish()
}

/// Parses `text` with no sidecar resolver.
func parse(_ text: String, file: String? = nil) throws(IRError) -> Graph {
    try KIRParser.parse(text, file: file)
}

/// Expects `parse(print(g)) == g` and `print(parse(print(g))) == print(g)`; returns the text.
@discardableResult
func expectRoundTrip(_ graph: Graph, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> String {
    let text = KIRPrinter.print(graph)
    let parsed = try KIRParser.parse(text)
    #expect(parsed == graph, "parse(print(g)) differs from g; printed:\n\(text)", sourceLocation: sourceLocation)
    let reprinted = KIRPrinter.print(parsed)
    #expect(reprinted == text, "printing is not stable:\n\(text)\n---\n\(reprinted)", sourceLocation: sourceLocation)
    return text
}

/// Expects parsing `text` (as file `bad.kir`) to fail with `kind` at `line`:`column`, with a
/// message containing `phrase`.
func expectParseError(_ text: String, _ kind: IRError.Kind, line: Int, column: Int, _ phrase: String,
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    do {
        let graph = try KIRParser.parse(text, file: "bad.kir")
        Issue.record("expected \(kind) at \(line):\(column), parsed:\n\(KIRPrinter.print(graph))",
                     sourceLocation: sourceLocation)
    } catch {
        expectError(error, kind, line: line, column: column, phrase, sourceLocation: sourceLocation)
    }
}

/// Expects `error` to be `kind` at `line`:`column` of `bad.kir`, with a message containing `phrase`.
func expectError(_ error: IRError, _ kind: IRError.Kind, line: Int, column: Int, _ phrase: String,
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
    #expect(error.line == line && error.column == column,
            "expected \(line):\(column), got \(error.line.map(String.init) ?? "-"):\(error.column.map(String.init) ?? "-"): \(error)",
            sourceLocation: sourceLocation)
    #expect(error.message.contains(phrase), "message lacks '\(phrase)': \(error.message)", sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix("bad.kir:\(line):\(column): error: "), "\(error.description)",
            sourceLocation: sourceLocation)
}

/// Runs `body` with a fresh folder (path ending in `/`), removed afterwards.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-ir-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path + "/")
}
