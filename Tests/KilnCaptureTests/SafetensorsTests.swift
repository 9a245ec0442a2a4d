import Foundation
import KilnTensor
import Testing
@testable import KilnCapture

/// The safetensors reader checks every field before mapping a tensor, and loading names every
/// tensor that does not fit the model.
@Suite struct SafetensorsTests {
    /// A file of `header` (JSON text) and `data`, its header length given or computed.
    static func file(_ header: String, data: [UInt8], length: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        let n = length ?? UInt64(json.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + json + data
    }

    /// Writes `bytes` to a temporary file and reads it, returning the error.
    static func readError(_ bytes: [UInt8]) throws -> CaptureError? {
        let folder = try SwiftCaptureSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("bad.safetensors").path
        try FileIO.writeAtomically(bytes, to: path)
        do {
            _ = try SafetensorsFile(path: path)
            return nil
        } catch {
            #expect(error.file == path, "the error names the file")
            return error
        }
    }

    static let eight = [UInt8](repeating: 0, count: 8)

    /// Each corruption and a part of the message it must give.
    static let corruptions: [(String, [UInt8], String)] = [
        ("short", [1, 2, 3], "fewer than the 8"),
        ("header past end", file("{}", data: [], length: 100), "runs past the end"),
        ("not JSON", file("{\"a\": ", data: []), "not a JSON object"),
        ("not an object", file("[1, 2]", data: []), "not a JSON object"),
        ("unknown dtype", file(#"{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: eight),
         "tensor 'w': dtype 'F64' is not one Kiln reads"),
        ("no dtype", file(#"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, data: eight), "tensor 'w': dtype missing"),
        ("bad shape", file(#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight), "tensor 'w': shape"),
        ("float shape", file(#"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,8]}}"#, data: eight), "tensor 'w': shape"),
        ("three offsets", file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}"#, data: eight),
         "tensor 'w': data_offsets missing or not two integers"),
        ("offsets out of range", file(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eight),
         "tensor 'w': data_offsets [0, 16] are not inside the 8 data bytes"),
        ("size mismatch", file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight),
         "tensor 'w': F32[3] needs 12 bytes, data_offsets [0, 8] give 8"),
        ("overlap", file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                         data: eight), "tensor 'b': bytes 4..<8 overlap"),
        ("hole", file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), "bytes 0..<4 before it belong to no tensor"),
        ("trailing bytes", file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: eight),
         "the last 4 data bytes (from 4) belong to no tensor"),
        ("unknown field", file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, data: eight),
         "tensor 'w': unknown field 'extra'"),
        ("bad metadata", file(#"{"__metadata__":{"a":1}}"#, data: []), "__metadata__ must map strings to strings"),
        ("huge shape", file(#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: eight),
         "has too many elements"),
    ]

    @Test(arguments: corruptions.indices)
    func rejectsCorruption(_ index: Int) throws {
        let (name, bytes, fragment) = Self.corruptions[index]
        let error = try #require(try Self.readError(bytes), "\(name) must be rejected")
        #expect(error.kind == .safetensors, "\(name)")
        #expect(error.message.contains(fragment), "\(name): \(error.message)")
    }

    @Test func missingFile() {
        #expect(throws: CaptureError.self) { try SafetensorsFile(path: "/nonexistent/model.safetensors") }
    }

    @Test func roundTripIsMappedAndOrdered() throws {
        let folder = try SwiftCaptureSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("w.safetensors").path
        let tensors: [(name: String, tensor: Tensor)] = [
            ("b.weight", try Tensor([Float](repeating: 1.5, count: 6), shape: [2, 3])),
            ("a \"quoted\" name", try Tensor([Int64(7), -1], shape: [2])),
            ("flags", try Tensor([true, false, true], shape: [3])),
            ("empty", try Tensor(zeros: .float16, shape: [0, 4])),
            ("scalar", try Tensor([Int8(-3)], shape: [])),
        ]
        try SafetensorsFile.write(tensors, to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.names == ["b.weight", "a \"quoted\" name", "flags", "empty", "scalar"])
        for (name, tensor) in tensors {
            #expect(file.tensors[name] == tensor, "\(name)")
        }
        #expect(file.tensors["b.weight"]?.isBorrowed == true, "aligned data borrows the mapped file")
        #expect(throws: CaptureError.self) { try SafetensorsFile.write([tensors[0], tensors[0]], to: path) }
    }

    @Test func torchFixtureLoads() throws {
        // Written by make_capture_fixtures.py from torch's state dict, num_batches_tracked included.
        let file = try SafetensorsFile(path: try SwiftCaptureSupport.fixture("batchnorm2d.safetensors"))
        #expect(file.names == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        #expect(file.tensors["num_batches_tracked"]?.scalars(as: Int64.self) == [7])
    }

    @Test func loadReportsEveryMismatchByName() throws {
        let model = Sequential(Linear(4, 3), ReLU(), Linear(3, 2, bias: false))
        let weights: [String: Tensor] = [
            "0.weight": try Tensor(zeros: .float32, shape: [3, 5]),     // wrong shape
            "0.bias": try Tensor(zeros: .float16, shape: [3]),          // wrong dtype
            // 2.weight missing
            "2.bias": try Tensor(zeros: .float32, shape: [2]),          // unexpected
        ]
        let before = model.namedParameters().map { $0.parameter.value }
        do {
            try model.load(weights, from: "w.safetensors")
            Issue.record("a mismatched load must fail")
        } catch {
            #expect(error.kind == .load)
            #expect(error.file == "w.safetensors")
            #expect(error.message.contains("'0.weight' is f32[3, 5], the model expects f32[3, 4]"), "\(error)")
            #expect(error.message.contains("'0.bias' is f16[3], the model expects f32[3]"), "\(error)")
            #expect(error.message.contains("'2.weight' is missing (the model expects f32[2, 3])"), "\(error)")
            #expect(error.message.contains("'2.bias' is not a parameter of the model"), "\(error)")
        }
        #expect(model.namedParameters().map { $0.parameter.value } == before, "nothing is assigned on failure")
    }

    @Test func loadFromSafetensorsAssignsByPath() throws {
        let folder = try SwiftCaptureSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("w.safetensors").path
        let w = try Tensor([Float(1), 2, 3, 4, 5, 6], shape: [3, 2])
        let b = try Tensor([Float(-1), 0, 1], shape: [3])
        try SafetensorsFile.write([("fc.weight", w), ("fc.bias", b)], to: path)
        final class Net: Module {
            let fc = Linear(2, 3)
            func callAsFunction(_ x: TracedTensor) -> TracedTensor { fc(x) }
        }
        let net = Net()
        try net.load(safetensors: path)
        #expect(net.fc.weight.value == w && net.fc.bias?.value == b)
        #expect(net.stateDict().map(\.name) == ["fc.weight", "fc.bias"])
        let badPath = folder.appendingPathComponent("bad.safetensors").path
        try SafetensorsFile.write([("fc.weight", w)], to: badPath)
        #expect(throws: CaptureError.self) { try net.load(safetensors: badPath) }
    }
}
