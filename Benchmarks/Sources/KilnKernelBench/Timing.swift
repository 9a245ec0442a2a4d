#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// The fastest of several runs of `body` (after one warm-up run): at least `minimumRuns`, and
/// more until about `budget` seconds have passed. The minimum is the figure least disturbed by
/// other work on the machine.
func fastest(minimumRuns: Int = 5, budget: Double = 0.5, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    var runs = 0
    let start = now()
    while runs < minimumRuns || now() - start < budget {
        let t0 = now()
        body()
        best = min(best, now() - t0)
        runs += 1
        if runs >= 1000 { break }
    }
    return best
}

/// `count` floats uniformly in [-1, 1) from a fixed seed, in memory aligned to 64 bytes (never freed:
/// the benchmark runs once).
func randomFloats(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64).bindMemory(to: Float.self,
                                                                                                   capacity: max(count, 1))
    var state = seed
    for i in 0..<count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        p[i] = Float(Int32(truncatingIfNeeded: state >> 32)) / Float(Int32.max)
    }
    return p
}
