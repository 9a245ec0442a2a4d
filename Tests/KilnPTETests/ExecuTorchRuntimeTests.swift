import Foundation
import KilnPTE
import Testing

/// Kiln's files run in ExecuTorch's own runtime (pip's `executorch.runtime`): ExecuTorch's
/// fixture programs rewritten by Kiln, and a program Kiln builds from scratch
/// (`aten::add.out` with a constant from the constant segment). Skipped when python3 or the
/// wheel is missing.
@Suite struct ExecuTorchRuntimeTests {
    static let script = """
    import os, sys
    try:
        import numpy as np
        import torch
        from executorch.runtime import Runtime
    except Exception as error:
        print("SKIP:", error)
        sys.exit(0)
    fixtures, folder = sys.argv[1], sys.argv[2]
    runtime = Runtime.get()
    def run(path, x):
        (y,) = runtime.load_program(path).load_method("forward").execute([torch.from_numpy(x)])
        return y.numpy()
    for name in ["tiny_mlp", "tiny_cnn"]:
        x = np.load(os.path.join(fixtures, name + ".input.npy"))
        expected = np.load(os.path.join(fixtures, name + ".executorch.npy"))
        same = np.array_equal(run(os.path.join(folder, name + ".pte"), x), expected)
        print(name, "ok" if same else "MISMATCH")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = run(os.path.join(folder, "add.pte"), x)
    print("add", "ok" if np.array_equal(y, x + np.arange(1, 7, dtype=np.float32).reshape(2, 3)) else f"MISMATCH {y}")
    """

    /// `out = x + w` with `w = [[1, 2, 3], [4, 5, 6]]` from the constant segment.
    static func addProgram() throws -> PTEFile {
        let f32 = { (sizes: [Int32], memory: UInt32?, offset: UInt64, data: UInt32) in
            RichProgram.tensor(.float, sizes, memory: memory, offset: offset, data: data)
        }
        let plan = PTE.ExecutionPlan(
            name: "forward",
            values: [f32([2, 3], 1, 0, 0), f32([2, 3], nil, 0, 1), .int(1), f32([2, 3], 1, 32, 0)],
            inputs: [0], outputs: [3],
            chains: [PTE.Chain(inputs: [0], outputs: [3], instructions: [.kernelCall(opIndex: 0, args: [0, 1, 2, 3, 3])])],
            operators: [PTE.Operator(name: "aten::add", overload: "out")],
            nonConstBufferSizes: [0, 64])
        let weights = (1...6).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
        var file = PTEFile(program: PTE.Program(executionPlan: [plan],
                                                constantSegment: PTE.SubsegmentOffsets(segmentIndex: 0, offsets: [0, 0])),
                           segments: [weights])
        try file.layOutSegments()
        return file
    }

    @Test func kilnFilesRunInExecuTorch() throws {
        try withTemporaryFolder { folder in
            for name in ["tiny_mlp", "tiny_cnn"] {
                let file = try PTEFile(decoding: try Fixtures.bytes("executorch/\(name).pte"))
                try file.write(to: folder.appendingPathComponent("\(name).pte").path)
            }
            try Self.addProgram().write(to: folder.appendingPathComponent("add.pte").path)
            let fixtures = try Fixtures.url("executorch").path
            let (status, output) = try runProcess("/usr/bin/env", ["python3", "-c", Self.script, fixtures, folder.path])
            if status == 0 && output.contains("SKIP:") {
                print("SKIP: ExecuTorch's runtime is not installed; Kiln files not run in it (\(output.split(separator: "\n").last ?? ""))")
                return
            }
            #expect(status == 0, "\(output)")
            for name in ["tiny_mlp", "tiny_cnn", "add"] {
                #expect(output.contains("\(name) ok"), "\(output)")
            }
        }
    }
}
