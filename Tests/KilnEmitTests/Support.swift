import KilnEmit
import KilnIR
import KilnOps
import KilnTensor
import Testing

// Shared vocabulary of the KilnEmit tests: parsing `.kir` text, expecting errors, building
// large test models.

/// Parses `text` (no sidecar).
func parse(_ text: String) throws -> Graph {
    try KIRParser.parse(text, file: "test.kir")
}

/// The value called `name` (without `%`).
func value(_ graph: Graph, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> ValueID {
    try #require(graph.values.firstIndex { $0.name == name }.map(ValueID.init), "no value %\(name)",
                 sourceLocation: sourceLocation)
}

/// Expects `body` to throw an ``EmitError`` of `kind` whose description contains every phrase.
func expectEmitError(_ kind: EmitError.Kind, _ phrases: String..., sourceLocation: Testing.SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(kind) error", sourceLocation: sourceLocation)
    } catch let error as EmitError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(error.description.contains(phrase), "'\(error)' lacks '\(phrase)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected an EmitError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// An MLP of `layers` Linear + ReLU layers of width `hidden` on a `[batch, hidden]` input, with
/// deterministic (not random) weights: what the compile measurements use.
func deepMLP(layers: Int, hidden: Int, batch: Int = 1) throws -> Graph {
    var b = GraphBuilder(name: "forward")
    var h = try b.input("x", TensorType(.float32, static: [batch, hidden]))
    for layer in 0..<layers {
        // Distinct bytes per layer, so no two weights are shared.
        let values = (0..<hidden * hidden).map { Float(($0 &* 7 &+ layer &* 13) % 97) / 97 - 0.5 }
        let w = try b.constant("fc\(layer).weight", Tensor(values, shape: [hidden, hidden]))
        let bias = try b.constant("fc\(layer).bias", Tensor([Float](repeating: Float(layer) / 100, count: hidden),
                                                             shape: [hidden]))
        h = try b.call("linear", [h, w, bias], location: "fc\(layer)")[0]
        h = try b.call("relu", [h], location: "relu\(layer)")[0]
    }
    b.output(h)
    return try b.finish()
}
