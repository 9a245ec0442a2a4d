import KilnKernels
import KilnTensor
import Testing

/// ``Int8Gemm`` exactly against the naive loop (Int64 sums truncated to Int32, the wrapping the
/// int32 accumulators give), on the VNNI kernel (where this CPU has it) and the portable one.
@Suite struct Int8GemmTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        var m: Int, n: Int, k: Int
        var testDescription: String { "\(m)x\(n)x\(k)" }
    }

    /// Edges of the 14x32 tile and of the groups of four k (k = 1, 3, 5, 7 leave 1-3 padded).
    static let shapes: [Shape] = [
        Shape(m: 1, n: 1, k: 1), Shape(m: 1, n: 33, k: 3), Shape(m: 14, n: 32, k: 4), Shape(m: 15, n: 31, k: 5),
        Shape(m: 29, n: 65, k: 7), Shape(m: 3, n: 100, k: 130), Shape(m: 40, n: 70, k: 259), Shape(m: 5, n: 9, k: 0),
    ]

    static let implementations: [Int8Gemm.Implementation] = [.vnni, .portable]

    @Test(arguments: shapes, implementations)
    func signedMatchesTheNaiveLoop(_ shape: Shape, _ implementation: Int8Gemm.Implementation) {
        var rng = SeededGenerator(seed: 21)
        let a = (0..<(shape.m * shape.k)).map { _ in Int8.random(in: .min ... .max, using: &rng) }
        let b = (0..<(shape.k * shape.n)).map { _ in Int8.random(in: .min ... .max, using: &rng) }
        let got = run(shape, b, implementation) { packed, c in
            a.withUnsafeBufferPointer { pa in
                Int8Gemm.multiply(m: shape.m, a: pa.baseAddress!, lda: shape.k, b: packed, c: c, ldc: shape.n,
                                  implementation: implementation)
            }
        }
        #expect(got == Self.naive(shape, a.map(Int64.init), b))
    }

    @Test(arguments: shapes, implementations)
    func unsignedMatchesTheNaiveLoop(_ shape: Shape, _ implementation: Int8Gemm.Implementation) {
        var rng = SeededGenerator(seed: 22)
        let a = (0..<(shape.m * shape.k)).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        let b = (0..<(shape.k * shape.n)).map { _ in Int8.random(in: .min ... .max, using: &rng) }
        let got = run(shape, b, implementation) { packed, c in
            a.withUnsafeBufferPointer { pa in
                Int8Gemm.multiply(m: shape.m, a: pa.baseAddress!, lda: shape.k, b: packed, c: c, ldc: shape.n,
                                  implementation: implementation)
            }
        }
        #expect(got == Self.naive(shape, a.map(Int64.init), b))
    }

    /// The extremes everywhere: -128·-128 and 255·-128 sums, and a k large enough that the sums
    /// wrap around Int32 (the unsigned case: 255·-128 · 70000 < -2³¹).
    @Test(arguments: implementations)
    func extremeValuesAndWrapping(_ implementation: Int8Gemm.Implementation) {
        for (aValue, bValue, k) in [(Int8.min, Int8.min, 67), (Int8.max, Int8.min, 67), (Int8.min, Int8.max, 5)] {
            let shape = Shape(m: 3, n: 35, k: k)
            let a = [Int8](repeating: aValue, count: shape.m * k), b = [Int8](repeating: bValue, count: k * shape.n)
            let got = run(shape, b, implementation) { packed, c in
                a.withUnsafeBufferPointer { pa in
                    Int8Gemm.multiply(m: shape.m, a: pa.baseAddress!, lda: k, b: packed, c: c, ldc: shape.n,
                                      implementation: implementation)
                }
            }
            #expect(got == Self.naive(shape, a.map(Int64.init), b), "a = \(aValue), b = \(bValue)")
        }
        let shape = Shape(m: 2, n: 3, k: 70_000)
        let a = [UInt8](repeating: 255, count: shape.m * shape.k), b = [Int8](repeating: -128, count: shape.k * shape.n)
        let got = run(shape, b, implementation) { packed, c in
            a.withUnsafeBufferPointer { pa in
                Int8Gemm.multiply(m: shape.m, a: pa.baseAddress!, lda: shape.k, b: packed, c: c, ldc: shape.n,
                                  implementation: implementation)
            }
        }
        let want = Int32(truncatingIfNeeded: Int64(255 * -128) * 70_000)
        #expect(got == [Int32](repeating: want, count: 6))
        #expect(Int64(want) != Int64(255 * -128) * 70_000, "the sum must wrap for this test to mean anything")
    }

    @Test func threadsGiveTheSameResults() {
        let shape = Shape(m: 30, n: 300, k: 600)   // 10.8M operations: split
        var rng = SeededGenerator(seed: 23)
        let a = (0..<(shape.m * shape.k)).map { _ in Int8.random(in: .min ... .max, using: &rng) }
        let b = (0..<(shape.k * shape.n)).map { _ in Int8.random(in: .min ... .max, using: &rng) }
        let pool = ThreadPool(threads: 3)
        let got = run(shape, b, .automatic) { packed, c in
            a.withUnsafeBufferPointer { pa in
                Int8Gemm.multiply(m: shape.m, a: pa.baseAddress!, lda: shape.k, b: packed, c: c, ldc: shape.n, threads: pool)
            }
        }
        #expect(got == Self.naive(shape, a.map(Int64.init), b))
    }

    @Test func theKernelNameSaysWhichRuns() {
        #expect(Int8Gemm.kernelName(.portable) == "u8s8_gemm_14x32__portable")
        #expect(Int8Gemm.kernelName(.vnni) == (Int8Gemm.vnniAvailable ? "u8s8_gemm_14x32__avx512vnni"
                                                                        : "u8s8_gemm_14x32__portable"))
    }

    /// Packs `b`, runs `body` on a C filled with a marker, returns C.
    func run(_ shape: Shape, _ b: [Int8], _ implementation: Int8Gemm.Implementation,
             _ body: (Int8Gemm.PackedB, UnsafeMutablePointer<Int32>) -> Void) -> [Int32] {
        let bytes = Int8Gemm.packedBBytes(k: shape.k, n: shape.n)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { storage.deallocate() }
        storage.initializeMemory(as: UInt8.self, repeating: 0xA5, count: bytes)
        var c = [Int32](repeating: 0x5A5A_5A5A, count: Swift.max(shape.m * shape.n, 1))
        b.withUnsafeBufferPointer { pb in
            let packed = Int8Gemm.packB(pb.baseAddress ?? UnsafePointer(bitPattern: 1)!, k: shape.k, n: shape.n,
                                        ldb: shape.n, into: storage)
            c.withUnsafeMutableBufferPointer { body(packed, $0.baseAddress!) }
        }
        return Array(c.prefix(shape.m * shape.n))
    }

    /// `Σ_p a[i, p]·b[p, j]` in Int64, truncated to Int32.
    static func naive(_ shape: Shape, _ a: [Int64], _ b: [Int8]) -> [Int32] {
        var c = [Int32](repeating: 0, count: shape.m * shape.n)
        for i in 0..<shape.m {
            for j in 0..<shape.n {
                var sum: Int64 = 0
                for p in 0..<shape.k { sum += a[i * shape.k + p] * Int64(b[p * shape.n + j]) }
                c[i * shape.n + j] = Int32(truncatingIfNeeded: sum)
            }
        }
        return c
    }
}
