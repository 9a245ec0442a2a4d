import Foundation
import KilnEmit
import KilnIR
import KilnRuntime
import KilnTensor
import Testing

/// A program using every core sampling op, with the argument encodings they bring (a DoubleList
/// of scale factors, a Null output_size, two results), runs in ExecuTorch 1.5.1's own runtime
/// (pip's wheel, portable kernels) and gives Kiln's outputs bit for bit. Passes with a SKIP line
/// when python3 or the wheel is missing.
///
/// The pads are non-negative: ExecuTorch's portable constant_pad_nd rejects negative (cropping)
/// pads, which ATen and Kiln accept.
@Suite struct SamplingExecuTorchTests {
    static let text = """
        graph @forward(%img: f32[1, 3, 9, 8]) {
          %p, %i = max_pool2d_with_indices(%img, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=true)
          %a = avg_pool2d(%img, kernel_size=[3, 2], stride=[2, 2], padding=[1, 1], ceil_mode=true, count_include_pad=false)
          %n = upsample_nearest2d.vec(%img, scale_factors=[1.5, 0.5])
          %m = upsample_nearest2d.vec(%img, output_size=[13, 11])
          %b = upsample_bilinear2d.vec(%img, output_size=[13, 11], align_corners=false)
          %c = upsample_bilinear2d.vec(%img, align_corners=true, scale_factors=[2.0, 1.5])
          %d = upsample_bilinear2d.vec(%img, align_corners=false, scale_factors=[0.7, 1.3])
          %q = constant_pad_nd(%img, pad=[1, 2, 2, 0], value=-1.5)
          return %p, %i, %a, %n, %m, %b, %c, %d, %q
        }
        """

    @Test func executorchRunsKilnsSamplingOps() throws {
        let graph = try KIRParser.parse(Self.text, file: "sampling.kir")
        let compiled = try KilnCompiler.compile(graph, options: CompileOptions())
        var generator = SeededGenerator(seed: 7)
        let input = try Tensor((0..<(3 * 9 * 8)).map { _ in Float.random(in: -2...2, using: &generator) },
                               shape: [1, 3, 9, 8])
        try withTemporaryFolder { folder in
            let kiln = try load(compiled.bytes, in: folder).method()([input])
            try Npy.write(input, to: folder.appendingPathComponent("input.npy").path)
            let outputs = folder.appendingPathComponent("executorch")
            guard let (status, log) = try runInExecuTorch(folder.appendingPathComponent("model.pte"),
                                                          inputs: [folder.appendingPathComponent("input.npy")],
                                                          outputDir: outputs) else {
                print("SKIP: ExecuTorch runtime not available")
                return
            }
            #expect(status == 0, "\(log)")
            guard status == 0 else { return }
            for (i, mine) in kiln.enumerated() {
                let theirs = try Npy.read(path: outputs.appendingPathComponent("output_\(i).npy").path)
                #expect(bitwiseDifference(mine, theirs) == nil, "output \(i): \(bitwiseDifference(mine, theirs) ?? "")")
            }
        }
    }
}
