import KilnIR
import KilnTensor

/// One example model: its graph and a matching input.
public struct ExampleModel: Sendable {
    /// The folder and file name: `mlp` gives `mlp/mlp.kir` and `mlp/input.npy`.
    public var name: String
    /// The verified graph, its weights drawn from the seed.
    public var graph: Graph
    /// A seeded random input for the graph's single input.
    public var input: Tensor
    /// Elements of the learned parameters (weights and biases; not running statistics, rotary
    /// tables or masks), as PyTorch's `sum(p.numel() for p in model.parameters())` counts them.
    public var parameterCount: Int
}

/// Kiln's example models (`Examples/README.md`), built in memory with seeded random weights:
/// what `swift run GenerateExamples` writes, and what tests and benchmarks can build without
/// reading files.
///
/// ```swift
/// let mlp = try ExampleModels.build(.mlp)
/// let logits = try GraphEvaluator(mlp.graph).run([mlp.input]).outputs[0]   // f32[1, 10]
/// ```
public enum ExampleModels {
    /// The seed of every weight and input (each tensor draws from its own stream under it).
    public static let seed: UInt64 = 20_250_101

    /// The models, in the order they are written; each raw value names its folder and graph.
    public enum Name: String, CaseIterable, Sendable, CustomStringConvertible {
        /// A three-layer perceptron, `f32[1, 256]` -> `f32[1, 10]`.
        case mlp
        /// Three conv -> batch norm -> relu blocks, pooling and a linear head, `f32[1, 3, 64, 64]` -> `f32[1, 10]`.
        case cnn
        /// One Llama-style transformer block, `f32[1, 32, 256]` -> `f32[1, 32, 256]`.
        case decoderBlock = "decoder_block"

        /// The raw value: `decoder_block`.
        public var description: String { rawValue }
    }

    /// Builds the model `name` with weights and input drawn from `seed`; the same seed gives
    /// the same bytes on every run and machine.
    /// - Throws: ``KilnIR/IRError`` or ``KilnTensor/TensorError`` if the model is malformed (a bug
    ///   in this module, not in the caller's use).
    public static func build(_ name: Name, seed: UInt64 = seed) throws -> ExampleModel {
        switch name {
        case .mlp: try MLP.build(seed: seed)
        case .cnn: try CNN.build(seed: seed)
        case .decoderBlock: try DecoderBlock.build(seed: seed)
        }
    }
}
