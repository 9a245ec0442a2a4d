@testable import GPUCompiler
@testable import GPURuntime
import KilnIR
import KilnOps
import KilnPartition
import KilnPasses
import KilnTensor
import Testing

/// True when this machine has a Vulkan device (lavapipe counts); tests that run shaders are
/// skipped otherwise, with this reason.
let vulkanAvailable = GPURuntime.unavailableReason == nil
let noVulkanReason: Comment = "needs a Vulkan device (CI installs Mesa's lavapipe: apt-get install mesa-vulkan-drivers)"

/// Seeded float32 values in `range`.
func seeded(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) throws -> Tensor {
    var rng = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    return try Tensor((0..<n).map { _ in Float.random(in: range, using: &rng) }, shape: shape)
}

/// Lowers `graph` as one GPU partition, runs it on the Vulkan device and returns its outputs.
func runOnGPU(_ graph: Graph, _ inputs: [Tensor]) throws -> [Tensor] {
    let payload = try GPUCompiler().preprocess(Partition(id: 0, backend: "gpu", graph: graph), compileSpecs: [])
    let named = Dictionary(uniqueKeysWithValues: payload.namedData.map { ($0.key, $0.bytes) })
    let exe = try payload.bytes.withUnsafeBytes { bytes in
        try GPUExecutable(payload: bytes) { key in
            named[key].map { data in data.withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) } }
        }
    }
    // The named data stays alive in `named` until the upload above is done.
    withExtendedLifetime(named) {}
    let outputs = try graph.outputs.map { v in
        try Tensor(zeros: .float32, shape: graph.type(of: v).shape.map { $0.staticValue ?? 0 })
    }
    let inputBytes = inputs.map { t in t.withUnsafeRawBytes { $0 } }
    try exe.run(inputs: inputBytes, outputs: outputs.indices.map { outputs[$0].unsafeMutableRawBytes })
    withExtendedLifetime(inputs) {}
    return outputs
}

/// The portable evaluator's outputs for `graph`.
func runPortable(_ graph: Graph, _ inputs: [Tensor]) throws -> [Tensor] {
    try GraphEvaluator(graph).run(inputs).outputs
}

/// The largest `|gpu - portable| - rtol * |portable|` over every output element (NaN and
/// infinity must match exactly); at most `atol` passes.
func expectClose(_ gpu: [Tensor], _ portable: [Tensor], atol: Float = 1e-4, rtol: Float = 1e-4,
                 _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(gpu.count == portable.count, "\(what): output count", sourceLocation: sourceLocation)
    for (i, (g, p)) in zip(gpu, portable).enumerated() {
        #expect(g.shape == p.shape, "\(what): output \(i) shape", sourceLocation: sourceLocation)
        let gv = g.floatValues(), pv = p.floatValues()
        var worst: Float = 0, worstAt = -1
        for j in 0..<min(gv.count, pv.count) {
            if pv[j].isNaN || pv[j].isInfinite {
                if !(gv[j].isNaN && pv[j].isNaN) && gv[j] != pv[j] { worst = .infinity; worstAt = j }
                continue
            }
            let excess = abs(gv[j] - pv[j]) - rtol * abs(pv[j])
            if !(excess <= worst) { worst = excess.isNaN ? .infinity : excess; worstAt = j }
        }
        #expect(worst <= atol, "\(what): output \(i) differs by \(worst) beyond rtol at element \(worstAt)",
                sourceLocation: sourceLocation)
    }
}
