#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import KilnRuntime
import KilnTensor

/// `kiln bench`: load and run a `.pte` program repeatedly and report its latency.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time loading and running a .pte program; optionally profile every instruction.",
        discussion: """
            Loads FILE, binds the --input .npy files (or, with none, random inputs of each input's \
            dtype and shape, from a fixed seed: floats in [-1, 1), integers 0 or 1), runs the \
            method once (the first run), --warmup more times, then --iterations timed times. \
            Prints the load time (mapping, verifying, resolving kernels and backends, allocating \
            the arenas), the first-run time, min/median/p90/mean/max latency, and the resident \
            memory the load added: anonymous (arenas, metadata and the weights packed once for \
            the fast kernels; --no-prepack keeps every weight a view into the file) and \
            file-backed (pages of the mapped file and of code touched).

            --profile then runs --iterations more times with per-instruction timing and prints, \
            for each instruction, its operator or delegate, calls, total and mean time, share of \
            the run and the events its backend recorded (for example simulated device time), then \
            the same totals by operator. The latency figures come from the unprofiled runs.

            --json prints one JSON object instead: load_ms, first_run_ms, min_ms, median_ms, \
            p90_ms, mean_ms, max_ms, iterations, warmup, threads, rss_anon_load_bytes and \
            rss_file_load_bytes (resident memory the load added), method_owned_bytes, prepacked_bytes, inputs, and with --profile, instructions, operators and \
            initialization_events. \
            On a terminal, progress goes to standard error.
            """
    )

    @Argument(help: "The program: a .pte file.")
    var file: String

    @Option(name: .long, help: ArgumentHelp("An input tensor, one per method input, in order (default: random).",
                                            valueName: "x.npy"))
    var input: [String] = []

    @Option(help: "Untimed runs after the first run.")
    var warmup = 5

    @Option(help: "Timed runs.")
    var iterations = 50

    @Option(help: "Threads the kernels and delegates split their work across, the calling thread included.")
    var threads = 1

    @Option(help: "The method to run (default: the program's only method).")
    var method: String?

    @Flag(help: "Keep constant weights as views into the file instead of packing them once (less memory, slower).")
    var noPrepack = false

    @Flag(help: "Also time every instruction and print a per-instruction table.")
    var profile = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard warmup >= 0 else { throw ValidationError("--warmup must be 0 or more, got \(warmup)") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be 1 or more, got \(iterations)") }
        guard threads >= 1 else { throw ValidationError("--threads must be 1 or more, got \(threads)") }
    }

    func run() throws {
        try reportingErrors {
            KilnBackends.registerAll()
            let progress = Progress("bench")
            let residentBefore = residentMemory()
            var start = monotonicNanoseconds()
            let program = try Program.load(path: file)
            let runnable = try program.method(method, threads: threads, prepacksWeights: !noPrepack)
            let loadNanoseconds = monotonicNanoseconds() - start
            let residentAfter = residentMemory()

            let inputs: String
            if input.isEmpty {
                try runnable.setInputs(try MethodInputs.random(for: runnable))
                inputs = "random"
            } else {
                try MethodInputs.bind(files: input, to: runnable, programPath: file)
                inputs = input.joined(separator: ", ")
            }

            start = monotonicNanoseconds()
            try runnable.execute()
            let firstRun = monotonicNanoseconds() - start
            for i in 0..<warmup {
                progress.show("warmup \(i + 1)/\(warmup)")
                try runnable.execute()
            }
            var samples = [UInt64](repeating: 0, count: iterations)
            for i in 0..<iterations {
                progress.show("run \(i + 1)/\(iterations)")
                start = monotonicNanoseconds()
                try runnable.execute()
                samples[i] = monotonicNanoseconds() - start
            }
            var report = BenchReport(
                file: file, method: runnable.name, inputs: inputs, warmup: warmup, iterations: iterations,
                threads: runnable.threadCount,
                loadNanoseconds: loadNanoseconds, firstRunNanoseconds: firstRun, latency: LatencyStats(samples),
                residentGrowth: residentBefore.flatMap { before in residentAfter.map { $0 - before } },
                methodOwnedBytes: runnable.ownedByteCount, prepackedBytes: runnable.prepackedByteCount, profile: nil)
            if profile {
                runnable.resetProfile()
                runnable.isProfiling = true
                for i in 0..<iterations {
                    progress.show("profile \(i + 1)/\(iterations)")
                    try runnable.execute()
                }
                runnable.isProfiling = false
                report.profile = ProfileTable(summary: runnable.profileSummary)
            }
            progress.clear()
            print(json ? report.json.rendered : report.text, terminator: json ? "\n" : "")
        }
    }
}

/// Min, median, 90th percentile (nearest rank), mean and max of timed runs.
struct LatencyStats {
    var min: UInt64, median: Double, p90: UInt64, mean: Double, max: UInt64

    init(_ samples: [UInt64]) {
        let sorted = samples.sorted()
        let n = sorted.count
        min = sorted[0]
        max = sorted[n - 1]
        median = n % 2 == 1 ? Double(sorted[n / 2]) : (Double(sorted[n / 2 - 1]) + Double(sorted[n / 2])) / 2
        p90 = sorted[Swift.max(0, (9 * n + 9) / 10 - 1)]
        mean = Double(sorted.reduce(0, +)) / Double(n)
    }
}

/// Everything `kiln bench` measured, written as text or JSON.
struct BenchReport {
    var file: String
    var method: String
    var inputs: String
    var warmup: Int
    var iterations: Int
    /// Threads the method ran on.
    var threads: Int
    var loadNanoseconds: UInt64
    var firstRunNanoseconds: UInt64
    var latency: LatencyStats
    /// Resident-memory growth over the load (nil where /proc is unavailable).
    var residentGrowth: ResidentMemory?
    var methodOwnedBytes: Int
    /// Of ``methodOwnedBytes``, the constant weights packed at load.
    var prepackedBytes: Int
    var profile: ProfileTable?

    var text: String {
        var out = "\(file) method \"\(method)\" (inputs: \(inputs))\n"
        out += "load        \(ms(loadNanoseconds)) ms\n"
        out += "first run   \(ms(firstRunNanoseconds)) ms\n"
        out += "latency     min \(ms(latency.min)) ms, median \(ms(latency.median)) ms, p90 \(ms(latency.p90)) ms, "
            + "mean \(ms(latency.mean)) ms, max \(ms(latency.max)) ms (\(iterations) runs after \(warmup) warm-up, "
            + "\(threads) thread\(threads == 1 ? "" : "s"))\n"
        out += "memory      method owns \(bytes(methodOwnedBytes)) (arenas, kernel scratch and "
            + "\(bytes(prepackedBytes)) of packed weights)"
        if let residentGrowth {
            out += "; load added \(bytes(residentGrowth.anonymous)) anonymous and "
                + "\(bytes(residentGrowth.file)) file-backed resident memory"
        }
        out += "\n"
        if let profile { out += "\n" + profile.text }
        return out
    }

    var json: JSON {
        var fields: [(String, JSON)] = [
            ("file", .string(file)), ("method", .string(method)), ("inputs", .string(inputs)),
            ("load_ms", msJSON(loadNanoseconds)), ("first_run_ms", msJSON(firstRunNanoseconds)),
            ("min_ms", msJSON(latency.min)), ("median_ms", msJSON(latency.median)), ("p90_ms", msJSON(latency.p90)),
            ("mean_ms", msJSON(latency.mean)), ("max_ms", msJSON(latency.max)),
            ("iterations", .int(iterations)), ("warmup", .int(warmup)), ("threads", .int(threads)),
            ("rss_anon_load_bytes", residentGrowth.map { JSON.int($0.anonymous) } ?? .null),
            ("rss_file_load_bytes", residentGrowth.map { JSON.int($0.file) } ?? .null),
            ("method_owned_bytes", .int(methodOwnedBytes)), ("prepacked_bytes", .int(prepackedBytes)),
        ]
        if let profile {
            fields.append(("instructions", profile.instructionsJSON))
            fields.append(("operators", profile.operatorsJSON))
            fields.append(("initialization_events", profile.initializationEventsJSON))
        }
        return .object(fields)
    }
}

/// A profiled method's times as text and JSON.
struct ProfileTable {
    var summary: ProfileSummary

    var text: String {
        let runs = summary.executions
        var out = "profile over \(runs) run\(runs == 1 ? "" : "s") (times are totals over all runs)\n"
        out += table(header: ["#", "instruction", "calls", "total ms", "mean us", "share", "events"],
                     rows: summary.instructions.map { entry in
                         let location = entry.instruction?.location.map { " loc(\"\($0)\")" } ?? ""
                         return [String(entry.instruction?.index ?? 0), entry.subject + location, String(entry.calls),
                                 ms(entry.nanoseconds), FixedPoint.format(entry.meanNanoseconds / 1000, digits: 2),
                                 percent(entry.share), entry.events.map(Self.text).joined(separator: ", ")]
                     })
        out += "\nby operator\n"
        out += table(header: ["operator", "calls", "total ms", "mean us", "share", "events"],
                     rows: summary.operators.map { entry in
                         [entry.subject, String(entry.calls), ms(entry.nanoseconds),
                          FixedPoint.format(entry.meanNanoseconds / 1000, digits: 2), percent(entry.share),
                          entry.events.map(Self.text).joined(separator: ", ")]
                     })
        if !summary.initializationEvents.isEmpty {
            out += "\ninitialization events: " + summary.initializationEvents.map(Self.text).joined(separator: ", ") + "\n"
        }
        return out
    }

    var instructionsJSON: JSON { .array(summary.instructions.map(Self.json)) }
    var operatorsJSON: JSON { .array(summary.operators.map(Self.json)) }
    var initializationEventsJSON: JSON { .array(summary.initializationEvents.map(Self.json)) }

    private static func json(_ entry: ProfileSummary.Entry) -> JSON {
        var fields: [(String, JSON)] = []
        if let info = entry.instruction {
            fields.append(("index", .int(info.index)))
            fields.append(("kind", .string(info.kind.rawValue)))
        }
        fields.append(("subject", .string(entry.subject)))
        if let info = entry.instruction { fields.append(("location", info.location.map(JSON.string) ?? .null)) }
        fields += [("calls", .int(entry.calls)), ("total_ms", msJSON(entry.nanoseconds)),
                   ("mean_us", .number(entry.meanNanoseconds / 1000, digits: 3)), ("share", .number(entry.share, digits: 4)),
                   ("events", .array(entry.events.map(json)))]
        return .object(fields)
    }

    private static func json(_ event: ProfileSummary.EventTotal) -> JSON {
        .object([("name", .string(event.name)), ("count", .int(event.count)), ("total_ms", msJSON(event.nanoseconds))])
    }

    private static func text(_ event: ProfileSummary.EventTotal) -> String {
        "\(event.name) \(ms(event.nanoseconds)) ms" + (event.count > 1 ? " (\(event.count))" : "")
    }

    /// Columns padded to their widest cell; text columns left-aligned, numbers right-aligned.
    private func table(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        let leftAligned: Set<String> = ["instruction", "operator", "events"]
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                parts.append(leftAligned.contains(header[i]) ? cell + pad : pad + cell)
            }
            var text = parts.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text + "\n"
        }
        return ([line(header)] + rows.map(line)).joined()
    }
}

/// Progress on standard error, `[kiln <command>] message`, redrawn in place at most ten times a
/// second (and always when `force`, for a last step); off when standard error is not a terminal.
final class Progress {
    private let enabled: Bool
    private let label: String
    private var lastDraw: UInt64 = 0
    private var drawn = false

    init(_ command: String, enabled: Bool = isatty(2) != 0) {
        self.enabled = enabled
        label = "[kiln \(command)]"
    }

    func show(_ message: @autoclosure () -> String, force: Bool = false) {
        guard enabled else { return }
        let now = monotonicNanoseconds()
        guard force || now - lastDraw >= 100_000_000 else { return }
        lastDraw = now
        drawn = true
        printError("\r\u{1B}[K\(label) \(message())", newline: false)
    }

    /// A bar of `done` out of `total` (30 characters).
    static func bar(_ done: Int, of total: Int) -> String {
        let width = 30, filled = total > 0 ? min(done, total) * width / total : 0
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    func clear() {
        guard drawn else { return }
        printError("\r\u{1B}[K", newline: false)
    }
}

/// This process's resident memory from `/proc/self/status`: anonymous (heap, arenas) and
/// file-backed (mapped program and code) bytes, or nil where there is no such file.
func residentMemory() -> ResidentMemory? {
    guard let file = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(file) }
    var memory = ResidentMemory(anonymous: -1, file: -1)
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // "RssAnon:	    1234 kB"
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard fields.count >= 2, let kilobytes = Int(fields[1]) else { continue }
        if fields[0] == "RssAnon:" { memory.anonymous = kilobytes * 1024 }
        if fields[0] == "RssFile:" { memory.file = kilobytes * 1024 }
    }
    return memory.anonymous >= 0 && memory.file >= 0 ? memory : nil
}

/// Resident bytes by kind.
struct ResidentMemory {
    var anonymous: Int
    var file: Int

    static func - (lhs: ResidentMemory, rhs: ResidentMemory) -> ResidentMemory {
        ResidentMemory(anonymous: lhs.anonymous - rhs.anonymous, file: lhs.file - rhs.file)
    }
}

private func ms(_ nanoseconds: UInt64) -> String { FixedPoint.format(Double(nanoseconds) / 1e6, digits: 3) }
private func ms(_ nanoseconds: Double) -> String { FixedPoint.format(nanoseconds / 1e6, digits: 3) }
private func msJSON(_ nanoseconds: UInt64) -> JSON { .number(Double(nanoseconds) / 1e6, digits: 6) }
private func msJSON(_ nanoseconds: Double) -> JSON { .number(nanoseconds / 1e6, digits: 6) }
private func percent(_ share: Double) -> String { FixedPoint.format(share * 100, digits: 1) + "%" }

private func bytes(_ count: Int) -> String {
    let magnitude = abs(count)
    if magnitude >= 1 << 20 { return FixedPoint.format(Double(count) / 1048576, digits: 2) + " MiB" }
    if magnitude >= 1 << 10 { return FixedPoint.format(Double(count) / 1024, digits: 1) + " KiB" }
    return "\(count) B"
}
