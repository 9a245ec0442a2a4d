import KilnIR
import KilnPartition
import KilnPasses
import KilnRuntime
import KilnTensor
@testable import XNNPACKCompiler
@testable import XNNPACKRuntime
import XNNPACKSchema

/// Runs graphs through the XNNPACK compiler and runtime (without a `.pte`), and through the
/// portable evaluator for reference.
enum XNNPACKHarness {
    /// The payload and named data of `graph` as one partition.
    static func lower(_ graph: Graph, id: Int = 0) throws -> DelegatePayload {
        try XNNPACKCompiler().preprocess(Partition(id: id, backend: "xnnpack", graph: graph), compileSpecs: [])
    }

    /// `graph` lowered and run by an XNNPACK delegate on `inputs`.
    static func run(_ graph: Graph, _ inputs: [Tensor], threads: Int = 1) throws -> [Tensor] {
        let lowered = try lower(graph)
        let payload = try lowered.bytes.withUnsafeBytes { try XNNPayload.decode($0) }
        let store = NamedDataStore(lowered.namedData)
        let delegate = try XNNPACKDelegate(payload, threads: threads) { key in store.bytes(key) }
        let outputs = try graph.outputs.map { try Tensor(zeros: graph.type(of: $0).dtype, shape: graph.type(of: $0).staticShape!) }
        let values = (inputs + outputs).map(BackendValue.tensor)
        try delegate.run(BackendArguments(values: values, valueIndices: Array(values.indices)))
        _ = store
        return outputs
    }

    /// The portable result: `graph` decomposed to core ops and evaluated.
    static func reference(_ graph: Graph, _ inputs: [Tensor]) throws -> [Tensor] {
        var g = graph
        _ = try PassManager([Decompose()]).run(&g)
        return try GraphEvaluator(g).run(inputs).outputs
    }

    /// The largest absolute difference between two float tensors of the same shape.
    static func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape) differ")
        return zip(a.floatValues(), b.floatValues()).map { abs($0 - $1) }.max() ?? 0
    }

    /// A seeded tensor of uniform values in `range`.
    static func random(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) throws -> Tensor {
        var generator = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        return try Tensor((0..<count).map { _ in Float.random(in: range, using: &generator) }, shape: shape)
    }
}

/// Named data held in memory for the lifetime of a delegate under test.
final class NamedDataStore: @unchecked Sendable {
    private var buffers: [String: UnsafeMutableRawBufferPointer] = [:]

    init(_ entries: [LoweredDelegate.NamedData]) {
        for e in entries {
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(e.bytes.count, 1), alignment: 64)
            b.copyBytes(from: e.bytes)
            buffers[e.key] = b
        }
    }

    func bytes(_ key: String) -> UnsafeRawBufferPointer? {
        buffers[key].map { UnsafeRawBufferPointer(rebasing: $0[0..<$0.count]) }
    }

    deinit { buffers.values.forEach { $0.deallocate() } }
}
