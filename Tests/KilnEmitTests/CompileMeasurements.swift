#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnEmit
import KilnExamples
import KilnIR
import Testing

/// Compile figures (time, file size, arena against its lower bound) for a 100-layer MLP and the
/// examples. A measurement, not a test: it asserts nothing about time and runs only when asked,
/// in a release build:
///
/// ```
/// KILN_MEASURE=1 swift test -c release --filter CompileMeasurements
/// ```
@Suite(.enabled(if: Environment.measure, "set KILN_MEASURE=1 (and build with -c release) to measure"))
struct CompileMeasurements {
    @Test func deepMLPAndExamples() throws {
        var rows: [(String, CompileReport)] = []
        let clock = ContinuousClock()
        let start = clock.now
        let mlp = try deepMLP(layers: 100, hidden: 1024)
        print("built mlp100x1024 in \(clock.now - start)")
        rows.append(("mlp100x1024", try KilnCompiler.compile(mlp).report))
        for name in ExampleModels.Name.allCases {
            rows.append((name.rawValue, try KilnCompiler.compile(try ExampleModels.build(name).graph).report))
        }
        for (name, r) in rows {
            print("\(name): \(r.nodesBefore) -> \(r.instructions) instructions; passes \(ms(r.passSeconds)), "
                  + "plan \(ms(r.planSeconds)), emit \(ms(r.emitSeconds)), serialize \(ms(r.serializeSeconds)), "
                  + "total \(ms(r.totalSeconds)); file \(r.fileBytes) B; constants \(r.constantBytes) B; "
                  + "arena \(r.arenaBytes) B, lower bound \(r.arenaLowerBound) B")
        }
    }

    private func ms(_ seconds: Double) -> String { "\((seconds * 1e4).rounded() / 10) ms" }
}

enum Environment {
    static var measure: Bool {
        guard let value = getenv("KILN_MEASURE") else { return false }
        return String(cString: value) == "1"
    }
}
