import KilnIR

/// `cnn`: a small image classifier on one 64x64 RGB image.
///
/// ```
/// x: f32[1, 3, 64, 64]
///   blocks.0: conv3x3 3 -> 16, stride 1  -> batch_norm -> relu    [1, 16, 64, 64]
///   blocks.1: conv3x3 16 -> 32, stride 2 -> batch_norm -> relu    [1, 32, 32, 32]
///   blocks.2: conv3x3 32 -> 64, stride 2 -> batch_norm -> relu    [1, 64, 16, 16]
///   pool (adaptive average to 1x1) -> flatten -> fc (64 -> 10) -> logits
/// ```
enum CNN {
    /// Builds the graph with weights drawn from `seed`.
    static func build(seed: UInt64) throws -> ExampleModel {
        var m = ModelBuilder(graph: "cnn", seed: seed)
        let x = try m.input("x", [1, 3, 64, 64])
        var h = x
        for (i, (inChannels, outChannels, stride)) in [(3, 16, 1), (16, 32, 2), (32, 64, 2)].enumerated() {
            h = try block(&m, h, "blocks.\(i)", in: inChannels, out: outChannels, stride: stride)
        }
        h = try m.call("adaptive_avg_pool2d", [h], ["output_size": .intList([1, 1])], at: "pool")
        h = try m.call("flatten.using_ints", [h], ["start_dim": .int(1)], name: "features", at: "flatten")
        let logits = try m.linear(h, "fc", in: 64, out: 10, bias: true, name: "logits")
        return try m.finish(logits, input: m.normalTensor("input", [1, 3, 64, 64]))
    }

    /// conv3x3 (padding 1, no bias: the batch norm's shift replaces it) -> inference batch norm
    /// -> relu, as modules `module.conv`, `module.bn`, `module.relu`.
    static func block(_ m: inout ModelBuilder, _ x: ValueID, _ module: String,
                      in inChannels: Int, out outChannels: Int, stride: Int) throws -> ValueID {
        let bound = 1 / Double(inChannels * 3 * 3).squareRoot()
        let w = try m.parameter("\(module).conv.weight", [outChannels, inChannels, 3, 3], uniform: -bound ... bound)
        var h = try m.call("convolution", [x, w, nil],
                           ["stride": .intList([stride, stride]), "padding": .intList([1, 1])],
                           at: "\(module).conv")
        let bn = "\(module).bn"
        let gamma = try m.parameter("\(bn).weight", [outChannels], uniform: 0.5 ... 1.5)
        let beta = try m.parameter("\(bn).bias", [outChannels], uniform: -0.1 ... 0.1)
        let mean = try m.buffer("\(bn).running_mean", [outChannels], uniform: -0.1 ... 0.1)
        let variance = try m.buffer("\(bn).running_var", [outChannels], uniform: 0.5 ... 1.5)
        h = try m.call("batch_norm", [h, gamma, beta, mean, variance],
                       ["training": .bool(false), "eps": .float(1e-5)], at: bn)
        return try m.call("relu", [h], name: "\(module).out", at: "\(module).relu")
    }
}
