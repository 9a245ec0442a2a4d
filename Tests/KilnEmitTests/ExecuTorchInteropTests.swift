import Foundation
import KilnEmit
import KilnExamples
import KilnIR
import KilnPTE
import KilnTensor
import Testing

/// Kiln's `.pte` files against ExecuTorch 1.5.1 itself (pip's wheel): its flatc and schema decode
/// every Example Kiln compiles, and its runtime runs them to PyTorch's numbers. ExecuTorch-written
/// files of the same Examples decode in Kiln's reader. Each test passes with a SKIP line when
/// python3 or the wheel is missing (CI installs them).
@Suite(.serialized) struct ExecuTorchInteropTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `python3 script args...`; returns (status, output).
    static func python(_ script: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", root.appendingPathComponent(script).path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (0, "SKIP: python3 not available (\(error))") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Compiles every Example into `folder`; returns the paths.
    static func compileExamples(into folder: URL) throws -> [ExampleModels.Name: URL] {
        var paths: [ExampleModels.Name: URL] = [:]
        for name in ExampleModels.Name.allCases {
            let model = try ExampleModels.build(name)
            let compiled = try KilnCompiler.compile(model.graph, options: CompileOptions())
            let path = folder.appendingPathComponent("\(name.rawValue).pte")
            try FileIO.writeAtomically(compiled.bytes, to: path.path)
            try Npy.write(model.input, to: folder.appendingPathComponent("\(name.rawValue).input.npy").path)
            paths[name] = path
        }
        return paths
    }

    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-et-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func executorchFlatcDecodesEveryExample() throws {
        let dir = try Self.folder()
        let paths = try Self.compileExamples(into: dir)
        let (status, output) = try Self.python("scripts/pte/decode_with_executorch.py",
                                               ExampleModels.Name.allCases.map { paths[$0]!.path })
        print(output)
        #expect(status == 0, "\(output)")
        if !output.hasPrefix("SKIP") {
            for name in ExampleModels.Name.allCases { #expect(output.contains("\(name.rawValue).pte:")) }
        }
    }

    /// mlp and cnn run in ExecuTorch's runtime and match PyTorch. (decoder_block needs
    /// `aten::silu.out`, which the wheel's portable kernel library does not register.)
    @Test(arguments: [ExampleModels.Name.mlp, .cnn])
    func executorchRunsKilnsFile(_ name: ExampleModels.Name) throws {
        let dir = try Self.folder()
        let paths = try Self.compileExamples(into: dir)
        let expected = Self.root.appendingPathComponent("Tests/KilnExamplesTests/Fixtures/\(name.rawValue).torch.npy")
        let (status, output) = try Self.python("scripts/pte/run_with_executorch.py", [
            paths[name]!.path, "--input", dir.appendingPathComponent("\(name.rawValue).input.npy").path,
            "--expect", expected.path, "--rtol", "1e-6",
        ])
        print(output)
        #expect(status == 0, "\(output)")
    }

    /// ExecuTorch's own files for the Examples (exported from the same weights) decode in Kiln's
    /// reader: one method whose operators are ATen out-variants and whose constants fit the segment.
    @Test func kilnReadsExecuTorchsExamples() throws {
        let dir = try Self.folder()
        // The script reads the Examples' weights from .kir files: write them here, in-process
        // (a `swift run` from inside `swift test` would wait forever for the build lock).
        let examples = dir.appendingPathComponent("examples")
        for name in ExampleModels.Name.allCases {
            let model = try ExampleModels.build(name)
            let folder = examples.appendingPathComponent(name.rawValue)
            try FileIO.createDirectory(folder.path)
            try KIRFile.write(model.graph, to: folder.appendingPathComponent("\(name.rawValue).kir").path)
            try Npy.write(model.input, to: folder.appendingPathComponent("input.npy").path)
        }
        let (status, output) = try Self.python("scripts/pte/executorch_export.py",
                                               ["--out", dir.path, "--examples", "--examples-dir", examples.path])
        if output.contains("No module named") || output.hasPrefix("SKIP") {
            print("SKIP: executorch wheel not installed: \(output.suffix(200))")
            return
        }
        #expect(status == 0, "\(output)")
        for name in ExampleModels.Name.allCases {
            let bytes = try FileIO.read(path: dir.appendingPathComponent("\(name.rawValue).pte").path)
            let file = try PTEFile(decoding: bytes, path: name.rawValue)
            let plan = try #require(file.program.executionPlan.first)
            #expect(plan.name == "forward")
            #expect(!plan.operators.isEmpty && plan.operators.allSatisfy { $0.overload.hasSuffix("out") })
            #expect(file.program.constantSegment != nil)
        }
    }
}
