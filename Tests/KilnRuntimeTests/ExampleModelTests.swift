import KilnEmit
import KilnExamples
import KilnIR
import KilnPasses
import KilnRuntime
import KilnTensor
import Testing

/// Every example model, compiled to a file and run by the runtime, gives exactly what the graph
/// evaluator gives on the graph as emitted (after the compiler's passes), and what it gives on
/// the source graph within 1e-6 (constant folding and decomposition may round differently).
@Suite struct ExampleModelTests {
    @Test(arguments: ExampleModels.Name.allCases)
    func runsBitwiseLikeTheEvaluator(_ name: ExampleModels.Name) throws {
        let model = try ExampleModels.build(name)
        let compiled = try KilnCompiler.compile(model.graph)
        let emitted = try afterPasses(model.graph)
        let reference = try GraphEvaluator(emitted).run([model.input]).outputs
        let source = try GraphEvaluator(model.graph).run([model.input]).outputs
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            #expect(method.inputCount == 1)
            #expect(method.outputCount == reference.count)
            let outputs = try method([model.input])
            for (i, (got, want)) in zip(outputs, reference).enumerated() {
                #expect(bitwiseDifference(got, want) == nil, "\(name) output \(i): \(bitwiseDifference(got, want) ?? "")")
            }
            for (i, (got, want)) in zip(outputs, source).enumerated() {
                let error = maxRelativeError(got, want)
                #expect(error <= 1e-6, "\(name) output \(i): max relative error \(error) against the source graph")
            }
            // A second run on the same method gives the same bits.
            let again = try method([model.input])
            for (got, want) in zip(again, outputs) { #expect(got == want) }
        }
    }

    @Test func instructionsCarryDebugHandlesAndLocations() throws {
        let model = try ExampleModels.build(.mlp)
        let compiled = try KilnCompiler.compile(model.graph)
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            let addmm = try #require(method.instructions.first { $0.operatorName == "aten::addmm.out" })
            #expect(addmm.kind == .kernelCall)
            #expect(addmm.opName == "addmm")
            #expect(addmm.kernelName != nil)
            #expect(addmm.debugHandle != nil)
            #expect(addmm.location == "fc1")
            #expect(addmm.description.contains("aten::addmm.out"))
            #expect(method.instructions.map(\.index) == Array(0..<method.instructions.count))
        }
    }

    @Test func profilingCountsEveryInstruction() throws {
        let model = try ExampleModels.build(.mlp)
        let compiled = try KilnCompiler.compile(model.graph)
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            try method.setInput(model.input, at: 0)
            try method.execute()
            #expect(method.profile.executions == 0)
            method.isProfiling = true
            try method.execute()
            try method.execute()
            #expect(method.profile.executions == 2)
            #expect(method.profile.counts == [Int](repeating: 2, count: method.instructions.count))
            #expect(method.profile.totalNanoseconds > 0)
            method.resetProfile()
            #expect(method.profile.counts.allSatisfy { $0 == 0 })
        }
    }
}
