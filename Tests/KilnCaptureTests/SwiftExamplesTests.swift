import Foundation
import KilnCaptureExamples
import KilnEmit
import KilnExamples
import KilnIR
import KilnPasses
import KilnTensor
import Testing
@testable import KilnCapture

/// The three Examples written as Swift modules (KilnCaptureExamples) capture to the graphs
/// KilnExamples builds, once the Examples' weights are loaded by parameter path; the captured
/// graphs evaluate to the same bits and compile and run on Kiln's runtime.
@Suite struct SwiftExamplesTests {
    /// The runtime's kernels (blocked GEMM, fused paths) sum in another order than the evaluator's.
    static let rtol: Float = 1e-4
    static let atol: Float = 1e-5

    static func swiftModel(_ name: ExampleModels.Name) -> any Module {
        switch name {
        case .mlp: MLP()
        case .cnn: CNN()
        case .decoderBlock: Decoder()
        }
    }

    static func captured(_ name: ExampleModels.Name) throws -> (captured: Graph, example: ExampleModel) {
        let example = try ExampleModels.build(name)
        let graph = example.graph
        let model = swiftModel(name)
        var weights: [String: Tensor] = [:]
        for id in graph.constants { weights[graph[id].name] = graph[id].constantData }
        // PyTorch's batch norm counts batches in a buffer the Example has no use for.
        for (path, p) in model.namedParameters() where path.hasSuffix(".num_batches_tracked") { weights[path] = p.value }
        try model.load(weights, from: "Example \(name)")
        let input = graph[graph.inputs[0]]
        let spec = TensorSpec(input.name, try #require(input.type.staticShape).map { .fixed($0) })
        return (try capture(model, inputs: [spec], name: graph.name), example)
    }

    @Test(arguments: ExampleModels.Name.allCases)
    func capturesTheExampleGraph(_ name: ExampleModels.Name) throws {
        let (captured, example) = try Self.captured(name)
        // Constant names are the module paths, so they are compared too; node result names and
        // locations (Swift lines here, module names there) are not.
        let (a, b) = (try SwiftCaptureSupport.canonical(captured), try SwiftCaptureSupport.canonical(example.graph))
        #expect(a == b, "\(name): the Swift capture differs from the Example:\n\(KIRPrinter.print(a))")
        #expect(captured.nodes.allSatisfy { $0.location?.text.hasPrefix("Models.swift:") == true },
                "every node is located at a line of Models.swift")
        // The same after the compiler's standard passes.
        var (pa, pb) = (a, b)
        for pass in CompileOptions.standardPasses {
            try pass.run(&pa)
            try pass.run(&pb)
        }
        #expect(pa == pb)
    }

    @Test(arguments: ExampleModels.Name.allCases)
    func evaluatesAndRuns(_ name: ExampleModels.Name) throws {
        let (captured, example) = try Self.captured(name)
        let got = try GraphEvaluator(captured).run([example.input]).outputs[0]
        let want = try GraphEvaluator(example.graph).run([example.input]).outputs[0]
        #expect(got == want, "the same graph evaluates to the same bits")
        let folder = try SwiftCaptureSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try SwiftCaptureSupport.runCompiled(captured, [example.input], in: folder)[0]
        SwiftCaptureSupport.expectClose(run, want, rtol: Self.rtol, atol: Self.atol, "\(name) runtime")
    }

    @Test func mlpWithASymbolicBatch() throws {
        let example = try ExampleModels.build(.mlp)
        let model = MLP()
        for (path, p) in model.namedParameters() {
            p.value = try #require(example.graph.constants.first { example.graph[$0].name == path }.flatMap { example.graph[$0].constantData })
        }
        let graph = try capture(model, inputs: [TensorSpec("x", [.symbol("batch", max: 8), 256])])
        #expect(graph.symbols.map(\.name) == ["batch"])
        #expect(graph.type(of: graph.outputs[0]).description == "f32[batch, 10]")
        // Three rows, each the Example's input: each output row is the Example's output.
        let row = example.input.floatValues()
        let x = try Tensor(row + row + row, shape: [3, 256])
        let y = try GraphEvaluator(graph).run([x]).outputs[0]
        let want = try GraphEvaluator(example.graph).run([example.input]).outputs[0].floatValues()
        #expect(y.shape == [3, 10])
        #expect(y.floatValues() == want + want + want)
        let folder = try SwiftCaptureSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try SwiftCaptureSupport.runCompiled(graph, [x], in: folder)[0]
        SwiftCaptureSupport.expectClose(run, y, rtol: Self.rtol, atol: Self.atol, "mlp batch 3 runtime")
    }
}
