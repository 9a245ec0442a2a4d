import Foundation
import KilnIR
import KilnPasses
import KilnTensor
import Testing
@testable import KilnCapture

/// Every layer against the same layer in torch on shared weights: the fixture script
/// (scripts/fixtures/capture/make_capture_fixtures.py) saves the torch module's state dict as
/// safetensors with an input and torch's output; the Swift layer loads the file by parameter
/// path, is captured, evaluated on the portable kernels and compiled and run on the runtime.
@Suite struct SwiftLayerTests {
    /// float32 throughout; torch and Kiln sum dot products (up to 64 long here) and reductions in
    /// different orders, and torch's sdpa fuses the softmax: differences stay near 1e-6.
    static let rtol: Float = 1e-4
    static let atol: Float = 1e-5

    /// Fixture name -> the Swift layer torch's module corresponds to.
    static let layers: [String: @Sendable () -> any Module] = [
        "linear": { Linear(16, 8) },
        "linear_nobias": { Linear(16, 8, bias: false) },
        "conv2d": { Conv2d(3, 8, kernelSize: 3, stride: 2, padding: 1) },
        "conv2d_grouped": { Conv2d(4, 8, kernelSize: 3, padding: 2, dilation: 2, groups: 2, bias: false) },
        "batchnorm2d": { BatchNorm2d(6) },
        "layernorm": { LayerNorm(12) },
        "rmsnorm": { RMSNorm(12) },
        "embedding": { Embedding(20, 6) },
        "relu": { ReLU() },
        "gelu": { GELU() },
        "gelu_tanh": { GELU(approximate: "tanh") },
        "silu": { SiLU() },
        "maxpool2d": { MaxPool2d(kernelSize: 2) },
        "maxpool2d_padded": { MaxPool2d(kernelSize: 3, stride: 2, padding: 1) },
        "adaptiveavgpool2d": { AdaptiveAvgPool2d([2, 3]) },
        "dropout": { Dropout(0.3) },
        "sequential": { Sequential(Linear(16, 24), ReLU(), Dropout(0.1), Linear(24, 4)) },
        // Tables and mask for 16 positions, sliced to the 8 of the input.
        "attention": { MultiHeadAttention(dim: 32, heads: 4, maxSequence: 16) },
        "decoder_block": { DecoderBlock(dim: 32, heads: 4, hidden: 64, maxSequence: 8) },
    ]

    @Test(arguments: layers.keys.sorted())
    func matchesTorch(_ name: String) throws {
        let make = try #require(Self.layers[name])
        let layer = make()
        try layer.load(safetensors: try SwiftCaptureSupport.fixture("\(name).safetensors"))
        let x = try Npy.read(path: try SwiftCaptureSupport.fixture("\(name).input.npy"))
        let want = try Npy.read(path: try SwiftCaptureSupport.fixture("\(name).expected.npy"))
        let graph = try capture(layer, inputs: [TensorSpec("x", x.shape.map { .fixed($0) }, dtype: x.dtype)], name: name)
        let evaluated = try GraphEvaluator(graph).run([x]).outputs[0]
        SwiftCaptureSupport.expectClose(evaluated, want, rtol: Self.rtol, atol: Self.atol, "\(name) evaluator")

        let folder = try SwiftCaptureSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try SwiftCaptureSupport.runCompiled(graph, [x], in: folder)[0]
        SwiftCaptureSupport.expectClose(run, want, rtol: Self.rtol, atol: Self.atol, "\(name) runtime")
    }

    @Test func layersRecordTheirOps() throws {
        // The op each layer records (torch fixtures check the numbers; this checks the form).
        let cases: [(any Module, [Int], [String])] = [
            (Linear(4, 2), [1, 4], ["linear"]),
            (Conv2d(1, 2, kernelSize: 3), [1, 1, 5, 5], ["convolution"]),
            (BatchNorm2d(2), [1, 2, 3, 3], ["batch_norm"]),
            (LayerNorm(4), [2, 4], ["layer_norm"]),
            (RMSNorm(4), [2, 4], ["rms_norm"]),
            (Sequential(ReLU(), GELU(), SiLU(), Dropout()), [2, 4], ["relu", "gelu", "silu"]),
            (MaxPool2d(kernelSize: 2), [1, 1, 4, 4], ["max_pool2d"]),
            (AdaptiveAvgPool2d([1, 1]), [1, 1, 4, 4], ["adaptive_avg_pool2d"]),
            (Flatten(), [2, 3, 4], ["flatten.using_ints"]),
        ]
        for (layer, shape, ops) in cases {
            let graph = try capture(layer, inputs: [TensorSpec("x", shape.map { .fixed($0) })])
            #expect(graph.nodes.map(\.op.name) == ops)
        }
        let embedding = try capture(Embedding(10, 3), inputs: [TensorSpec("tokens", [2, 5], dtype: .int64)])
        #expect(embedding.nodes.map(\.op.name) == ["embedding"])
        #expect(embedding.type(of: embedding.outputs[0]).description == "f32[2, 5, 3]")
    }

    @Test func parameterPaths() {
        let block = DecoderBlock(dim: 8, heads: 2, hidden: 16, maxSequence: 4)
        #expect(block.namedParameters().map(\.path) == [
            "attn_norm.weight", "attn.wq.weight", "attn.wk.weight", "attn.wv.weight", "attn.wo.weight",
            "attn.rope.cos", "attn.rope.sin", "attn.mask", "mlp_norm.weight",
            "mlp.w1.weight", "mlp.w2.weight", "mlp.w3.weight",
        ])
        // State dicts leave out the computed tables and mask, as PyTorch's non-persistent buffers.
        #expect(!block.stateDict().map(\.name).contains("attn.mask"))
        let seq = Sequential(Linear(2, 3), ReLU(), Sequential(Linear(3, 3)), BatchNorm2d(3))
        #expect(seq.namedParameters().map(\.path) == [
            "0.weight", "0.bias", "2.0.weight", "2.0.bias",
            "3.weight", "3.bias", "3.running_mean", "3.running_var", "3.num_batches_tracked",
        ])
        // A weight reachable twice (tied) keeps its first path.
        final class Tied: Module {
            let a = Linear(2, 2, bias: false)
            let b: Linear
            init() { b = a }
            func callAsFunction(_ x: TracedTensor) -> TracedTensor { b(a(x)) }
        }
        #expect(Tied().namedParameters().map(\.path) == ["a.weight"])
        // A subclass's parameters come after its superclass's.
        class Base: Module {
            let stem = Linear(2, 2, bias: false)
            func callAsFunction(_ x: TracedTensor) -> TracedTensor { stem(x) }
        }
        final class Derived: Base {
            let headLayer = Linear(2, 1, bias: false)
        }
        #expect(Derived().namedParameters().map(\.path) == ["stem.weight", "head_layer.weight"])
        #expect(snakeCase("numBatchesTracked") == "num_batches_tracked")
        #expect(snakeCase("_weight") == "weight")
    }

    @Test func tensorOps() throws {
        // Operators, slicing with ranges, cat, reductions and the functions, on fixed values.
        let graph = try capture(inputs: [TensorSpec("a", [2, 4]), TensorSpec("b", [4])]) { t in
            let (a, b) = (t[0], t[1])
            let arithmetic = (a + b) * 2 - a / (b + 10) + (1 - a) + (3 * -b) + 1 / (b + 10)
            let sliced = concatenated([a[0..<1, 2...], a[dim: 0, 1...1].slice(1, ..<2)], dim: 0)   // [2, 2]
            let shaped = a.reshape(4, 2).transposed(0, 1).permuted(1, 0).flattened().unsqueezed(0).squeezed(0)
            let reduced = concatenated([a.sum([1]), a.mean([1]), a.max([1]), a.min([1])], dim: 0)
            let product = a.matmul(a.transposed(0, 1))
            let functions = concatenated([softmax(a), logSoftmax(a), sigmoid(a), tanh(a), exp(a), sqrt(a * a + 1),
                                          rsqrt(a * a + 1), relu(a), gelu(a), silu(a)], dim: 0)
            return [arithmetic, sliced, shaped, reduced, product, functions]
        }
        let a: [Float] = [1, -2, 3, 0.5, -1, 4, 2, -3]
        let b: [Float] = [0.5, 1, -1, 2]
        let out = try GraphEvaluator(graph).run([try Tensor(a, shape: [2, 4]), try Tensor(b, shape: [4])]).outputs
        let arithmetic = (0..<8).map { i -> Float in
            let (x, y) = (a[i], b[i % 4])
            return (x + y) * 2 - x / (y + 10) + (1 - x) + (3 * -y) + 1 / (y + 10)
        }
        SwiftCaptureSupport.expectClose(out[0], try Tensor(arithmetic, shape: [2, 4]), rtol: 1e-6, atol: 1e-6, "arithmetic")
        #expect(out[1].floatValues() == [3, 0.5, -1, 4])
        #expect(out[2].floatValues() == a)
        #expect(out[3].floatValues() == [2.5, 2, 0.625, 0.5, 3, 4, -2, -3])
        #expect(out[4].floatValues() == [14.25, -4.5, -4.5, 30])
        #expect(out[5].shape == [20, 4])
    }
}
