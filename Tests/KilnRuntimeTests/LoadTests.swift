import Foundation
import KilnEmit
import KilnExamples
import KilnIR
import KilnPasses
import KilnPTE
@testable import KilnRuntime
import KilnTensor
import Testing

/// Loading: what fails at load (naming the operator, the file, the field) and what a loaded
/// program offers.
@Suite struct LoadTests {
    static func mlp() throws -> (model: ExampleModel, compiled: Compilation) {
        let model = try ExampleModels.build(.mlp)
        return (model, try KilnCompiler.compile(model.graph))
    }

    @Test func unknownOperatorFailsAtLoadNamingIt() throws {
        let (_, compiled) = try Self.mlp()
        var file = compiled.file
        let plan = file.program.executionPlan[0]
        let index = try #require(plan.operators.firstIndex { $0.name == "aten::relu" })
        file.program.executionPlan[0].operators[index].name = "aten::foo"
        // The first instruction calling the operator is the one the error names.
        let user = try #require(plan.chains[0].instructions.firstIndex {
            if case .kernelCall(let op, _) = $0 { return Int(op) == index }
            return false
        })
        try withTemporaryFolder { folder in
            expectRuntimeError(.unknownOperator, "model.pte", "aten::foo.out (operator \(index), used by instruction \(user))") {
                _ = try load(try file.serialized(), in: folder)
            }
        }
    }

    @Test func anOutTensorTheShapeRuleDisagreesWithFailsAtLoad() throws {
        var file = try Self.mlp().compiled.file
        let plan = file.program.executionPlan[0]
        let output = Int(plan.outputs[0])
        guard case .tensor(var tensor) = plan.values[output] else { Issue.record("output is no tensor"); return }
        tensor.sizes = [1, 5]
        file.program.executionPlan[0].values[output] = .tensor(tensor)
        let last = plan.chains[0].instructions.count - 1
        try withTemporaryFolder { folder in
            expectRuntimeError(.invalidArguments, "instruction \(last) (aten::addmm.out",
                               "out tensor %\(output) is f32[1, 5], but addmm gives f32[1, 10]") {
                _ = try load(try file.serialized(), in: folder)
            }
        }
    }

    @Test func aKernelCallWithTheWrongArgumentCountFailsAtLoad() throws {
        var file = try Self.mlp().compiled.file
        let instructions = file.program.executionPlan[0].chains[0].instructions
        let index = try #require(instructions.firstIndex {
            if case .kernelCall(_, let args) = $0 { return args.count == 3 }  // relu: self, out, return
            return false
        })
        guard case .kernelCall(let op, let args) = instructions[index] else { return }
        file.program.executionPlan[0].chains[0].instructions[index] = .kernelCall(opIndex: op, args: Array(args.dropLast()))
        try withTemporaryFolder { folder in
            expectRuntimeError(.invalidArguments, "instruction \(index) (aten::relu.out", "has 2 arguments, expected 3") {
                _ = try load(try file.serialized(), in: folder)
            }
        }
    }

    @Test func constantsAreViewsOfTheMappedFile() throws {
        let (_, compiled) = try Self.mlp()
        try withTemporaryFolder { folder in
            let program = try load(compiled.bytes, in: folder)
            var constants = 0
            for value in program.plans[0].values {
                guard case .constant(let tensor)? = value.tensor?.memory else { continue }
                constants += 1
                #expect(tensor.isBorrowed)
                #expect(tensor.isAligned(to: 64))
            }
            #expect(constants == 6)
        }
    }

    @Test func aMissingFileIsAnIOError() {
        expectRuntimeError(.io, "/no/such/model.pte") { _ = try Program.load(path: "/no/such/model.pte") }
    }

    @Test func aFileThatIsNoProgramFailsVerification() throws {
        try withTemporaryFolder { folder in
            expectRuntimeError(.invalidProgram, "not an ExecuTorch program") {
                _ = try load(Array("this is not a program at all".utf8), in: folder)
            }
            // A program whose tensor points past its arena fails Kiln's semantic checks.
            var file = try Self.mlp().compiled.file
            file.program.executionPlan[0].nonConstBufferSizes[1] = 16
            expectRuntimeError(.invalidProgram, "do not fit arena 1") { _ = try load(try file.serialized(), in: folder) }
        }
    }

    @Test func methodsAreFoundByName() throws {
        let (_, compiled) = try Self.mlp()
        try withTemporaryFolder { folder in
            let program = try load(compiled.bytes, in: folder)
            #expect(program.methodNames == ["mlp"])
            #expect(try program.method("mlp").name == "mlp")
            expectRuntimeError(.methodNotFound, "no method \"forward\"", "\"mlp\"") { _ = try program.method("forward") }
        }
    }

    @Test func aReadOnlyFileLoadsAndRunsTwice() throws {
        let (model, compiled) = try Self.mlp()
        let emitted = try afterPasses(model.graph)
        try withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("readonly.pte").path
            try FileIO.writeAtomically(compiled.bytes, to: path)
            #expect(chmod(path, 0o444) == 0)
            let method = try Program.load(path: path).method()
            let second = try patterned([1, 256], seed: 3)
            let a = try method([model.input])
            let b = try method([second])
            #expect(a[0] != b[0])
            #expect(a[0] == (try GraphEvaluator(emitted).run([model.input]).outputs[0]))
            #expect(b[0] == (try GraphEvaluator(emitted).run([second]).outputs[0]))
            // The file is untouched.
            #expect(try FileIO.read(path: path) == compiled.bytes)
        }
    }

    @Test func wrongInputsAreRejectedNamingTheInput() throws {
        let (model, compiled) = try Self.mlp()
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            let value = try method.inputMeta(0).valueIndex
            expectRuntimeError(.inputCount, "takes 1 input (%\(value): f32[1, 256]), 2 given") {
                _ = try method([model.input, model.input])
            }
            expectRuntimeError(.inputShape, "input 0 (%\(value)): expected f32[1, 256], got f32[1, 255]") {
                try method.setInput(try Tensor(zeros: .float32, shape: [1, 255]), at: 0)
            }
            expectRuntimeError(.inputShape, "input 0 (%\(value)): expected f32[1, 256], got f32[256]") {
                try method.setInput(try Tensor(zeros: .float32, shape: [256]), at: 0)
            }
            expectRuntimeError(.inputDType, "input 0 (%\(value)): expected f32[1, 256], got i64[1, 256]") {
                try method.setInput(try Tensor(zeros: .int64, shape: [1, 256]), at: 0)
            }
            expectRuntimeError(.inputCount, "input 1 is out of range") {
                try method.setInput(model.input, at: 1)
            }
            expectRuntimeError(.outputIndex, "output 3 is out of range") { _ = try method.output(3) }
            // A rejected input leaves the method usable.
            #expect(try method([model.input]).count == 1)
        }
    }

    @Test func outputsAreViewsUntilTheNextExecute() throws {
        let (model, compiled) = try Self.mlp()
        try withTemporaryFolder { folder in
            let method = try load(compiled.bytes, in: folder).method()
            try method.setInput(model.input, at: 0)
            try method.execute()
            let view = try method.output(0)
            let copy = try method([model.input])[0]
            #expect(view == copy)
            #expect(try method.outputMeta(0).description == "f32[1, 10]")
        }
    }
}
