import Foundation
import KilnIR
import KilnTensor
import Testing
@testable import KilnCapture

/// Errors a Swift user can act on: the `file:line` of their call and the shapes involved.
@Suite struct SwiftCaptureErrorTests {
    final class BadMLP: Module {
        let fc1 = Linear(256, 512)
        let fc2 = Linear(256, 10)       // should take 512 features
        func callAsFunction(_ x: TracedTensor) -> TracedTensor {
            fc2(relu(fc1(x)))
        }
    }

    func captureError(_ body: () throws -> Graph) -> CaptureError? {
        do {
            _ = try body()
            return nil
        } catch let error as CaptureError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func layerShapeMismatchNamesTheLineAndBothShapes() throws {
        let errorResult = captureError { try capture(BadMLP(), inputs: [TensorSpec("x", [1, 256])]) }
        let error = try #require(errorResult)
        #expect(error.kind == .shape)
        // BadMLP.callAsFunction: `fc2(relu(fc1(x)))` is line 13 of this file.
        #expect(error.location == "SwiftCaptureErrorTests.swift:13")
        #expect(error.message.contains("input f32[1, 512]"), "the input's shape: \(error)")
        #expect(error.message.contains("weight f32[10, 256]"), "the weight's shape: \(error)")
        #expect(error.description.hasPrefix("SwiftCaptureErrorTests.swift:13: linear"))
    }

    @Test func functionShapeMismatchNamesItsLine() throws {
        var line = 0
        let errorResult = captureError {
            try capture(inputs: [TensorSpec("a", [2, 3]), TensorSpec("b", [4, 5])]) { t in
                line = #line + 1
                return [t[0].matmul(t[1])]
            }
        }
        let error = try #require(errorResult)
        #expect(error.kind == .shape)
        #expect(error.location == "SwiftCaptureErrorTests.swift:\(line)")
        #expect(error.message.contains("f32[2, 3]") && error.message.contains("f32[4, 5]"), "\(error)")
    }

    @Test func operatorMismatchNamesBothShapesAndTheFirstErrorWins() throws {
        var line = 0
        let errorResult = captureError {
            try capture(inputs: [TensorSpec("a", [2, 3]), TensorSpec("b", [4, 5])]) { t in
                line = #line + 1
                let r = relu(t[0])
                let bad = r + t[1]                       // recorded at the previous node's line
                return [softmax(bad.matmul(t[0]))]       // fails too, but only the first is reported
            }
        }
        let error = try #require(errorResult)
        #expect(error.kind == .shape)
        #expect(error.message.hasPrefix("add.Tensor"), "\(error)")
        #expect(error.message.contains("f32[2, 3]") && error.message.contains("f32[4, 5]"), "\(error)")
        #expect(error.location == "SwiftCaptureErrorTests.swift:\(line)")
    }

    @Test func layerInsideSequentialNamesTheSequentialsLine() throws {
        let model = Sequential(Linear(4, 8), ReLU(), Linear(4, 2))
        var line = 0
        let errorResult = captureError {
            try capture(inputs: [TensorSpec("x", [1, 4])], parameters: model) { t in
                line = #line + 1
                return [model(t[0])]
            }
        }
        let error = try #require(errorResult)
        #expect(error.location == "SwiftCaptureErrorTests.swift:\(line)")
        #expect(error.message.contains("f32[1, 8]") && error.message.contains("f32[2, 4]"), "\(error)")
    }

    @Test func attentionRejectsASymbolicSequence() throws {
        let attention = MultiHeadAttention(dim: 8, heads: 2, maxSequence: 16)
        let errorResult = captureError {
            try capture(attention, inputs: [TensorSpec("x", [1, .symbol("seq", max: 16), 8])])
        }
        let error = try #require(errorResult)
        #expect(error.kind == .trace)
        #expect(error.message.contains("static seq") && error.message.contains("f32[1, seq, 8]"), "\(error)")
    }

    @Test func rotaryEmbeddingRejectsASymbolicSequence() throws {
        let rope = RotaryEmbedding(headDim: 8, maxSequence: 16)
        let errorResult = captureError {
            try capture(rope, inputs: [TensorSpec("x", [1, 2, .symbol("seq", max: 16), 8])])
        }
        let error = try #require(errorResult)
        #expect(error.kind == .trace && error.message.contains("static sequence length"), "\(error)")
        // A static length shorter than the tables slices them.
        let graph = try capture(rope, inputs: [TensorSpec("x", [1, 2, 5, 8])])
        #expect(graph.nodes.filter { $0.op.name == "slice_copy.Tensor" }.count == 4)
    }

    @Test func traceMisuse() throws {
        // A parameter the captured model does not own.
        let stray = ModuleParameter(zeros: [4, 4])
        let ownedResult = captureError {
            try capture(inputs: [TensorSpec("x", [1, 4])]) { t in [t[0].matmul(t[0].use(stray))] }
        }
        let owned = try #require(ownedResult)
        #expect(owned.kind == .trace && owned.message.contains("does not own"), "\(owned)")

        // Two symbolic sizes in one reshape.
        let reshapeResult = captureError {
            try capture(inputs: [TensorSpec("x", [.symbol("a", max: 4), .symbol("b", max: 4)])]) { t in
                [t[0].reshape(t[0].shape[1], t[0].shape[0])]
            }
        }
        let reshape = try #require(reshapeResult)
        #expect(reshape.kind == .trace && reshape.message.contains("at most one size"), "\(reshape)")

        // A tensor from another capture.
        var leaked: TracedTensor?
        _ = try capture(inputs: [TensorSpec("x", [2])]) { t in
            leaked = t[0]
            return [relu(t[0])]
        }
        let mixedResult = captureError {
            try capture(inputs: [TensorSpec("y", [2])]) { t in [t[0] + leaked!] }
        }
        let mixed = try #require(mixedResult)
        #expect(mixed.kind == .trace && mixed.message.contains("another capture"), "\(mixed)")

        // No output; two specs for one Module.
        #expect(captureError { try capture(inputs: [TensorSpec("x", [2])]) { _ in [] } }?.kind == .trace)
        #expect(captureError { try capture(ReLU(), inputs: [TensorSpec("x", [2]), TensorSpec("y", [2])]) }?.kind == .spec)
    }

    @Test func specErrors() {
        let ranges = captureError {
            try capture(inputs: [TensorSpec("a", [.symbol("n", max: 4)]), TensorSpec("b", [.symbol("n", max: 8)])]) { t in [t[0]] }
        }
        #expect(ranges?.kind == .spec && ranges?.message.contains("symbol 'n'") == true, "\(String(describing: ranges))")
        let negative = captureError { try capture(ReLU(), inputs: [TensorSpec("x", [2, -1])]) }
        #expect(negative?.kind == .spec && negative?.message.contains("negative") == true)
    }

    @Test func symbolsAreSharedAcrossInputs() throws {
        let graph = try capture(inputs: [TensorSpec("a", [.symbol("n", in: 2...6), 3]), TensorSpec("b", [.symbol("n", in: 2...6), 3])]) { t in
            [t[0] + t[1]]
        }
        #expect(graph.symbols.count == 1 && graph.symbols[0].range == 2...6)
        #expect(KIRPrinter.print(graph).contains("%0 = add.Tensor(%a, %b) : f32[n, 3]"))
    }
}
