// KilnKernelBench: the kernel benchmarks, in one run.
//
//     swift run -c release --package-path Benchmarks KilnKernelBench [--json] [--threads N]
//
// Measures, on one thread (and, unless --threads 1, on N threads, default 2): the machine's peak
// fp32 FMA rate and memory-copy bandwidth, then the fp32 GEMM, GEMV, convolutions and the int8
// GEMM, and the old reference GEMM loop for the speed-up. Each figure is the fastest of several
// runs (at least 5, about half a second each). Prints a table and a PASS/FAIL line per bar
// (single thread); --json prints the same as one JSON object. Exits 1 when a bar fails.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnKernels

// MARK: - Options

/// A line on standard error.
func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

var json = false
var threadColumn = 2
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--json": json = true
    case "--threads":
        guard let value = arguments.popFirst().flatMap(Int.init), value >= 1 else {
            printError("KilnKernelBench: --threads takes a count of 1 or more")
            exit(64)
        }
        threadColumn = value
    case "-h", "--help":
        print("usage: KilnKernelBench [--json] [--threads N]   (N: the second column's threads, default 2; 1: none)")
        exit(0)
    default:
        printError("KilnKernelBench: unknown argument \(argument)")
        exit(64)
    }
}

/// Progress on standard error, so standard output stays the table (or the JSON).
func progress(_ text: String) { printError("  \(text)...") }

// MARK: - Measurements

let pools = threadColumn > 1 ? [ThreadPool.serial, ThreadPool(threads: threadColumn)] : [ThreadPool.serial]

/// One row of the table: a figure per thread count, and what it means.
struct Row {
    var name: String
    var unit: String
    var values: [Double]
    /// A comparison on the single-thread figure ("81% of peak").
    var note: String = ""
    var key: String
}

var rows: [Row] = []

progress("peak fp32 FMA rate")
let peak = Machine.peakGflops()
rows.append(Row(name: "peak fp32 FMA (16 independent SIMD16 chains)", unit: "GFLOP/s", values: [peak], key: "peak_fma"))
progress("memory copy")
let copy = Machine.copyGigabytesPerSecond()
rows.append(Row(name: "memory copy 256 MiB (read + write)", unit: "GB/s", values: [copy], key: "memory_copy"))

if pools.count > 1 {
    progress("thread pool dispatch")
    rows.append(Row(name: "empty parallel region (wake the workers, wait for them)", unit: "us",
                    values: [0, Machine.regionMicroseconds(pools[1])], note: "1 thread: none", key: "parallel_region"))
}

func gflops(_ m: Int, _ n: Int, _ k: Int, _ seconds: Double) -> Double { 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9 }
func percent(_ value: Double, of reference: Double) -> String { "\(Int((100 * value / reference).rounded()))%" }

progress("fp32 GEMM 256x256x256")
let gemm256 = pools.map { gflops(256, 256, 256, KernelBenchmarks.floatGemm(m: 256, n: 256, k: 256, .perCall, threads: $0)) }
rows.append(Row(name: "fp32 GEMM 256x256x256 (B packed per call)", unit: "GFLOP/s", values: gemm256,
                note: "\(percent(gemm256[0], of: peak)) of peak", key: "f32_gemm_256"))

progress("fp32 GEMM 64x4096x4096")
let gemmLarge = pools.map { gflops(64, 4096, 4096, KernelBenchmarks.floatGemm(m: 64, n: 4096, k: 4096, .prepacked, threads: $0)) }
rows.append(Row(name: "fp32 GEMM 64x4096x4096 (linear, weight prepacked)", unit: "GFLOP/s", values: gemmLarge,
                note: "\(percent(gemmLarge[0], of: peak)) of peak", key: "f32_gemm_64x4096x4096"))
let gemmLargePerCall = pools.map {
    gflops(64, 4096, 4096, KernelBenchmarks.floatGemm(m: 64, n: 4096, k: 4096, .perCall, threads: $0))
}
rows.append(Row(name: "fp32 GEMM 64x4096x4096 (B packed per call)", unit: "GFLOP/s", values: gemmLargePerCall,
                note: "\(percent(gemmLargePerCall[0], of: peak)) of peak", key: "f32_gemm_64x4096x4096_per_call"))

progress("GEMV 1x4096x4096")
let gemv = pools.map { 4.0 * 4096 * 4096 / KernelBenchmarks.floatGemm(m: 1, n: 4096, k: 4096, .prepacked, threads: $0) / 1e9 }
rows.append(Row(name: "fp32 GEMV 1x4096x4096 (weight prepacked), weight bytes", unit: "GB/s", values: gemv,
                note: "\(percent(gemv[0], of: copy)) of copy", key: "f32_gemv_4096x4096"))

progress("convolution 3x3 64 -> 64 at 56x56")
let conv = try pools.map {
    gflops(64, 56 * 56, 64 * 9, try KernelBenchmarks.convolution(channels: 64, outChannels: 64, size: 56, groups: 1, threads: $0))
}
rows.append(Row(name: "conv 3x3 1x64x56x56 -> 64, pad 1 (kernel, prepacked)", unit: "GFLOP/s", values: conv,
                note: "\(percent(conv[0], of: peak)) of peak", key: "f32_conv3x3_64_56"))

progress("depthwise 3x3 144 at 56x56")
let depthwise = try pools.map {
    gflops(144, 56 * 56, 9, try KernelBenchmarks.convolution(channels: 144, outChannels: 144, size: 56, groups: 144, threads: $0))
}
// Bytes: the input and output planes once each.
let depthwiseBytes = 2 * 4.0 * 144 * 56 * 56
rows.append(Row(name: "depthwise 3x3 1x144x56x56, pad 1 (kernel)", unit: "GFLOP/s", values: depthwise,
                note: "\(Int((depthwise[0] / (2 * 144 * 9 * 56 * 56 / 1e9) * depthwiseBytes / 1e9).rounded())) GB/s of activations",
                key: "f32_depthwise3x3_144_56"))

progress("int8 GEMM 64x4096x4096")
let int8 = pools.map { gflops(64, 4096, 4096, KernelBenchmarks.int8Gemm(m: 64, n: 4096, k: 4096, threads: $0)) }
let int8Ratio = int8[0] / gemmLarge[0]
rows.append(Row(name: "int8 GEMM 64x4096x4096 (\(Int8Gemm.kernelName()))", unit: "GOP/s", values: int8,
                note: "\(Double(Int((int8Ratio * 10).rounded())) / 10)x fp32", key: "i8_gemm_64x4096x4096"))

progress("reference loop 256x256x256")
let reference256 = gflops(256, 256, 256, KernelBenchmarks.referenceGemm(m: 256, n: 256, k: 256))
rows.append(Row(name: "reference loop 256x256x256", unit: "GFLOP/s", values: [reference256],
                note: "fast: \(Int((gemm256[0] / reference256).rounded()))x", key: "reference_gemm_256"))
progress("reference loop 64x4096x4096")
let referenceLarge = gflops(64, 4096, 4096, KernelBenchmarks.referenceGemm(m: 64, n: 4096, k: 4096))
rows.append(Row(name: "reference loop 64x4096x4096", unit: "GFLOP/s", values: [referenceLarge],
                note: "fast: \(Int((gemmLarge[0] / referenceLarge).rounded()))x", key: "reference_gemm_64x4096x4096"))

// MARK: - Bars (single thread)

struct Bar {
    var name: String
    var value: Double
    var threshold: Double
    var key: String
    var passes: Bool { value >= threshold }
}

let bars = [
    Bar(name: "fp32 GEMM 256^3 >= 50% of peak", value: gemm256[0] / peak, threshold: 0.5, key: "f32_gemm_256"),
    Bar(name: "fp32 GEMM 64x4096x4096 >= 50% of peak", value: gemmLarge[0] / peak, threshold: 0.5,
        key: "f32_gemm_64x4096x4096"),
    Bar(name: "GEMV weight bytes/s >= 60% of copy", value: gemv[0] / copy, threshold: 0.6, key: "f32_gemv"),
    Bar(name: "int8 GEMM >= 2x fp32 at 64x4096x4096", value: int8Ratio, threshold: 2, key: "i8_over_f32"),
]

// MARK: - Output

func fixed(_ value: Double, _ digits: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = "\(rounded)"
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        text += "." + String(repeating: "0", count: digits)
    }
    return text
}

func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return left ? fill + text : text + fill
}

func jsonString(_ text: String) -> String {
    var out = "\""
    for c in text.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default: out.unicodeScalars.append(c)
        }
    }
    return out + "\""
}

let cpu = Machine.cpuName()
if json {
    var fields: [String] = []
    fields.append("\"cpu\": \(jsonString(cpu))")
    fields.append("\"threads\": [\(pools.map { String($0.threadCount) }.joined(separator: ", "))]")
    fields.append("\"int8_kernel\": \(jsonString(Int8Gemm.kernelName()))")
    let results = rows.map { row in
        "{\"key\": \(jsonString(row.key)), \"name\": \(jsonString(row.name)), \"unit\": \(jsonString(row.unit)), "
            + "\"values\": [\(row.values.map { fixed($0, 2) }.joined(separator: ", "))], \"note\": \(jsonString(row.note))}"
    }
    fields.append("\"results\": [\n    " + results.joined(separator: ",\n    ") + "\n  ]")
    let barFields = bars.map { bar in
        "{\"key\": \(jsonString(bar.key)), \"name\": \(jsonString(bar.name)), \"value\": \(fixed(bar.value, 3)), "
            + "\"threshold\": \(fixed(bar.threshold, 2)), \"pass\": \(bar.passes)}"
    }
    fields.append("\"bars\": [\n    " + barFields.joined(separator: ",\n    ") + "\n  ]")
    print("{\n  " + fields.joined(separator: ",\n  ") + "\n}")
} else {
    print("Kiln kernel benchmarks on \(cpu)")
    let header = [pad("benchmark", 56), pad("unit", 8), pad("1 thread", 10, left: true)]
        + (pools.count > 1 ? [pad("\(pools[1].threadCount) threads", 10, left: true)] : []) + ["  note"]
    print(header.joined(separator: " "))
    for row in rows {
        var cells = [pad(row.name, 56), pad(row.unit, 8), pad(fixed(row.values[0]), 10, left: true)]
        if pools.count > 1 { cells.append(pad(row.values.count > 1 ? fixed(row.values[1]) : "", 10, left: true)) }
        cells.append("  " + row.note)
        print(cells.joined(separator: " "))
    }
    print("")
    for bar in bars {
        let shown = bar.key == "i8_over_f32" ? "\(fixed(bar.value, 2))x" : "\(Int((bar.value * 100).rounded()))%"
        print("\(bar.passes ? "PASS" : "FAIL")  \(bar.name): \(shown)")
    }
}
exit(bars.allSatisfy(\.passes) ? 0 : 1)
