/// The fp32 GEMM's register-blocked micro-kernels: one tile of `C`, up to 14 rows by 32 columns,
/// held in SIMD16<Float> accumulators (two per row) for a whole `kc`-deep slice of the product.
///
/// Each step of the `p` loop loads one row of the B micro-panel (32 floats, two vectors),
/// broadcasts each row's `A[i, p]` and does one fused multiply-add per accumulator: with
/// `-target-cpu native` on AVX-512 the 14-row loop is 28 `vfmadd231ps` on zmm registers, two
/// vector loads and 14 `vbroadcastss`, with no spills (30 of the 32 zmm registers hold the
/// accumulators and the B row). The 8- and 4-row kernels serve the rows left over at the bottom
/// of `C` (the A micro-panel is packed 14 rows wide, zero-padded, so a shorter kernel reads the
/// same layout).
///
/// Every kernel computes each element as `c = fma(a[p], b[p], c)` for `p` in order, starting
/// from `C` (`load`) or zero: the order the whole GEMM keeps, whichever kernel, block or thread
/// computes an element (see ``FloatGemm``).
extension FloatGemm {
    /// `acc0 += s * b0; acc1 += s * b1`, fused (unfused on baseline x86-64, which has no FMA:
    /// see ``FloatGemm/multiplyAdd(_:_:_:)``).
    @inline(__always)
    static func step(_ s: Float, _ b0: SIMD16<Float>, _ b1: SIMD16<Float>,
                     _ acc0: inout SIMD16<Float>, _ acc1: inout SIMD16<Float>) {
        let v = SIMD16<Float>(repeating: s)
        multiplyAdd(&acc0, v, b0)
        multiplyAdd(&acc1, v, b1)
    }

    /// `acc += a * b` lane by lane, rounded as ``multiplyAdd(_:_:_:)`` rounds.
    @inline(__always)
    static func multiplyAdd(_ acc: inout SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) {
        #if KILN_PORTABLE && arch(x86_64)
        acc = acc + a * b
        #else
        acc.addProduct(a, b)
        #endif
    }

    /// The first `columns` (1...32) floats at `c` as two vectors (zeros past `columns`).
    @inline(__always)
    static func loadRow(_ c: UnsafeMutablePointer<Float>, _ columns: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        if columns == nr {
            return (UnsafeRawPointer(c).loadUnaligned(as: SIMD16<Float>.self),
                    UnsafeRawPointer(c + 16).loadUnaligned(as: SIMD16<Float>.self))
        }
        // Through memory: inserting lanes one by one costs far more than a short copy.
        var row = SIMD32<Float>()
        withUnsafeMutableBytes(of: &row) { $0.baseAddress!.copyMemory(from: c, byteCount: columns * 4) }
        return (row.lowHalf, row.highHalf)
    }

    /// Stores the first `columns` (1...32) lanes of the two vectors at `c`.
    @inline(__always)
    static func storeRow(_ c: UnsafeMutablePointer<Float>, _ columns: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
        if columns == nr {
            UnsafeMutableRawPointer(c).storeBytes(of: v0, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(c + 16).storeBytes(of: v1, as: SIMD16<Float>.self)
            return
        }
        let row = SIMD32<Float>(lowHalf: v0, highHalf: v1)
        withUnsafeBytes(of: row) { UnsafeMutableRawPointer(c).copyMemory(from: $0.baseAddress!, byteCount: columns * 4) }
    }

    /// One tile: `rows` (1...14) by `columns` (1...32) of `C` at `c` (+)= the A micro-panel at `a`
    /// (14 floats per `p`) · the B micro-panel at `b` (32 floats per `p`, rows `bStep` apart),
    /// over `kc` steps of `p`; `load` starts from `C`, else from zero.
    @inline(__always)
    static func tile(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bStep: Int,
                     _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, load: Bool) {
        if rows > 8 {
            kernel14x32(kc, a, b, bStep: bStep, c, ldc: ldc, rows: rows, columns: columns, load: load)
        } else if rows > 4 {
            kernel8x32(kc, a, b, bStep: bStep, c, ldc: ldc, rows: rows, columns: columns, load: load)
        } else {
            kernel4x32(kc, a, b, bStep: bStep, c, ldc: ldc, rows: rows, columns: columns, load: load)
        }
    }

    /// The 14x32 tile: rows `0..<rows` (`rows <= 14`) of `C` (+)= the A micro-panel · the B micro-panel.
    @inline(never)
    static func kernel14x32(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bStep: Int,
                       _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, load: Bool) {
        var c0a = SIMD16<Float>(), c0b = SIMD16<Float>()
        var c1a = SIMD16<Float>(), c1b = SIMD16<Float>()
        var c2a = SIMD16<Float>(), c2b = SIMD16<Float>()
        var c3a = SIMD16<Float>(), c3b = SIMD16<Float>()
        var c4a = SIMD16<Float>(), c4b = SIMD16<Float>()
        var c5a = SIMD16<Float>(), c5b = SIMD16<Float>()
        var c6a = SIMD16<Float>(), c6b = SIMD16<Float>()
        var c7a = SIMD16<Float>(), c7b = SIMD16<Float>()
        var c8a = SIMD16<Float>(), c8b = SIMD16<Float>()
        var c9a = SIMD16<Float>(), c9b = SIMD16<Float>()
        var c10a = SIMD16<Float>(), c10b = SIMD16<Float>()
        var c11a = SIMD16<Float>(), c11b = SIMD16<Float>()
        var c12a = SIMD16<Float>(), c12b = SIMD16<Float>()
        var c13a = SIMD16<Float>(), c13b = SIMD16<Float>()
        if load {
            (c0a, c0b) = loadRow(c, columns)
            if rows > 1 { (c1a, c1b) = loadRow(c + 1 * ldc, columns) }
            if rows > 2 { (c2a, c2b) = loadRow(c + 2 * ldc, columns) }
            if rows > 3 { (c3a, c3b) = loadRow(c + 3 * ldc, columns) }
            if rows > 4 { (c4a, c4b) = loadRow(c + 4 * ldc, columns) }
            if rows > 5 { (c5a, c5b) = loadRow(c + 5 * ldc, columns) }
            if rows > 6 { (c6a, c6b) = loadRow(c + 6 * ldc, columns) }
            if rows > 7 { (c7a, c7b) = loadRow(c + 7 * ldc, columns) }
            if rows > 8 { (c8a, c8b) = loadRow(c + 8 * ldc, columns) }
            if rows > 9 { (c9a, c9b) = loadRow(c + 9 * ldc, columns) }
            if rows > 10 { (c10a, c10b) = loadRow(c + 10 * ldc, columns) }
            if rows > 11 { (c11a, c11b) = loadRow(c + 11 * ldc, columns) }
            if rows > 12 { (c12a, c12b) = loadRow(c + 12 * ldc, columns) }
            if rows > 13 { (c13a, c13b) = loadRow(c + 13 * ldc, columns) }
        }
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = UnsafeRawPointer(pb).loadUnaligned(as: SIMD16<Float>.self)
            let b1 = UnsafeRawPointer(pb + 16).loadUnaligned(as: SIMD16<Float>.self)
            step(pa[0], b0, b1, &c0a, &c0b)
            step(pa[1], b0, b1, &c1a, &c1b)
            step(pa[2], b0, b1, &c2a, &c2b)
            step(pa[3], b0, b1, &c3a, &c3b)
            step(pa[4], b0, b1, &c4a, &c4b)
            step(pa[5], b0, b1, &c5a, &c5b)
            step(pa[6], b0, b1, &c6a, &c6b)
            step(pa[7], b0, b1, &c7a, &c7b)
            step(pa[8], b0, b1, &c8a, &c8b)
            step(pa[9], b0, b1, &c9a, &c9b)
            step(pa[10], b0, b1, &c10a, &c10b)
            step(pa[11], b0, b1, &c11a, &c11b)
            step(pa[12], b0, b1, &c12a, &c12b)
            step(pa[13], b0, b1, &c13a, &c13b)
            pa += mr
            pb += bStep
        }
        storeRow(c, columns, c0a, c0b)
        if rows > 1 { storeRow(c + 1 * ldc, columns, c1a, c1b) }
        if rows > 2 { storeRow(c + 2 * ldc, columns, c2a, c2b) }
        if rows > 3 { storeRow(c + 3 * ldc, columns, c3a, c3b) }
        if rows > 4 { storeRow(c + 4 * ldc, columns, c4a, c4b) }
        if rows > 5 { storeRow(c + 5 * ldc, columns, c5a, c5b) }
        if rows > 6 { storeRow(c + 6 * ldc, columns, c6a, c6b) }
        if rows > 7 { storeRow(c + 7 * ldc, columns, c7a, c7b) }
        if rows > 8 { storeRow(c + 8 * ldc, columns, c8a, c8b) }
        if rows > 9 { storeRow(c + 9 * ldc, columns, c9a, c9b) }
        if rows > 10 { storeRow(c + 10 * ldc, columns, c10a, c10b) }
        if rows > 11 { storeRow(c + 11 * ldc, columns, c11a, c11b) }
        if rows > 12 { storeRow(c + 12 * ldc, columns, c12a, c12b) }
        if rows > 13 { storeRow(c + 13 * ldc, columns, c13a, c13b) }
    }

    /// The 8x32 tile: rows `0..<rows` (`rows <= 8`) of `C` (+)= the A micro-panel · the B micro-panel.
    @inline(never)
    static func kernel8x32(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bStep: Int,
                       _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, load: Bool) {
        var c0a = SIMD16<Float>(), c0b = SIMD16<Float>()
        var c1a = SIMD16<Float>(), c1b = SIMD16<Float>()
        var c2a = SIMD16<Float>(), c2b = SIMD16<Float>()
        var c3a = SIMD16<Float>(), c3b = SIMD16<Float>()
        var c4a = SIMD16<Float>(), c4b = SIMD16<Float>()
        var c5a = SIMD16<Float>(), c5b = SIMD16<Float>()
        var c6a = SIMD16<Float>(), c6b = SIMD16<Float>()
        var c7a = SIMD16<Float>(), c7b = SIMD16<Float>()
        if load {
            (c0a, c0b) = loadRow(c, columns)
            if rows > 1 { (c1a, c1b) = loadRow(c + 1 * ldc, columns) }
            if rows > 2 { (c2a, c2b) = loadRow(c + 2 * ldc, columns) }
            if rows > 3 { (c3a, c3b) = loadRow(c + 3 * ldc, columns) }
            if rows > 4 { (c4a, c4b) = loadRow(c + 4 * ldc, columns) }
            if rows > 5 { (c5a, c5b) = loadRow(c + 5 * ldc, columns) }
            if rows > 6 { (c6a, c6b) = loadRow(c + 6 * ldc, columns) }
            if rows > 7 { (c7a, c7b) = loadRow(c + 7 * ldc, columns) }
        }
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = UnsafeRawPointer(pb).loadUnaligned(as: SIMD16<Float>.self)
            let b1 = UnsafeRawPointer(pb + 16).loadUnaligned(as: SIMD16<Float>.self)
            step(pa[0], b0, b1, &c0a, &c0b)
            step(pa[1], b0, b1, &c1a, &c1b)
            step(pa[2], b0, b1, &c2a, &c2b)
            step(pa[3], b0, b1, &c3a, &c3b)
            step(pa[4], b0, b1, &c4a, &c4b)
            step(pa[5], b0, b1, &c5a, &c5b)
            step(pa[6], b0, b1, &c6a, &c6b)
            step(pa[7], b0, b1, &c7a, &c7b)
            pa += mr
            pb += bStep
        }
        storeRow(c, columns, c0a, c0b)
        if rows > 1 { storeRow(c + 1 * ldc, columns, c1a, c1b) }
        if rows > 2 { storeRow(c + 2 * ldc, columns, c2a, c2b) }
        if rows > 3 { storeRow(c + 3 * ldc, columns, c3a, c3b) }
        if rows > 4 { storeRow(c + 4 * ldc, columns, c4a, c4b) }
        if rows > 5 { storeRow(c + 5 * ldc, columns, c5a, c5b) }
        if rows > 6 { storeRow(c + 6 * ldc, columns, c6a, c6b) }
        if rows > 7 { storeRow(c + 7 * ldc, columns, c7a, c7b) }
    }

    /// The 4x32 tile: rows `0..<rows` (`rows <= 4`) of `C` (+)= the A micro-panel · the B micro-panel.
    @inline(never)
    static func kernel4x32(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bStep: Int,
                       _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, load: Bool) {
        var c0a = SIMD16<Float>(), c0b = SIMD16<Float>()
        var c1a = SIMD16<Float>(), c1b = SIMD16<Float>()
        var c2a = SIMD16<Float>(), c2b = SIMD16<Float>()
        var c3a = SIMD16<Float>(), c3b = SIMD16<Float>()
        if load {
            (c0a, c0b) = loadRow(c, columns)
            if rows > 1 { (c1a, c1b) = loadRow(c + 1 * ldc, columns) }
            if rows > 2 { (c2a, c2b) = loadRow(c + 2 * ldc, columns) }
            if rows > 3 { (c3a, c3b) = loadRow(c + 3 * ldc, columns) }
        }
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = UnsafeRawPointer(pb).loadUnaligned(as: SIMD16<Float>.self)
            let b1 = UnsafeRawPointer(pb + 16).loadUnaligned(as: SIMD16<Float>.self)
            step(pa[0], b0, b1, &c0a, &c0b)
            step(pa[1], b0, b1, &c1a, &c1b)
            step(pa[2], b0, b1, &c2a, &c2b)
            step(pa[3], b0, b1, &c3a, &c3b)
            pa += mr
            pb += bStep
        }
        storeRow(c, columns, c0a, c0b)
        if rows > 1 { storeRow(c + 1 * ldc, columns, c1a, c1b) }
        if rows > 2 { storeRow(c + 2 * ldc, columns, c2a, c2b) }
        if rows > 3 { storeRow(c + 3 * ldc, columns, c3a, c3b) }
    }
}
