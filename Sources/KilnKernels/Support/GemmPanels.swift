/// Where the fp32 GEMM gets its operands from: panels, the layout its micro-kernels read.
///
/// A panel is `width` consecutive rows of `A` (width 14) or columns of `B` (width 32) over a
/// range of the shared dimension `p`: for each `p`, `width` floats, zero past the matrix's edge.
/// An operand is seen as a `[depth, wide]` matrix: `B[p, j]` has depth `p` and wide index `j`;
/// `A[i, p]` has depth `p` and wide index `i`.
///
/// A source either packs the panels a block needs into a buffer (``StridedPanels``,
/// ``Im2colPanels``) or already holds them (``PrepackedPanels``, from ``FloatGemm/packB(_:k:n:into:)``
/// and ``FloatGemm/packA(_:m:k:into:)``: every block's panels, packed once).
protocol GemmPanelSource {
    /// True when ``panels(width:depth:count:wide:count:buffer:)`` writes into its buffer.
    var packs: Bool { get }

    /// The panels for depth `d0 ..< d0 + dc` of wide indices `w0 ..< w0 + wc` (`w0` a multiple of
    /// `width`): the first panel and the distance in floats from one panel to the next. Each
    /// panel's rows are `width` floats apart. Packing sources write them into `buffer` (room for
    /// `dc * roundUp(wc, width)` floats).
    func panels(width: Int, depth d0: Int, count dc: Int, wide w0: Int, count wc: Int,
                buffer: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int)

    /// The layout a one-row product (GEMV) can read `B` in without packing, if any.
    var vectorLayout: GemmVectorLayout? { get }

    /// Wide index 0 along the depth, when it can be read in place: its first element and the
    /// distance between consecutive ones (the single row of a one-row `A`).
    var depthRun: (UnsafePointer<Float>, Int)? { get }
}

/// How a GEMV reads an operand in place: `A`'s single row, or `B` streamed row by row.
enum GemmVectorLayout {
    /// Element `[p, w]` at `base[p * depthStride + w]` (a row-major `B`; for `A`, `w` is 0).
    case strided(UnsafePointer<Float>, depthStride: Int)
    /// Prepacked (see ``PrepackedPanels``): 32-column panels, depth block by depth block.
    case panels(PrepackedPanels)
}

/// Rounds `value` up to a multiple of `step`.
@inline(__always)
func roundUp(_ value: Int, _ step: Int) -> Int { (value + step - 1) / step * step }

// MARK: - Prepacked

/// Panels packed once, in the order the GEMM reads them: depth block by depth block (``FloatGemm``'s
/// `kc` rows each; the last may be shorter), and within a block every panel of the operand one
/// after the other. Depth block `q` of `dc` rows starts at `base + q * kc * paddedWide`; its
/// panel `t` (wide indices `t * width ..< (t + 1) * width`) at `+ t * dc * width`. A block the
/// GEMM reads (`kc` rows, a run of panels) is thus one contiguous stretch of memory, which the
/// hardware prefetchers stream.
struct PrepackedPanels: GemmPanelSource {
    let base: UnsafePointer<Float>
    let width: Int
    /// The operand's depth (`k`) and wide size (`n` of B, `m` of A).
    let depth: Int
    let wide: Int

    /// Floats of the packed operand.
    static func count(width: Int, depth: Int, wide: Int) -> Int { Swift.max(depth, 0) * roundUp(Swift.max(wide, 0), width) }

    /// Packs `source` (depth `depth`, wide `wide`) into `dst` in this layout.
    static func pack(_ source: StridedPanels, width: Int, depth: Int, wide: Int, into dst: UnsafeMutablePointer<Float>) {
        let paddedWide = roundUp(wide, width)
        var d0 = 0
        while d0 < depth {
            let dc = Swift.min(FloatGemm.kc, depth - d0)
            source.pack(width: width, depth: d0, count: dc, wide: 0, count: wide, into: dst + d0 * paddedWide)
            d0 += FloatGemm.kc
        }
    }

    var packs: Bool { false }

    /// `d0` must start a depth block (a multiple of `kc`) and `dc` be that block's length, as in
    /// the GEMM's loops.
    func panels(width: Int, depth d0: Int, count dc: Int, wide w0: Int, count wc: Int,
                buffer: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int) {
        (base + d0 * roundUp(wide, self.width) + (w0 / self.width) * dc * self.width, dc * self.width)
    }

    var vectorLayout: GemmVectorLayout? { .panels(self) }

    /// None: a prepacked A's row is not evenly spaced across depth blocks, so a one-row product
    /// with it takes the blocked path.
    var depthRun: (UnsafePointer<Float>, Int)? { nil }
}

// MARK: - Strided

/// A matrix anywhere in memory, element `[d, w]` at `base[d * depthStride + w * wideStride]`,
/// packed block by block.
struct StridedPanels: GemmPanelSource {
    let base: UnsafePointer<Float>
    let depthStride: Int
    let wideStride: Int

    /// `B` of a product: depth is its rows.
    init(b: Gemm.Operand<Float>) {
        (base, depthStride, wideStride) = (b.base, b.rowStride, b.columnStride)
    }

    /// `A` of a product: depth is its columns.
    init(a: Gemm.Operand<Float>) {
        (base, depthStride, wideStride) = (a.base, a.columnStride, a.rowStride)
    }

    var packs: Bool { true }

    var vectorLayout: GemmVectorLayout? {
        wideStride == 1 ? .strided(base, depthStride: depthStride) : nil
    }

    var depthRun: (UnsafePointer<Float>, Int)? { (base, depthStride) }

    func panels(width: Int, depth d0: Int, count dc: Int, wide w0: Int, count wc: Int,
                buffer: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int) {
        let dst = buffer!
        pack(width: width, depth: d0, count: dc, wide: w0, count: wc, into: dst)
        return (UnsafePointer(dst), dc * width)
    }

    /// Writes the panels of depth `d0 ..< d0 + dc`, wide `w0 ..< w0 + wc` at `dst`, one after the
    /// other (`dc * width` floats each), zero-padding the last one to `width`.
    func pack(width: Int, depth d0: Int, count dc: Int, wide w0: Int, count wc: Int,
              into dst: UnsafeMutablePointer<Float>) {
        var panel = dst
        var w = 0
        while w < wc {
            let lanes = Swift.min(width, wc - w)
            let src = base + d0 * depthStride + (w0 + w) * wideStride
            if wideStride == 1 && lanes == 32 && width == 32 {
                // Contiguous rows (a row-major B): two vectors per p.
                var s = src, d = panel
                for _ in 0..<dc {
                    UnsafeMutableRawPointer(d).storeBytes(of: UnsafeRawPointer(s).loadUnaligned(as: SIMD16<Float>.self),
                                                          as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(d + 16).storeBytes(of: UnsafeRawPointer(s + 16).loadUnaligned(as: SIMD16<Float>.self),
                                                               as: SIMD16<Float>.self)
                    s += depthStride
                    d += 32
                }
            } else if wideStride == 1 {
                var s = src, d = panel
                for _ in 0..<dc {
                    d.update(from: s, count: lanes)
                    (d + lanes).update(repeating: 0, count: width - lanes)
                    s += depthStride
                    d += width
                }
            } else {
                // Each wide index is a run along depth (a transposed matrix when depthStride is 1):
                // read it in order, write it down the panel's column.
                for lane in 0..<lanes {
                    var s = src + lane * wideStride, d = panel + lane
                    for _ in 0..<dc {
                        d.pointee = s.pointee
                        s += depthStride
                        d += width
                    }
                }
                if lanes < width {
                    var d = panel
                    for _ in 0..<dc {
                        (d + lanes).update(repeating: 0, count: width - lanes)
                        d += width
                    }
                }
            }
            panel += dc * width
            w += width
        }
    }
}
