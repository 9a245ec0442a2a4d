import Foundation
import KilnExamples
import KilnIR
import KilnTensor
import Testing

/// `kiln compare --backends gpu` and `kiln bench` on a GPU-delegated program, for the Examples
/// written in-process. Where `kiln backends gpu` reports no Vulkan device, compare must fail
/// naming the backend instead.
@Suite struct GPUCommandTests {
    func gpuAvailable() throws -> Bool {
        let r = try KilnCommand.run(["backends", "gpu"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        return r.stdout.contains("runtime: available")
    }

    @Test(arguments: ExampleModels.Name.allCases)
    func compareDelegatedToGPU(_ name: ExampleModels.Name) throws {
        let dir = try KilnCommand.temporaryDirectory()
        let example = try ExampleModels.build(name)
        let model = dir.appendingPathComponent("\(name.rawValue).kir")
        try KIRFile.write(example.graph, to: model.path)
        let x = dir.appendingPathComponent("x.npy")
        try Npy.write(example.input, to: x.path)
        let r = try KilnCommand.run(["compare", model.path, "--backends", "gpu", "--input", x.path, "--json"])
        guard try gpuAvailable() else {
            #expect(r.status == 1 && r.stderr.contains("KilnGPU"), "without a Vulkan device: \(r.stderr)")
            return
        }
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let outputs = try #require(json["outputs"] as? [[String: Any]])
        let partitions = try #require(json["partitions"] as? [[String: Any]])
        #expect(partitions.count == 1 && partitions[0]["backend"] as? String == "gpu")
        for o in outputs {
            let figures = try #require(o["figures"] as? [String: Any])
            // fp32 on the GPU: within 1e-5 of the portable result and above 100 dB SQNR.
            #expect((figures["max_abs"] as? Double ?? 1) <= 1e-5, "\(name): \(figures)")
            #expect((figures["sqnr_db"] as? Double ?? 0) >= 100, "\(name): \(figures)")
        }
    }

    @Test func benchRunsAGPUProgramAndProfilesTheSubmission() throws {
        guard try gpuAvailable() else { return }
        let dir = try KilnCommand.temporaryDirectory()
        let model = dir.appendingPathComponent("mlp.kir")
        let example = try ExampleModels.build(.mlp)
        try KIRFile.write(example.graph, to: model.path)
        let pte = dir.appendingPathComponent("mlp.pte")
        let c = try KilnCommand.run(["compile", model.path, "--backends", "gpu", "-o", pte.path])
        #expect(c.status == 0, "stderr: \(c.stderr)")
        let x = dir.appendingPathComponent("x.npy")
        try Npy.write(example.input, to: x.path)
        let r = try KilnCommand.run(["bench", pte.path, "--input", x.path, "--warmup", "1", "--iterations", "3", "--profile"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("KilnGPU") && r.stdout.contains("gpu_submit_wait"))
    }
}
