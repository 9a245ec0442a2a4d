#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnKernels

/// What the machine can do at best on one core: fused multiply-adds from registers, and a large
/// memory copy. The kernels' figures are read against these.
enum Machine {
    /// fp32 GFLOP/s of a loop of independent SIMD16 fused multiply-adds: 16 accumulators, enough
    /// to keep both FMA pipes busy through the FMA latency. (A baseline x86-64 build,
    /// `KILN_PORTABLE=1`, has no FMA: it times a multiply and an add, as its GEMM does.)
    static func peakGflops() -> Double {
        let iterations = 20_000_000
        // A factor the compiler cannot see, so the loop runs as written.
        let y = SIMD16<Float>(repeating: Float(CommandLine.arguments.count) * 1e-9)
        var sink = SIMD16<Float>()
        // Each run's factor differs a little, so no run can be skipped as a repeat of the last.
        var run: Float = 1
        let seconds = fastest(minimumRuns: 3, budget: 0.3) {
            run += 1
            sink += fmaLoop(iterations, y * run)
        }
        if sink[0] == 42 { print("") }   // keep the result alive
        return Double(iterations) * 16 * 16 * 2 / seconds / 1e9
    }

    /// `a += a·y` on 16 independent vectors, `iterations` times.
    @inline(never)
    static func fmaLoop(_ iterations: Int, _ y: SIMD16<Float>) -> SIMD16<Float> {
        let x = SIMD16<Float>(repeating: 0.999_999)
        var a0 = x, a1 = x + 1, a2 = x + 2, a3 = x + 3, a4 = x + 4, a5 = x + 5, a6 = x + 6, a7 = x + 7
        var a8 = x + 8, a9 = x + 9, a10 = x + 10, a11 = x + 11, a12 = x + 12, a13 = x + 13, a14 = x + 14, a15 = x + 15
        for _ in 0..<iterations {
            #if KILN_PORTABLE && arch(x86_64)
            a0 = a0 + a0 * y; a1 = a1 + a1 * y; a2 = a2 + a2 * y; a3 = a3 + a3 * y
            a4 = a4 + a4 * y; a5 = a5 + a5 * y; a6 = a6 + a6 * y; a7 = a7 + a7 * y
            a8 = a8 + a8 * y; a9 = a9 + a9 * y; a10 = a10 + a10 * y; a11 = a11 + a11 * y
            a12 = a12 + a12 * y; a13 = a13 + a13 * y; a14 = a14 + a14 * y; a15 = a15 + a15 * y
            #else
            a0.addProduct(a0, y); a1.addProduct(a1, y); a2.addProduct(a2, y); a3.addProduct(a3, y)
            a4.addProduct(a4, y); a5.addProduct(a5, y); a6.addProduct(a6, y); a7.addProduct(a7, y)
            a8.addProduct(a8, y); a9.addProduct(a9, y); a10.addProduct(a10, y); a11.addProduct(a11, y)
            a12.addProduct(a12, y); a13.addProduct(a13, y); a14.addProduct(a14, y); a15.addProduct(a15, y)
            #endif
        }
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15
    }

    /// Read + write GB/s of copying 256 MiB (far beyond the caches) with `memcpy`.
    static func copyGigabytesPerSecond() -> Double {
        let bytes = 256 << 20
        let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let destination = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer {
            source.deallocate()
            destination.deallocate()
        }
        source.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
        destination.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        let seconds = fastest(minimumRuns: 5, budget: 0.5) { destination.copyMemory(from: source, byteCount: bytes) }
        return 2 * Double(bytes) / seconds / 1e9
    }
}

extension Machine {
    /// The CPU's model name from /proc/cpuinfo ("unknown CPU" elsewhere).
    static func cpuName() -> String {
        guard let file = fopen("/proc/cpuinfo", "r") else { return "unknown CPU" }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if text.hasPrefix("model name"), let colon = text.firstIndex(of: ":") {
                return text[text.index(after: colon)...].trimmingCharacters(in: " \t\n")
            }
        }
        return "unknown CPU"
    }
}

extension Substring {
    /// The text without `characters` at either end.
    func trimmingCharacters(in characters: String) -> String {
        var s = self
        while let first = s.first, characters.contains(first) { s = s.dropFirst() }
        while let last = s.last, characters.contains(last) { s = s.dropLast() }
        return String(s)
    }
}

extension Machine {
    /// Microseconds one empty parallel region takes on `pool` (waking its workers and waiting
    /// for them): the overhead a kernel pays to split its work.
    static func regionMicroseconds(_ pool: ThreadPool) -> Double {
        struct Nothing: ParallelWork { func run(_ index: Int) {} }
        let regions = 2000
        let seconds = fastest(minimumRuns: 3, budget: 0.3) {
            for _ in 0..<regions { pool.parallelFor(pool.threadCount, Nothing()) }
        }
        return seconds / Double(regions) * 1e6
    }
}
