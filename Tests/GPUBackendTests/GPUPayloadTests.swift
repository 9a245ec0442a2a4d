@testable import GPUCompiler
@testable import GPURuntime
import KilnIR
import KilnPartition
import KilnTensor
import Testing

/// The payload round-trips between the compiler's writer and the runtime's reader, and the
/// reader rejects every malformed field naming it (no Vulkan needed: decoding only).
struct GPUPayloadTests {
    static func draft() -> GPUPayloadDraft {
        var d = GPUPayloadDraft()
        d.shaders = ["unary", "matmul"]
        d.memorySize = 4096
        d.weights = [.init(key: "gpu.0.w", offset: 0, size: 256)]
        d.inputs = [(256, 128)]
        d.outputs = [(512, 128)]
        d.dispatches = [.init(shader: 1, push: [1, 2, 3], groups: (2, 1, 1)), .init(shader: 0, push: [], groups: (1, 3, 1))]
        return d
    }

    static func decode(_ d: GPUPayloadDraft) throws -> GPUPayload {
        try d.serialized().withUnsafeBytes { raw in try GPUPayload(decoding: raw) }
    }

    /// The message of decoding `d`, or nil when it decodes.
    static func rejection(_ d: GPUPayloadDraft) -> String? {
        do {
            _ = try decode(d)
            return nil
        } catch let error as GPURuntimeError {
            return error.kind == .invalidPayload ? error.message : "wrong kind \(error.kind)"
        } catch {
            return "\(error)"
        }
    }

    @Test func roundTrips() throws {
        let p = try Self.decode(Self.draft())
        #expect(p.shaders == ["unary", "matmul"])
        #expect(p.memorySize == 4096)
        #expect(p.weights == [.init(key: "gpu.0.w", region: .init(offset: 0, size: 256))])
        #expect(p.inputs == [.init(offset: 256, size: 128)] && p.outputs == [.init(offset: 512, size: 128)])
        #expect(p.dispatches == [.init(shader: 1, push: [1, 2, 3], groups: [2, 1, 1]), .init(shader: 0, push: [], groups: [1, 3, 1])])
    }

    @Test func everyMalformedFieldIsNamed() {
        var d = Self.draft()
        d.shaders[1] = "fft"
        #expect(Self.rejection(d)?.contains("shaders[1] 'fft'") == true)
        d = Self.draft()
        d.dispatches[1].shader = 2
        #expect(Self.rejection(d)?.contains("dispatches[1].shader 2") == true)
        d = Self.draft()
        d.dispatches[0].push = [UInt32](repeating: 0, count: 33)
        #expect(Self.rejection(d)?.contains("dispatches[0].push has 33 words") == true)
        d = Self.draft()
        d.dispatches[0].groups = (1, 0, 1)
        #expect(Self.rejection(d)?.contains("dispatches[0].groups_y is 0") == true)
        d = Self.draft()
        d.outputs = [(4000, 128)]
        #expect(Self.rejection(d)?.contains("outputs[0] (offset 4000, 128 bytes)") == true)
        d = Self.draft()
        d.inputs = [(2, 8)]
        #expect(Self.rejection(d)?.contains("inputs[0]") == true)
        d = Self.draft()
        d.weights[0].offset = 4096
        #expect(Self.rejection(d)?.contains("weights[0].region") == true)
        d = Self.draft()
        d.memorySize = 0
        #expect(Self.rejection(d)?.contains("memory_size 0") == true)
    }

    @Test func wrongIdentifierAndTruncationAreRejected() {
        var bytes = Self.draft().serialized()
        bytes[4] = UInt8(ascii: "X")
        #expect(throws: GPURuntimeError.self) { try bytes.withUnsafeBytes { raw in _ = try GPUPayload(decoding: raw) } }
        let short = [UInt8](Self.draft().serialized().prefix(6))
        #expect(throws: GPURuntimeError.self) { try short.withUnsafeBytes { raw in _ = try GPUPayload(decoding: raw) } }
    }

    /// Seeded corruptions of a real payload (the CNN's) decode or throw, never crash.
    @Test func corruptedPayloadsNeverCrashTheReader() throws {
        let model = try gpuOpCases().first { $0.name == "convolution" }!
        let payload = try GPUCompiler().preprocess(Partition(id: 0, backend: "gpu", graph: model.graph), compileSpecs: [])
        var rng = SeededGenerator(seed: 13)
        var rejected = 0
        for _ in 0..<400 {
            var bytes = payload.bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng))) }
            let ok = bytes.withUnsafeBytes { raw in (try? GPUPayload(decoding: raw)) != nil }
            if !ok { rejected += 1 }
        }
        #expect(rejected > 100)
    }

    @Test(.enabled(if: vulkanAvailable, noVulkanReason)) func missingOrMisSizedWeightsAreNamed() throws {
        let bytes = Self.draft().serialized()
        let none = try #require(throws: GPURuntimeError.self) {
            try bytes.withUnsafeBytes { raw in _ = try GPUExecutable(payload: raw) { _ in nil } }
        }
        #expect(none.kind == .missingWeight && none.message.contains("no named data 'gpu.0.w'"))
        let small = [UInt8](repeating: 0, count: 8)
        let wrong = try #require(throws: GPURuntimeError.self) {
            try bytes.withUnsafeBytes { raw in
                try small.withUnsafeBytes { w in _ = try GPUExecutable(payload: raw) { _ in w } }
            }
        }
        #expect(wrong.kind == .missingWeight && wrong.message.contains("has 8 bytes, the payload expects 256"))
    }

    @Test(.enabled(if: vulkanAvailable, noVulkanReason)) func argumentsMustMatchThePayload() throws {
        let c = try unaryCase("relu")
        let payload = try GPUCompiler().preprocess(Partition(id: 0, backend: "gpu", graph: c.graph), compileSpecs: [])
        let exe = try payload.bytes.withUnsafeBytes { raw in try GPUExecutable(payload: raw) { _ in nil } }
        let small = [Float](repeating: 0, count: 3)
        var out = [Float](repeating: 0, count: 198)
        let error = try #require(throws: GPURuntimeError.self) {
            try small.withUnsafeBytes { i in try out.withUnsafeMutableBytes { o in try exe.run(inputs: [i], outputs: [o]) } }
        }
        #expect(error.kind == .arguments && error.message.contains("input 0 has 12 bytes, the delegate expects 792"))
    }
}
