@testable import KilnKernels
import KilnTensor
import Testing

/// ``FloatGemm`` against two oracles:
/// - exactly (bit for bit) against the scalar loop that defines its rounding: each element is
///   `fma(A[i, p], B[p, j], c)` for `p` in order from `C` or zero, whatever the blocking,
///   packing, edge kernel, GEMV path or thread split;
/// - within the error bound of two sequential sums against the reference ``Gemm`` (unfused):
///   `|fast - reference| <= 2·k·u·Σ_p |A[i, p]·B[p, j]| + 2·u·|C₀|`, `u = 2⁻²⁴`.
@Suite struct GemmTests {
    /// A product's operands in one of the layouts the kernels pass.
    struct Problem: CustomTestStringConvertible, Sendable {
        var m: Int, n: Int, k: Int
        var transposedA = false
        var transposedB = false
        var accumulate = false
        /// Extra floats between rows of C (C is then strided).
        var cPadding = 0

        var testDescription: String {
            "\(m)x\(n)x\(k)\(transposedA ? " A^T" : "")\(transposedB ? " B^T" : "")\(accumulate ? " +=" : "")"
                + (cPadding > 0 ? " ldc+\(cPadding)" : "")
        }

        var ldc: Int { n + cPadding }
    }

    static let problems: [Problem] = [
        Problem(m: 1, n: 1, k: 1),
        Problem(m: 1, n: 7, k: 31),
        Problem(m: 7, n: 1, k: 33),
        Problem(m: 7, n: 33, k: 5, accumulate: true),
        Problem(m: 31, n: 33, k: 257),                       // two depth blocks
        Problem(m: 33, n: 257, k: 31, transposedB: true),     // linear's transposed weight
        Problem(m: 15, n: 65, k: 7, transposedA: true, cPadding: 3),
        Problem(m: 14, n: 32, k: 16, transposedA: true, transposedB: true, accumulate: true),
        Problem(m: 170, n: 20, k: 9),                         // two row blocks, every edge kernel
        Problem(m: 3, n: 530, k: 5, accumulate: true, cPadding: 1), // two column blocks
        Problem(m: 9, n: 40, k: 0),
        Problem(m: 9, n: 40, k: 0, accumulate: true),
        Problem(m: 0, n: 5, k: 3),
        Problem(m: 5, n: 0, k: 3),
    ]

    /// GEMV widths around the 128-, 32- and 16-column steps.
    static let vectorProblems: [Problem] = [1, 15, 16, 17, 31, 32, 129, 161, 300].map {
        Problem(m: 1, n: $0, k: 37)
    } + [Problem(m: 1, n: 200, k: 300, accumulate: true), Problem(m: 1, n: 70, k: 9, transposedB: true)]

    @Test(arguments: problems + vectorProblems)
    func matchesTheFusedLoopExactly(_ problem: Problem) {
        let data = ProblemData(problem, seed: 1)
        let want = data.fusedOracle()
        let got = data.run { c in
            FloatGemm.multiply(m: problem.m, n: problem.n, k: problem.k, a: data.a, b: data.b, c: c, ldc: problem.ldc,
                               accumulate: problem.accumulate)
        }
        #expect(firstDifference(got, want) == nil, "\(firstDifference(got, want) ?? "")")
    }

    @Test(arguments: problems + vectorProblems)
    func staysWithinTheBoundOfTheReference(_ problem: Problem) {
        let data = ProblemData(problem, seed: 2)
        let fast = data.run { c in
            FloatGemm.multiply(m: problem.m, n: problem.n, k: problem.k, a: data.a, b: data.b, c: c, ldc: problem.ldc,
                               accumulate: problem.accumulate)
        }
        let reference = data.run { c in
            Gemm.referenceMultiply(m: problem.m, n: problem.n, k: problem.k, a: data.a, b: data.b, c: c, ldc: problem.ldc,
                                   accumulate: problem.accumulate)
        }
        let u = Double(Float.ulpOfOne) / 2
        for i in 0..<problem.m {
            for j in 0..<problem.n {
                var magnitude = 0.0
                for p in 0..<problem.k { magnitude += abs(Double(data.a[i, p]) * Double(data.b[p, j])) }
                let start = problem.accumulate ? abs(Double(data.c0[i * problem.ldc + j])) : 0
                let bound = 2 * Double(problem.k) * u * magnitude + 2 * u * start
                let d = abs(Double(fast[i * problem.ldc + j]) - Double(reference[i * problem.ldc + j]))
                #expect(d <= bound, "[\(i), \(j)]: fast \(fast[i * problem.ldc + j]), reference \(reference[i * problem.ldc + j])")
            }
        }
    }

    @Test(arguments: problems + vectorProblems)
    func prepackedOperandsGiveTheSameBits(_ problem: Problem) {
        let data = ProblemData(problem, seed: 3)
        let want = data.run { c in
            FloatGemm.multiply(m: problem.m, n: problem.n, k: problem.k, a: data.a, b: data.b, c: c, ldc: problem.ldc,
                               accumulate: problem.accumulate)
        }
        var packedB = [Float](repeating: .nan, count: FloatGemm.packedBCount(k: problem.k, n: problem.n) + 1)
        let withPackedB = packedB.withUnsafeMutableBufferPointer { buffer in
            let packed = FloatGemm.packB(data.b, k: problem.k, n: problem.n, into: buffer.baseAddress!)
            return data.run { c in
                FloatGemm.multiply(m: problem.m, a: data.a, b: packed, c: c, ldc: problem.ldc, accumulate: problem.accumulate)
            }
        }
        #expect(firstDifference(withPackedB, want) == nil, "B packed: \(firstDifference(withPackedB, want) ?? "")")
        var packedA = [Float](repeating: .nan, count: FloatGemm.packedACount(m: problem.m, k: problem.k) + 1)
        let withPackedA = packedA.withUnsafeMutableBufferPointer { buffer in
            let packed = FloatGemm.packA(data.a, m: problem.m, k: problem.k, into: buffer.baseAddress!)
            return data.run { c in
                FloatGemm.multiply(n: problem.n, a: packed, b: data.b, c: c, ldc: problem.ldc, accumulate: problem.accumulate)
            }
        }
        #expect(firstDifference(withPackedA, want) == nil, "A packed: \(firstDifference(withPackedA, want) ?? "")")
    }

    /// Every split (by columns, by rows, GEMV) on 2 and 3 threads gives the single thread's bits.
    @Test(arguments: [Problem(m: 40, n: 300, k: 70), Problem(m: 200, n: 20, k: 30, transposedB: true),
                      Problem(m: 3, n: 100, k: 300, accumulate: true), Problem(m: 1, n: 300, k: 50),
                      Problem(m: 1, n: 100, k: 20, transposedB: true)])
    func threadsGiveTheSameBits(_ problem: Problem) {
        let data = ProblemData(problem, seed: 4)
        let want = data.fusedOracle()
        for threads in [2, 3] {
            let pool = ThreadPool(threads: threads)
            let got = data.run { c in
                let count = FloatGemm.workspaceCount(m: problem.m, n: problem.n, k: problem.k, threads: threads)
                let workspace = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
                defer { workspace.deallocate() }
                // Parallel from the smallest size up, so these small products split.
                FloatGemm.product(m: problem.m, n: problem.n, k: problem.k, a: StridedPanels(a: data.a),
                                  b: StridedPanels(b: data.b), c: c, ldc: problem.ldc, accumulate: problem.accumulate,
                                  workspace: workspace, threads: pool, parallelMinimumFlops: 0)
            }
            #expect(pool.threadCount == threads)
            #expect(firstDifference(got, want) == nil, "\(threads) threads: \(firstDifference(got, want) ?? "")")
        }
    }

    @Test func zeroTimesInfinityIsNaN() {
        // The reference loop skips nothing; neither may the fast one (no zero shortcut, and the
        // zero padding of edge panels must not leak into real elements).
        var a: [Float] = [0, 1, 2, 3]            // [2, 2]
        var b: [Float] = [.infinity, 1, 1, 1]    // [2, 2]
        var c = [Float](repeating: 7, count: 4)
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                FloatGemm.multiply(m: 2, n: 2, k: 2, a: .rowMajor(UnsafePointer(pa.baseAddress!), columns: 2),
                                   b: .rowMajor(UnsafePointer(pb.baseAddress!), columns: 2), c: &c, ldc: 2,
                                   accumulate: false)
            }
        }
        #expect(c[0].isNaN)          // 0·inf + 1·1
        #expect(c[1] == 1)           // 0·1 + 1·1
        #expect(c[2] == .infinity)   // 2·inf + 3·1
        #expect(c[3] == 5)
    }

    @Test func aPoolRunsEveryTaskOnce() {
        struct Count: ParallelWork {
            let slots: UnsafeMutableBufferPointer<Int>
            let offset: Int
            func run(_ index: Int) { slots[offset + index] += 1 }
        }
        struct Nested: ParallelWork {
            let pool: ThreadPool
            let slots: UnsafeMutableBufferPointer<Int>
            func run(_ index: Int) { pool.parallelFor(5, Count(slots: slots, offset: 10 + index * 5)) }
        }
        let pool = ThreadPool(threads: 3)
        var runs = [Int](repeating: 0, count: 20)
        runs.withUnsafeMutableBufferPointer { slots in
            for _ in 0..<5 { pool.parallelFor(10, Count(slots: slots, offset: 0)) }
            // A region inside a region runs on the calling thread.
            pool.parallelFor(2, Nested(pool: pool, slots: slots))
        }
        #expect(Array(runs[..<10]) == Array(repeating: 5, count: 10))
        #expect(Array(runs[10...]) == Array(repeating: 1, count: 10))
        #expect(pool.threadCount == 3)
        #expect(ThreadPool.serial.threadCount == 1)
    }
}

/// Seeded operands for a ``GemmTests/Problem`` and the starting `C`.
final class ProblemData {
    let problem: GemmTests.Problem
    let aStorage: UnsafeMutableBufferPointer<Float>
    let bStorage: UnsafeMutableBufferPointer<Float>
    let a: Gemm.Operand<Float>
    let b: Gemm.Operand<Float>
    /// The starting C (the padding between rows holds a marker that must survive).
    let c0: [Float]

    init(_ problem: GemmTests.Problem, seed: UInt64) {
        self.problem = problem
        var rng = SeededGenerator(seed: seed)
        let (m, n, k) = (problem.m, problem.n, problem.k)
        aStorage = .allocate(capacity: Swift.max(m * k, 1))
        bStorage = .allocate(capacity: Swift.max(k * n, 1))
        for i in 0..<aStorage.count { aStorage[i] = Float.random(in: -1...1, using: &rng) }
        for i in 0..<bStorage.count { bStorage[i] = Float.random(in: -1...1, using: &rng) }
        let pa = UnsafePointer(aStorage.baseAddress!), pb = UnsafePointer(bStorage.baseAddress!)
        a = problem.transposedA ? .transposed(pa, columns: m) : .rowMajor(pa, columns: k)
        b = problem.transposedB ? .transposed(pb, columns: k) : .rowMajor(pb, columns: n)
        c0 = (0..<Swift.max(m * problem.ldc, 1)).map { i in
            problem.ldc == 0 || i % problem.ldc >= n ? 12345 : Float.random(in: -1...1, using: &rng)
        }
    }

    deinit {
        aStorage.deallocate()
        bStorage.deallocate()
    }

    /// C after `body` runs on a copy of the starting C.
    func run(_ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        var c = c0
        c.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
        return c
    }

    /// The defining loop: `c = fma(a, b, c)` in `p` order (``FloatGemm/multiplyAdd(_:_:_:)``).
    func fusedOracle() -> [Float] {
        var c = c0
        for i in 0..<problem.m {
            for j in 0..<problem.n {
                var sum: Float = problem.accumulate ? c[i * problem.ldc + j] : 0
                for p in 0..<problem.k { sum = FloatGemm.multiplyAdd(sum, a[i, p], b[p, j]) }
                c[i * problem.ldc + j] = sum
            }
        }
        return c
    }
}

/// The first element whose bits differ, described; nil when all are identical.
func firstDifference(_ got: [Float], _ want: [Float]) -> String? {
    guard got.count == want.count else { return "\(got.count) elements, expected \(want.count)" }
    for (i, (g, w)) in zip(got, want).enumerated() where g.bitPattern != w.bitPattern {
        return "element \(i): \(g), expected \(w)"
    }
    return nil
}
