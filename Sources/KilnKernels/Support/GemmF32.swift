/// The fast float32 matrix product: `C[m, n] = A[m, k] · B[k, n]`, or `C += A · B`.
///
/// The classic blocked GEMM (Goto/BLIS): `B` is cut into blocks of `kc` rows by `nc` columns and
/// packed into 32-column panels, `A` into blocks of `mc` rows packed into 14-row panels, and a
/// register-blocked micro-kernel (`FloatGemm.kernel14x32`, AVX-512 with `-target-cpu native`)
/// computes each 14x32 tile of `C` over a `kc`-deep slice. A one-row product (GEMV) streams `B`
/// once instead, several independent accumulators at a time, without packing. Work splits across
/// a ``ThreadPool`` by blocks of columns (or rows, when there are few columns).
///
/// Constant operands can be packed once (``packB(_:k:n:into:)``, ``packA(_:m:k:into:)``) and
/// reused by every product: the kernels' prepacking hook (``KernelPrepack``) does this for
/// weights when a method loads.
///
/// **Rounding.** Every element is `c = fma(A[i, p], B[p, j], c)` for `p = 0, 1, ..., k - 1` in
/// order, starting from `C` (`accumulate`) or zero (see ``multiplyAdd(_:_:_:)``). Blocking,
/// packing, the micro-kernel used for an edge, the GEMV path and the thread count change none of
/// that: results are bit-for-bit the same for every split. They differ from ``Gemm``'s reference
/// loop (an unfused multiply and add per step) by the fused roundings only:
/// `|fast - reference| <= 2·k·u·Σ_p |A[i, p]·B[p, j]|` plus the start value's share, `u = 2⁻²⁴`.
///
/// ```swift
/// FloatGemm.multiply(m: 64, n: 4096, k: 4096, a: .rowMajor(x, columns: 4096),
///                    b: .transposed(w, columns: 4096), c: y, ldc: 4096, accumulate: false)
/// ```
public enum FloatGemm {
    /// Rows of a micro-tile (and of an A panel).
    static let mr = 14
    /// Columns of a micro-tile (and of a B panel).
    static let nr = 32
    /// Depth of a block: a 32-column B panel slice is 32 KiB, kept in L1 across the row tiles.
    static let kc = 256
    /// Rows of an A block (12 panels, 168 KiB: L2).
    static let mc = 168
    /// Columns of a B block (512 KiB: L2).
    static let nc = 512
    /// Products smaller than this many flops run on one thread: waking the workers costs more.
    static let parallelMinimumFlops = 1 << 22

    /// `c + a·b` as the fast GEMM rounds each step: fused (one rounding), except on baseline
    /// x86-64 builds (`KILN_PORTABLE=1`), which have no FMA instruction and round twice.
    @inline(__always)
    public static func multiplyAdd(_ c: Float, _ a: Float, _ b: Float) -> Float {
        #if KILN_PORTABLE && arch(x86_64)
        return c + a * b
        #else
        return c.addingProduct(a, b)
        #endif
    }

    // MARK: - Packed operands

    /// A `[k, n]` right-hand operand packed once into the 32-column panels of every block
    /// (``packedBCount(k:n:)`` floats), as ``packB(_:k:n:into:)`` writes it.
    public struct PackedB: @unchecked Sendable {
        /// The panels (memory the caller owns; it must outlive every product that reads it).
        public let base: UnsafePointer<Float>
        /// The operand's rows (the products' depth) and columns.
        public let k: Int
        public let n: Int
    }

    /// A `[m, k]` left-hand operand packed once into the 14-row panels of every block
    /// (``packedACount(m:k:)`` floats), as ``packA(_:m:k:into:)`` writes it.
    public struct PackedA: @unchecked Sendable {
        /// The panels (memory the caller owns; it must outlive every product that reads it).
        public let base: UnsafePointer<Float>
        /// The operand's rows and columns (the products' depth).
        public let m: Int
        public let k: Int
    }

    /// Floats ``packB(_:k:n:into:)`` writes: `k` times `n` rounded up to 32.
    public static func packedBCount(k: Int, n: Int) -> Int { PrepackedPanels.count(width: nr, depth: k, wide: n) }

    /// Floats ``packA(_:m:k:into:)`` writes: `m` rounded up to 14, times `k`.
    public static func packedACount(m: Int, k: Int) -> Int { PrepackedPanels.count(width: mr, depth: k, wide: m) }

    /// Packs `b` (`[k, n]`, any strides) into `dst` (``packedBCount(k:n:)`` floats).
    public static func packB(_ b: Gemm.Operand<Float>, k: Int, n: Int, into dst: UnsafeMutablePointer<Float>) -> PackedB {
        if k > 0 && n > 0 { PrepackedPanels.pack(StridedPanels(b: b), width: nr, depth: k, wide: n, into: dst) }
        return PackedB(base: dst, k: k, n: n)
    }

    /// Packs `a` (`[m, k]`, any strides) into `dst` (``packedACount(m:k:)`` floats).
    public static func packA(_ a: Gemm.Operand<Float>, m: Int, k: Int, into dst: UnsafeMutablePointer<Float>) -> PackedA {
        if m > 0 && k > 0 { PrepackedPanels.pack(StridedPanels(a: a), width: mr, depth: k, wide: m, into: dst) }
        return PackedA(base: dst, m: m, k: k)
    }

    // MARK: - Products

    /// Floats of working memory a product of this size needs on `threads` threads, packing
    /// `A` and/or `B` per call (a prepacked operand needs none). Pass at least this much as
    /// `workspace` to make a product allocate nothing.
    public static func workspaceCount(m: Int, n: Int, k: Int, threads: Int = 1,
                                      packingA: Bool = true, packingB: Bool = true) -> Int {
        perThreadWorkspace(m: m, n: n, k: k, packsA: packingA, packsB: packingB) * Swift.max(threads, 1)
    }

    /// `C = A · B` (or `C += A · B` when `accumulate`), `C` row `i` at `c + i * ldc`.
    ///
    /// - Parameters:
    ///   - a, b: the operands, any strides (packed block by block into `workspace`).
    ///   - workspace: at least ``workspaceCount(m:n:k:threads:packingA:packingB:)`` floats, or
    ///     the product allocates its own for this call.
    ///   - threads: the pool the work is split across (large products only).
    public static func multiply(m: Int, n: Int, k: Int, a: Gemm.Operand<Float>, b: Gemm.Operand<Float>,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                                workspace: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0),
                                threads: ThreadPool = .serial) {
        product(m: m, n: n, k: k, a: StridedPanels(a: a), b: StridedPanels(b: b), c: c, ldc: ldc,
                accumulate: accumulate, workspace: workspace, threads: threads)
    }

    /// `C (+)= A · B` with `B` packed by ``packB(_:k:n:into:)`` (its `k` and `n` are the product's).
    public static func multiply(m: Int, a: Gemm.Operand<Float>, b: PackedB,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                                workspace: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0),
                                threads: ThreadPool = .serial) {
        product(m: m, n: b.n, k: b.k, a: StridedPanels(a: a), b: PrepackedPanels(base: b.base, width: nr, depth: b.k, wide: b.n),
                c: c, ldc: ldc, accumulate: accumulate, workspace: workspace, threads: threads)
    }

    /// `C (+)= A · B` with `A` packed by ``packA(_:m:k:into:)`` (its `m` and `k` are the product's).
    public static func multiply(n: Int, a: PackedA, b: Gemm.Operand<Float>,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                                workspace: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0),
                                threads: ThreadPool = .serial) {
        product(m: a.m, n: n, k: a.k, a: PrepackedPanels(base: a.base, width: mr, depth: a.k, wide: a.m), b: StridedPanels(b: b),
                c: c, ldc: ldc, accumulate: accumulate, workspace: workspace, threads: threads)
    }

    // MARK: - The driver

    static func perThreadWorkspace(m: Int, n: Int, k: Int, packsA: Bool, packsB: Bool) -> Int {
        guard m > 0, n > 0, k > 0 else { return 0 }
        let depth = Swift.min(k, kc)
        let aCount = packsA ? roundUp(Swift.min(m, mc), mr) * depth : 0
        let bCount = packsB ? depth * roundUp(Swift.min(n, nc), nr) : 0
        // Each buffer starts on a 64-byte boundary.
        return roundUp(aCount, 16) + roundUp(bCount, 16)
    }

    /// The product over any two panel sources; see ``FloatGemm``.
    static func product<A: GemmPanelSource, B: GemmPanelSource>(
        m: Int, n: Int, k: Int, a: A, b: B, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        workspace: UnsafeMutableBufferPointer<Float>, threads: ThreadPool,
        parallelMinimumFlops: Int = FloatGemm.parallelMinimumFlops
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // An empty sum: zeros, or C as it was.
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let flops = 2 * m * n * k
        // One row: stream B once (no packing) when it can be read in place.
        if m == 1, let x = a.depthRun, let layout = b.vectorLayout {
            let parts = flops >= parallelMinimumFlops ? Swift.min(threads.threadCount, (n + nr - 1) / nr) : 1
            let work = VectorParts(k: k, n: n, x: x.0, xStride: x.1, b: layout, c: c, accumulate: accumulate, parts: parts)
            if parts <= 1 { work.run(0) } else { threads.parallelFor(parts, work) }
            return
        }
        // Blocked: split the tiles (of columns, else of rows) across the threads.
        let columnPanels = (n + nr - 1) / nr, rowPanels = (m + mr - 1) / mr
        let parts = flops >= parallelMinimumFlops ? Swift.min(threads.threadCount, Swift.max(columnPanels, rowPanels)) : 1
        let perPart = perThreadWorkspace(m: m, n: n, k: k, packsA: a.packs, packsB: b.packs)
        let need = perPart * parts
        let owned: UnsafeMutablePointer<Float>? = workspace.count >= need ? nil : .allocate(capacity: need)
        defer { owned?.deallocate() }
        let work = BlockedParts(a: a, b: b, m: m, n: n, k: k, c: c, ldc: ldc, accumulate: accumulate, parts: parts,
                                byColumns: columnPanels >= 2 * parts || columnPanels >= rowPanels,
                                memory: owned ?? workspace.baseAddress, perPart: perPart,
                                aCount: a.packs ? roundUp(roundUp(Swift.min(m, mc), mr) * Swift.min(k, kc), 16) : 0)
        if parts <= 1 { work.run(0) } else { threads.parallelFor(parts, work) }
    }

    /// A blocked product split into `parts` of whole panels: columns (every row), or rows.
    struct BlockedParts<A: GemmPanelSource, B: GemmPanelSource>: ParallelWork {
        let a: A, b: B
        let m: Int, n: Int, k: Int
        let c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
        let parts: Int, byColumns: Bool
        /// Part `p`'s packing buffers: A's at `memory + p * perPart`, B's `aCount` floats on.
        let memory: UnsafeMutablePointer<Float>?, perPart: Int, aCount: Int

        func run(_ part: Int) {
            let rows: Range<Int>, columns: Range<Int>
            if byColumns {
                let panels = (n + nr - 1) / nr
                rows = 0..<m
                columns = (part * panels / parts * nr)..<Swift.min((part + 1) * panels / parts * nr, n)
            } else {
                let panels = (m + mr - 1) / mr
                rows = (part * panels / parts * mr)..<Swift.min((part + 1) * panels / parts * mr, m)
                columns = 0..<n
            }
            let buffers = memory.map { $0 + part * perPart }
            blocked(a, b, k: k, rows: rows, columns: columns, c: c, ldc: ldc, accumulate: accumulate,
                    aBuffer: a.packs ? buffers : nil, bBuffer: b.packs ? buffers.map { $0 + aCount } : nil)
        }
    }

    /// A one-row product split into `parts` of whole 32-column panels.
    struct VectorParts: ParallelWork {
        let k: Int, n: Int
        let x: UnsafePointer<Float>, xStride: Int
        let b: GemmVectorLayout
        let c: UnsafeMutablePointer<Float>, accumulate: Bool
        let parts: Int

        func run(_ part: Int) {
            let panels = (n + nr - 1) / nr
            let columns = (part * panels / parts * nr)..<Swift.min((part + 1) * panels / parts * nr, n)
            gemv(k: k, x: x, xStride: xStride, b: b, columns: columns, c: c, accumulate: accumulate)
        }
    }

    /// Rows `rows` and columns `columns` of `C` (each starting on a panel boundary), block by block.
    static func blocked<A: GemmPanelSource, B: GemmPanelSource>(
        _ a: A, _ b: B, k: Int, rows: Range<Int>, columns: Range<Int>, c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool, aBuffer: UnsafeMutablePointer<Float>?, bBuffer: UnsafeMutablePointer<Float>?
    ) {
        var jc = columns.lowerBound
        while jc < columns.upperBound {
            let nCount = Swift.min(nc, columns.upperBound - jc)
            var pc = 0
            while pc < k {
                // Step 1: the B block, rows pc ..< pc + kc of these columns, as panels.
                let kCount = Swift.min(kc, k - pc)
                let (bPanels, bStride) = b.panels(width: nr, depth: pc, count: kCount, wide: jc, count: nCount,
                                                  buffer: bBuffer)
                // After the first block, every tile continues the sum C holds.
                let load = accumulate || pc > 0
                var ic = rows.lowerBound
                while ic < rows.upperBound {
                    // Step 2: the A block as panels, then every tile of the block.
                    let mCount = Swift.min(mc, rows.upperBound - ic)
                    let (aPanels, aStride) = a.panels(width: mr, depth: pc, count: kCount, wide: ic, count: mCount,
                                                      buffer: aBuffer)
                    var j = 0, bp = bPanels
                    while j < nCount {
                        let tileColumns = Swift.min(nr, nCount - j)
                        var i = 0, ap = aPanels
                        while i < mCount {
                            tile(kCount, ap, bp, bStep: nr, c + (ic + i) * ldc + jc + j, ldc: ldc,
                                 rows: Swift.min(mr, mCount - i), columns: tileColumns, load: load)
                            i += mr
                            ap += aStride
                        }
                        j += nr
                        bp += bStride
                    }
                    ic += mc
                }
                pc += kc
            }
            jc += nc
        }
    }

    // MARK: - GEMV

    /// Row 0 of `C`, columns `columns` (starting on a multiple of 32): `x · B` with `x[p]` at
    /// `x[p * xStride]`, `B` read in place.
    static func gemv(k: Int, x: UnsafePointer<Float>, xStride: Int, b: GemmVectorLayout, columns: Range<Int>,
                     c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        switch b {
        case .panels(let packed):
            // Depth block by depth block, each one stretch of memory; C carries the sums between.
            let paddedWide = roundUp(packed.wide, nr)
            var d0 = 0
            while d0 < k {
                let dc = Swift.min(kc, k - d0)
                gemvPanels(k: dc, x: x + d0 * xStride, xStride: xStride, panels: packed.base + d0 * paddedWide,
                           panelStride: dc * nr, columns: columns, c: c, accumulate: accumulate || d0 > 0)
                d0 += kc
            }
        case .strided(let base, let ldb):
            gemvRows(k: k, x: x, xStride: xStride, b: base, ldb: ldb, columns: columns, c: c, accumulate: accumulate)
        }
    }

    /// GEMV over one depth block of prepacked 32-column panels (panel `t` at
    /// `panels + t * panelStride`): four panels (eight accumulators) at a time, then one. The
    /// four are a quarter of the range apart: four streams far apart in memory read faster than
    /// four neighbours (about 57 against 52 GB/s on the reference machine).
    static func gemvPanels(k: Int, x: UnsafePointer<Float>, xStride: Int, panels: UnsafePointer<Float>, panelStride: Int,
                           columns: Range<Int>, c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let first = columns.lowerBound / nr, fullEnd = columns.upperBound / nr
        let quarter = (fullEnd - first) / 4
        for g in 0..<quarter {
            let t0 = first + g, t1 = t0 + quarter, t2 = t1 + quarter, t3 = t2 + quarter
            let p0 = panels + t0 * panelStride, p1 = panels + t1 * panelStride
            let p2 = panels + t2 * panelStride, p3 = panels + t3 * panelStride
            let (c0, c1, c2, c3) = (c + t0 * nr, c + t1 * nr, c + t2 * nr, c + t3 * nr)
            var (a0, a1) = accumulate ? loadRow(c0, nr) : (.zero, .zero)
            var (a2, a3) = accumulate ? loadRow(c1, nr) : (.zero, .zero)
            var (a4, a5) = accumulate ? loadRow(c2, nr) : (.zero, .zero)
            var (a6, a7) = accumulate ? loadRow(c3, nr) : (.zero, .zero)
            var offset = 0, xp = x
            for _ in 0..<k {
                let s = SIMD16<Float>(repeating: xp.pointee)
                multiplyAdd(&a0, s, UnsafeRawPointer(p0 + offset).loadUnaligned(as: SIMD16<Float>.self))
                multiplyAdd(&a1, s, UnsafeRawPointer(p0 + offset + 16).loadUnaligned(as: SIMD16<Float>.self))
                multiplyAdd(&a2, s, UnsafeRawPointer(p1 + offset).loadUnaligned(as: SIMD16<Float>.self))
                multiplyAdd(&a3, s, UnsafeRawPointer(p1 + offset + 16).loadUnaligned(as: SIMD16<Float>.self))
                multiplyAdd(&a4, s, UnsafeRawPointer(p2 + offset).loadUnaligned(as: SIMD16<Float>.self))
                multiplyAdd(&a5, s, UnsafeRawPointer(p2 + offset + 16).loadUnaligned(as: SIMD16<Float>.self))
                multiplyAdd(&a6, s, UnsafeRawPointer(p3 + offset).loadUnaligned(as: SIMD16<Float>.self))
                multiplyAdd(&a7, s, UnsafeRawPointer(p3 + offset + 16).loadUnaligned(as: SIMD16<Float>.self))
                offset &+= nr
                xp += xStride
            }
            storeRow(c0, nr, a0, a1)
            storeRow(c1, nr, a2, a3)
            storeRow(c2, nr, a4, a5)
            storeRow(c3, nr, a6, a7)
        }
        var j = (first + 4 * quarter) * nr
        while j < columns.upperBound {
            let width = Swift.min(nr, columns.upperBound - j)
            let p0 = panels + j / nr * panelStride
            var (a0, a1) = accumulate ? loadRow(c + j, width) : (.zero, .zero)
            var offset = 0, xp = x
            for _ in 0..<k {
                step(xp.pointee, UnsafeRawPointer(p0 + offset).loadUnaligned(as: SIMD16<Float>.self),
                     UnsafeRawPointer(p0 + offset + 16).loadUnaligned(as: SIMD16<Float>.self), &a0, &a1)
                offset &+= nr
                xp += xStride
            }
            storeRow(c + j, width, a0, a1)
            j += nr
        }
    }

    /// GEMV over a row-major `B` (`B[p, j]` at `b[p * ldb + j]`): 128 columns (eight
    /// accumulators) at a time, then 16, then one.
    static func gemvRows(k: Int, x: UnsafePointer<Float>, xStride: Int, b: UnsafePointer<Float>, ldb: Int,
                         columns: Range<Int>, c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        @inline(__always) func start(_ j: Int) -> SIMD16<Float> {
            accumulate ? UnsafeRawPointer(c + j).loadUnaligned(as: SIMD16<Float>.self) : .zero
        }
        @inline(__always) func row(_ p: UnsafePointer<Float>, _ q: Int) -> SIMD16<Float> {
            UnsafeRawPointer(p + 16 * q).loadUnaligned(as: SIMD16<Float>.self)
        }
        @inline(__always) func store(_ j: Int, _ v: SIMD16<Float>) {
            UnsafeMutableRawPointer(c + j).storeBytes(of: v, as: SIMD16<Float>.self)
        }
        var j = columns.lowerBound
        while j + 128 <= columns.upperBound {
            var a0 = start(j), a1 = start(j + 16), a2 = start(j + 32), a3 = start(j + 48)
            var a4 = start(j + 64), a5 = start(j + 80), a6 = start(j + 96), a7 = start(j + 112)
            var bp = b + j, xp = x
            for _ in 0..<k {
                let s = SIMD16<Float>(repeating: xp.pointee)
                multiplyAdd(&a0, s, row(bp, 0))
                multiplyAdd(&a1, s, row(bp, 1))
                multiplyAdd(&a2, s, row(bp, 2))
                multiplyAdd(&a3, s, row(bp, 3))
                multiplyAdd(&a4, s, row(bp, 4))
                multiplyAdd(&a5, s, row(bp, 5))
                multiplyAdd(&a6, s, row(bp, 6))
                multiplyAdd(&a7, s, row(bp, 7))
                bp += ldb
                xp += xStride
            }
            store(j, a0); store(j + 16, a1); store(j + 32, a2); store(j + 48, a3)
            store(j + 64, a4); store(j + 80, a5); store(j + 96, a6); store(j + 112, a7)
            j += 128
        }
        while j + 16 <= columns.upperBound {
            var a0 = start(j)
            var bp = b + j, xp = x
            for _ in 0..<k {
                multiplyAdd(&a0, SIMD16<Float>(repeating: xp.pointee), row(bp, 0))
                bp += ldb
                xp += xStride
            }
            store(j, a0)
            j += 16
        }
        while j < columns.upperBound {
            var sum: Float = accumulate ? c[j] : 0
            var bp = b + j, xp = x
            for _ in 0..<k {
                sum = multiplyAdd(sum, xp.pointee, bp.pointee)
                bp += ldb
                xp += xStride
            }
            c[j] = sum
            j += 1
        }
    }
}
