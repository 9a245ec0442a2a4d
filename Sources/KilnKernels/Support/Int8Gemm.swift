internal import CKilnInt8

/// The int8 matrix product with int32 accumulation: `C[m, n] = A[m, k] · B[k, n]`, `A` signed
/// (int8) or unsigned (uint8) bytes, `B` signed bytes, `C` int32, sums wrapping modulo 2³² (as
/// the hardware's, and torch's, int32 accumulators do).
///
/// `B` is packed once (``packB(_:k:n:ldb:into:)``) for AVX-512 VNNI: 32-column panels, four
/// consecutive `k` of a column in each 32-bit lane, and its column sums. On a CPU with VNNI
/// (`avx512_vnni`, checked at run time) a C micro-kernel does 14x32 tiles with `vpdpbusd`
/// (unsigned x signed bytes, four products per lane per instruction); a signed `A` is shifted to
/// unsigned (`a + 128`) when packed and `128 · Σ_p B[p, j]` is taken off again, exactly. Elsewhere
/// (or with ``Implementation/portable``) a Swift loop computes the same int32 results.
///
/// No op uses it yet: quantized linear and convolution will (the quantization work).
///
/// ```swift
/// let packed = Int8Gemm.packB(weights, k: 4096, n: 4096, ldb: 4096, into: buffer)   // once
/// Int8Gemm.multiply(m: 64, a: activations, lda: 4096, b: packed, c: out, ldc: 4096)
/// ```
public enum Int8Gemm {
    /// Rows of a tile (and of an A panel), columns of a tile (and of a B panel).
    static let mr = 14, nr = 32
    /// Products smaller than this many operations run on one thread.
    static let parallelMinimumOperations = 1 << 23

    /// Which micro-kernel computes the tiles.
    public enum Implementation: Sendable {
        /// VNNI where the CPU has it, else portable.
        case automatic
        /// The AVX-512 VNNI kernel; a CPU without it gets the portable one.
        case vnni
        /// The Swift kernel (exactly the same results).
        case portable
    }

    /// True when this CPU runs the VNNI kernel (AVX-512F, BW and VNNI).
    public static let vnniAvailable: Bool = kiln_int8_vnni_available() != 0

    /// The kernel `implementation` selects on this machine: `"u8s8_gemm_14x32__avx512vnni"` or
    /// `"u8s8_gemm_14x32__portable"`.
    public static func kernelName(_ implementation: Implementation = .automatic) -> String {
        usesVNNI(implementation) ? "u8s8_gemm_14x32__avx512vnni" : "u8s8_gemm_14x32__portable"
    }

    static func usesVNNI(_ implementation: Implementation) -> Bool {
        implementation != .portable && vnniAvailable
    }

    // MARK: - Packed B

    /// A `[k, n]` signed-byte operand packed by ``packB(_:k:n:ldb:into:)``.
    public struct PackedB: @unchecked Sendable {
        /// The panels and column sums (memory the caller owns; it must outlive every product).
        public let base: UnsafeRawPointer
        /// The operand's rows (the products' depth) and columns.
        public let k: Int
        public let n: Int

        /// Groups of four `k` (the last zero-padded).
        var k4: Int { (k + 3) / 4 }
        /// Bytes of one 32-column panel.
        var panelBytes: Int { k4 * 4 * nr }
        var panels: Int { (n + nr - 1) / nr }
        /// `-128 · Σ_p B[p, j]` for each (padded) column, then 32 zeros.
        var offsets: UnsafePointer<Int32> {
            (base + roundUp(panels * panelBytes, 64)).assumingMemoryBound(to: Int32.self)
        }
        var zeros: UnsafePointer<Int32> { offsets + panels * nr }
    }

    /// Bytes ``packB(_:k:n:ldb:into:)`` writes.
    public static func packedBBytes(k: Int, n: Int) -> Int {
        let panels = (Swift.max(n, 0) + nr - 1) / nr
        return roundUp(panels * ((Swift.max(k, 0) + 3) / 4) * 4 * nr, 64) + (panels + 1) * nr * 4
    }

    /// Packs `b` (`[k, n]`, row `p` at `b + p * ldb`) into `destination` (``packedBBytes(k:n:)``
    /// bytes, 4-byte aligned).
    public static func packB(_ b: UnsafePointer<Int8>, k: Int, n: Int, ldb: Int,
                             into destination: UnsafeMutableRawPointer) -> PackedB {
        let packed = PackedB(base: UnsafeRawPointer(destination), k: k, n: n)
        let bytes = destination.assumingMemoryBound(to: Int8.self)
        let offsets = UnsafeMutablePointer(mutating: packed.offsets)
        for t in 0..<packed.panels {
            let panel = bytes + t * packed.panelBytes
            for j in 0..<nr {
                let column = t * nr + j
                var sum: Int32 = 0
                for q in 0..<packed.k4 {
                    for s in 0..<4 {
                        let p = 4 * q + s
                        let value: Int8 = column < n && p < k ? b[p * ldb + column] : 0
                        panel[(q * nr + j) * 4 + s] = value
                        sum &+= Int32(value)
                    }
                }
                offsets[column] = sum &* -128
            }
        }
        (offsets + packed.panels * nr).initialize(repeating: 0, count: nr)
        return packed
    }

    // MARK: - Products

    /// Bytes of working memory a product with `m` rows needs (the packed `A`).
    public static func workspaceBytes(m: Int, k: Int) -> Int {
        roundUp(Swift.max(m, 0), mr) * ((Swift.max(k, 0) + 3) / 4) * 4
    }

    /// `C = A · B` with a signed-byte `A` (row `i` at `a + i * lda`).
    ///
    /// - Parameters:
    ///   - workspace: at least ``workspaceBytes(m:k:)`` bytes, or the product allocates its own.
    ///   - implementation: the micro-kernel (see ``Implementation``).
    ///   - threads: the pool the columns are split across (large products only).
    public static func multiply(m: Int, a: UnsafePointer<Int8>, lda: Int, b: PackedB, c: UnsafeMutablePointer<Int32>,
                                ldc: Int, workspace: UnsafeMutableRawBufferPointer = .init(start: nil, count: 0),
                                implementation: Implementation = .automatic, threads: ThreadPool = .serial) {
        product(m: m, b: b, c: c, ldc: ldc, signed: true, workspace: workspace, implementation: implementation,
                threads: threads) { packed in
            packA(m: m, k: b.k, into: packed) { i, p in UInt8(bitPattern: a[i * lda + p]) ^ 0x80 }
        }
    }

    /// `C = A · B` with an unsigned-byte `A` (row `i` at `a + i * lda`); see the signed version.
    public static func multiply(m: Int, a: UnsafePointer<UInt8>, lda: Int, b: PackedB, c: UnsafeMutablePointer<Int32>,
                                ldc: Int, workspace: UnsafeMutableRawBufferPointer = .init(start: nil, count: 0),
                                implementation: Implementation = .automatic, threads: ThreadPool = .serial) {
        product(m: m, b: b, c: c, ldc: ldc, signed: false, workspace: workspace, implementation: implementation,
                threads: threads) { packed in
            packA(m: m, k: b.k, into: packed) { i, p in a[i * lda + p] }
        }
    }

    /// Writes `A` as 14-row unsigned panels: panel `s`, group `q`, row `i`, byte `t` at
    /// `((s * k4 + q) * 14 + i) * 4 + t`, from `element(i, p)`; zero past the edges.
    @inline(__always)
    static func packA(m: Int, k: Int, into packed: UnsafeMutablePointer<UInt8>, _ element: (Int, Int) -> UInt8) {
        let k4 = (k + 3) / 4
        var d = packed
        for s in 0..<((m + mr - 1) / mr) {
            for q in 0..<k4 {
                for r in 0..<mr {
                    let i = s * mr + r
                    for t in 0..<4 {
                        let p = 4 * q + t
                        d[t] = i < m && p < k ? element(i, p) : 0
                    }
                    d += 4
                }
            }
        }
    }

    static func product(m: Int, b: PackedB, c: UnsafeMutablePointer<Int32>, ldc: Int, signed: Bool,
                        workspace: UnsafeMutableRawBufferPointer, implementation: Implementation, threads: ThreadPool,
                        pack: (UnsafeMutablePointer<UInt8>) -> Void) {
        guard m > 0, b.n > 0 else { return }
        guard b.k > 0 else {
            // An empty sum.
            for i in 0..<m { (c + i * ldc).update(repeating: 0, count: b.n) }
            return
        }
        // Step 1: A as unsigned panels, in the workspace (or memory of this call).
        let need = workspaceBytes(m: m, k: b.k)
        let owned: UnsafeMutableRawPointer? = workspace.count >= need ? nil : .allocate(byteCount: need, alignment: 64)
        defer { owned?.deallocate() }
        let packedA = (owned ?? workspace.baseAddress!).assumingMemoryBound(to: UInt8.self)
        pack(packedA)
        // Step 2: every tile, column panels split across the threads.
        let operations = 2 * m * b.n * b.k
        let parts = operations >= parallelMinimumOperations ? Swift.min(threads.threadCount, b.panels) : 1
        let work = Tiles(m: m, b: b, a: UnsafePointer(packedA), c: c, ldc: ldc,
                         offsets: signed ? b.offsets : nil, vnni: usesVNNI(implementation), parts: parts)
        if parts <= 1 { work.run(0) } else { threads.parallelFor(parts, work) }
    }

    /// The tiles of a run of column panels.
    struct Tiles: ParallelWork {
        let m: Int
        let b: PackedB
        let a: UnsafePointer<UInt8>
        let c: UnsafeMutablePointer<Int32>, ldc: Int
        /// The column offsets of a signed `A` (nil: unsigned, none).
        let offsets: UnsafePointer<Int32>?
        let vnni: Bool
        let parts: Int

        func run(_ part: Int) {
            let k4 = b.k4
            let panelBytes = b.panelBytes
            let bytes = b.base.assumingMemoryBound(to: Int8.self)
            for t in (part * b.panels / parts)..<((part + 1) * b.panels / parts) {
                let columns = Swift.min(nr, b.n - t * nr)
                let panel = bytes + t * panelBytes
                let columnOffsets = offsets.map { $0 + t * nr } ?? b.zeros
                var s = 0
                while s * mr < m {
                    let tileA = a + s * k4 * mr * 4
                    let tileC = c + s * mr * ldc + t * nr
                    let rows = Swift.min(mr, m - s * mr)
                    if vnni {
                        kiln_u8s8_tile_14x32_vnni(k4, tileA, panel, columnOffsets, tileC, ldc, rows, columns)
                    } else {
                        portableTile(k4: k4, a: tileA, b: panel, offsets: columnOffsets, c: tileC, ldc: ldc, rows: rows,
                                     columns: columns)
                    }
                    s += 1
                }
            }
        }
    }

    /// The portable tile: what `kiln_u8s8_tile_14x32_vnni` computes, in wrapping Int32 arithmetic
    /// (so exactly the same bits), a row of accumulators at a time.
    static func portableTile(k4: Int, a: UnsafePointer<UInt8>, b: UnsafePointer<Int8>, offsets: UnsafePointer<Int32>,
                             c: UnsafeMutablePointer<Int32>, ldc: Int, rows: Int, columns: Int) {
        for i in 0..<rows {
            var row = SIMD32<Int32>()
            for j in 0..<nr { row[j] = offsets[j] }
            var pa = a + 4 * i, pb = b
            for _ in 0..<k4 {
                let a0 = Int32(pa[0]), a1 = Int32(pa[1]), a2 = Int32(pa[2]), a3 = Int32(pa[3])
                for j in 0..<nr {
                    row[j] &+= a0 &* Int32(pb[4 * j]) &+ a1 &* Int32(pb[4 * j + 1]) &+ a2 &* Int32(pb[4 * j + 2])
                        &+ a3 &* Int32(pb[4 * j + 3])
                }
                pa += mr * 4
                pb += nr * 4
            }
            for j in 0..<columns { c[i * ldc + j] = row[j] }
        }
    }
}
