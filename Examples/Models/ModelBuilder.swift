import KilnIR
import KilnOps
import KilnTensor

/// A ``GraphBuilder`` plus seeded, PyTorch-style initialization of the constants it adds, and
/// the layers the examples share.
///
/// ```swift
/// var m = ModelBuilder(graph: "mlp", seed: 2024)
/// let x = try m.input("x", [1, 256])
/// let y = try m.linear(x, "fc1", in: 256, out: 512, bias: true)
/// ```
struct ModelBuilder {
    var builder: GraphBuilder
    let seed: UInt64
    /// Elements of the learned parameters added so far.
    private(set) var parameterCount = 0

    init(graph name: String, seed: UInt64) {
        builder = GraphBuilder(name: name)
        self.seed = seed
    }

    /// A float32 graph input.
    mutating func input(_ name: String, _ shape: [Int]) throws -> ValueID {
        try builder.input(name, TensorType(.float32, static: shape))
    }

    /// A float32 constant holding `values`, not counted as a learned parameter.
    mutating func buffer(_ name: String, _ shape: [Int], _ values: [Float]) throws -> ValueID {
        try builder.constant(name, Tensor(values, shape: shape))
    }

    /// A learned float32 parameter drawn uniformly from `range` with the stream named `name`.
    mutating func parameter(_ name: String, _ shape: [Int], uniform range: ClosedRange<Double>) throws -> ValueID {
        let values = uniformValues(name, shape, range)
        parameterCount += values.count
        return try builder.constant(name, Tensor(values, shape: shape))
    }

    /// A float32 buffer (not learned) drawn uniformly from `range`, like batch norm's running stats.
    mutating func buffer(_ name: String, _ shape: [Int], uniform range: ClosedRange<Double>) throws -> ValueID {
        try builder.constant(name, Tensor(uniformValues(name, shape, range), shape: shape))
    }

    /// Applies `op` at `location` and returns its single result.
    mutating func call(_ op: String, _ tensors: [ValueID?] = [],
                       _ attributes: KeyValuePairs<String, Argument<ValueID>> = [:],
                       name: String? = nil, at location: String) throws -> ValueID {
        try builder.call(op, tensors, attributes, names: name.map { [$0] }, location: location)[0]
    }

    /// `nn.Linear(in, out, bias)`: weight `[out, in]` and bias `[out]` uniform in
    /// ±1/sqrt(in), named `module.weight` and `module.bias`.
    mutating func linear(_ x: ValueID, _ module: String, in inFeatures: Int, out outFeatures: Int,
                         bias: Bool, name: String? = nil) throws -> ValueID {
        let bound = 1 / Double(inFeatures).squareRoot()
        let w = try parameter("\(module).weight", [outFeatures, inFeatures], uniform: -bound ... bound)
        let b = bias ? try parameter("\(module).bias", [outFeatures], uniform: -bound ... bound) : nil
        return try call("linear", [x, w, b], name: name, at: module)
    }

    /// `nn.RMSNorm(dim, eps=1e-5)` over the last dim, weight `module.weight` uniform in [0.5, 1.5].
    mutating func rmsNorm(_ x: ValueID, _ module: String, dim: Int, name: String? = nil) throws -> ValueID {
        let w = try parameter("\(module).weight", [dim], uniform: 0.5 ... 1.5)
        return try call("rms_norm", [x, w], ["normalized_shape": .intList([dim]), "eps": .float(1e-5)],
                        name: name, at: module)
    }

    /// Marks `values` as outputs and returns the verified example.
    func finish(_ outputs: ValueID..., input: Tensor) throws -> ExampleModel {
        var b = builder
        b.output(outputs)
        let graph = try b.finish()
        return ExampleModel(name: graph.name, graph: graph, input: input, parameterCount: parameterCount)
    }

    /// A seeded normal-ish float32 tensor of `shape` (for example inputs), from the stream `name`.
    func normalTensor(_ name: String, _ shape: [Int]) throws -> Tensor {
        var rng = SeededRandom(seed: seed, stream: "\(builder.graph.name).\(name)")
        return try Tensor(rng.normal(count: shape.reduce(1, *)), shape: shape)
    }

    private func uniformValues(_ name: String, _ shape: [Int], _ range: ClosedRange<Double>) -> [Float] {
        var rng = SeededRandom(seed: seed, stream: "\(builder.graph.name).\(name)")
        return rng.uniform(count: shape.reduce(1, *), in: range)
    }
}
