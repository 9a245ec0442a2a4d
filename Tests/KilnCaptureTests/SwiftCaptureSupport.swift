import Foundation
import KilnEmit
import KilnIR
import KilnOps
import KilnPTE
import KilnRuntime
import KilnTensor
import Testing
@testable import KilnCapture

/// Shared helpers of the Swift capture tests.
enum SwiftCaptureSupport {
    /// `Tests/KilnCaptureTests/Fixtures/swift/NAME`.
    static func fixture(_ name: String) throws -> String {
        try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("swift").appendingPathComponent(name).path
    }

    /// A fresh temporary folder, removed by the caller.
    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-swift-capture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// The graph with what differs between two captures of one model that are the same program
    /// taken away: result names (numbered in order), locations and debug handles (renumbered), and
    /// the order of the constants (sorted by name). Inputs, constant names, types and bytes, ops,
    /// arguments and outputs stay.
    static func canonical(_ graph: Graph) throws -> Graph {
        var b = GraphBuilder(name: graph.name)
        for s in graph.symbols { b.symbol(s.name, range: s.range) }
        var map: [ValueID: ValueID] = [:]
        for id in graph.inputs { map[id] = try b.input(graph[id].name, graph[id].type) }
        for id in graph.constants.sorted(by: { graph[$0].name < graph[$1].name }) {
            map[id] = try b.constant(graph[id].name, try #require(graph[id].constantData))
        }
        for node in graph.nodes {
            let arguments = try node.arguments.map { a in try a.map { try #require(map[$0]) } }
            let results = try b.append(node.op, arguments: arguments, resultNames: nil, resultTypes: nil,
                                       debugHandle: nil, location: nil)
            for (old, new) in zip(node.results, results) { map[old] = new }
        }
        b.output(try graph.outputs.map { try #require(map[$0]) })
        return try b.finish()
    }

    /// Compiles `graph` to a `.pte` in `folder` and runs it on Kiln's runtime.
    static func runCompiled(_ graph: Graph, _ inputs: [Tensor], in folder: URL) throws -> [Tensor] {
        let compiled = try KilnCompiler.compile(graph)
        let path = folder.appendingPathComponent("\(graph.name)-\(UUID().uuidString).pte").path
        try FileIO.writeAtomically(compiled.bytes, to: path)
        return try Program.load(path: path).method()(inputs)
    }

    /// Expects `got` to equal `want` within `atol + rtol * |want|` elementwise, naming the first
    /// element that does not.
    static func expectClose(_ got: Tensor, _ want: Tensor, rtol: Float, atol: Float, _ what: String,
                            sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(got.shape == want.shape, "\(what): shape \(got.shape), expected \(want.shape)", sourceLocation: sourceLocation)
        guard got.shape == want.shape else { return }
        for (i, (a, b)) in zip(got.floatValues(), want.floatValues()).enumerated() where !(abs(a - b) <= atol + rtol * abs(b)) {
            Issue.record("\(what): element \(i) is \(a), expected \(b)", sourceLocation: sourceLocation)
            return
        }
    }
}
