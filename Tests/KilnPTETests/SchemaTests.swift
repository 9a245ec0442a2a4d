import Foundation
import Testing

/// Schemas/program.fbs must declare exactly what ExecuTorch's schema does (wire compatibility).
/// The comparison itself is scripts/pte/compare_schema.py; this runs it as part of `swift test`.
@Suite struct SchemaTests {
    /// The repository root: this file is Tests/KilnPTETests/SchemaTests.swift.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func schemaMatchesExecuTorchWheel() throws {
        guard let python = Self.executableOnPath("python3") else {
            print("SKIP: python3 not found on PATH; schema not compared with ExecuTorch's")
            return
        }
        let script = Self.repositoryRoot.appendingPathComponent("scripts/pte/compare_schema.py")
        let process = Process()
        process.executableURL = python
        process.arguments = [script.path]
        process.currentDirectoryURL = Self.repositoryRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        if process.terminationStatus == 0 && output.hasPrefix("SKIP:") {
            print(output.trimmingCharacters(in: .whitespacesAndNewlines))
            return
        }
        #expect(process.terminationStatus == 0, "compare_schema.py failed:\n\(output)")
        #expect(output.hasPrefix("schemas match:"), "unexpected output:\n\(output)")
    }

    static func executableOnPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}
