import KilnIR

/// `mlp`: a three-layer perceptron on a 256-feature vector.
///
/// ```
/// x: f32[1, 256] -> fc1 (256 -> 512) -> relu -> fc2 (512 -> 512) -> relu -> fc3 (512 -> 10) -> logits
/// ```
enum MLP {
    /// Builds the graph with weights drawn from `seed`.
    static func build(seed: UInt64) throws -> ExampleModel {
        var m = ModelBuilder(graph: "mlp", seed: seed)
        let x = try m.input("x", [1, 256])
        var h = try m.linear(x, "fc1", in: 256, out: 512, bias: true)
        h = try m.call("relu", [h], at: "relu1")
        h = try m.linear(h, "fc2", in: 512, out: 512, bias: true)
        h = try m.call("relu", [h], at: "relu2")
        let logits = try m.linear(h, "fc3", in: 512, out: 10, bias: true, name: "logits")
        return try m.finish(logits, input: m.normalTensor("input", [1, 256]))
    }
}
