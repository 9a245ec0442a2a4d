import KilnTensor

/// The reference matrix product: `C[m, n] = A[m, k] · B[k, n]`, or `C += A · B`.
///
/// The integer matrix products (int64, int32) run on this loop nest; float32 runs on
/// ``FloatGemm``, which this loop checks in the tests and the benchmarks. It is the
/// clear reference, not the fast one: loop order i-k-j, so each `A[i, p]` scales row `p` of `B`
/// into row `i` of `C`, which serves as the row accumulator. The inner loop then walks `B` and
/// `C` contiguously with independent lanes and vectorizes without reassociating any sum.
///
/// ```swift
/// Gemm.multiply(m: 2, n: 3, k: 4, a: .rowMajor(a, columns: 4), b: .rowMajor(b, columns: 3),
///               c: c, ldc: 3, accumulate: false)
/// ```
public enum Gemm {
    /// A read-only matrix operand: element `[r, c]` is at `base[r * rowStride + c * columnStride]`.
    ///
    /// A transposed matrix is the same memory with the two strides swapped.
    public struct Operand<T> {
        public var base: UnsafePointer<T>
        public var rowStride: Int
        public var columnStride: Int

        /// The matrix whose element `[r, c]` is at `base[r * rowStride + c * columnStride]`.
        public init(base: UnsafePointer<T>, rowStride: Int, columnStride: Int) {
            self.base = base
            self.rowStride = rowStride
            self.columnStride = columnStride
        }

        /// A dense row-major matrix with `columns` columns.
        public static func rowMajor(_ base: UnsafePointer<T>, columns: Int) -> Operand {
            Operand(base: base, rowStride: columns, columnStride: 1)
        }

        /// The transpose of a dense row-major matrix with `columns` columns (`columns` rows here).
        public static func transposed(_ base: UnsafePointer<T>, columns: Int) -> Operand {
            Operand(base: base, rowStride: 1, columnStride: columns)
        }

        @inline(__always) public subscript(row: Int, column: Int) -> T {
            base[row * rowStride + column * columnStride]
        }
    }

    /// Elements of scratch ``multiply(m:n:k:a:b:c:ldc:accumulate:packing:)`` uses for `B`:
    /// `k * n` when `B`'s rows are not contiguous (it is packed first), else 0.
    static func packingCount<T>(n: Int, k: Int, b: Operand<T>) -> Int {
        b.columnStride != 1 && n > 1 && k > 0 ? k * n : 0
    }

    /// `C[m, n] = A · B` (or `C += A · B` when `accumulate`), with `C` row `i` at `c + i * ldc`.
    ///
    /// `A` may have any strides (one scalar read per `(i, p)`). When `B`'s rows are not contiguous
    /// (a transposed weight, as in linear) it is first packed into a row-major copy: in `packing`
    /// when that holds ``packingCount(n:k:b:)`` elements (the kernel's scratch), else in memory
    /// allocated for this product only. `k == 0` gives zeros (or leaves `C` as it was).
    /// Floats accumulate in Float in `p` order; integers wrap on overflow, as torch's do.
    static func multiply<T: GemmElement>(m: Int, n: Int, k: Int, a: Operand<T>, b: Operand<T>,
                                         c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool,
                                         packing: UnsafeMutableBufferPointer<T> = .init(start: nil, count: 0)) {
        guard m > 0, n > 0 else { return }
        let packed = packingCount(n: n, k: k, b: b)
        guard packed > 0 else {
            rowAccumulate(m: m, n: n, k: k, a: a, b: b.base, ldb: b.rowStride, c: c, ldc: ldc, accumulate: accumulate)
            return
        }
        // Step 1: make B's rows contiguous, in the caller's packing buffer (or a new one).
        let owned: UnsafeMutablePointer<T>? = packing.count >= packed ? nil : .allocate(capacity: packed)
        defer { owned?.deallocate() }
        let pb = owned ?? packing.baseAddress!
        for p in 0..<k {
            for j in 0..<n { (pb + p * n + j).initialize(to: b[p, j]) }
        }
        rowAccumulate(m: m, n: n, k: k, a: a, b: UnsafePointer(pb), ldb: n, c: c, ldc: ldc, accumulate: accumulate)
    }

    /// The float32 reference product, for tests and benchmarks that compare ``FloatGemm`` with
    /// it: ``multiply(m:n:k:a:b:c:ldc:accumulate:packing:)`` on Floats (an unfused multiply and
    /// add per step, `p` in order; a non-contiguous `B` is packed into memory allocated here).
    public static func referenceMultiply(m: Int, n: Int, k: Int, a: Operand<Float>, b: Operand<Float>,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        multiply(m: m, n: n, k: k, a: a, b: b, c: c, ldc: ldc, accumulate: accumulate)
    }

    /// The i-k-j loop nest over a `B` whose rows are contiguous (`B[p, j]` at `b[p * ldb + j]`).
    private static func rowAccumulate<T: GemmElement>(m: Int, n: Int, k: Int, a: Operand<T>,
                                                      b: UnsafePointer<T>, ldb: Int,
                                                      c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool) {
        for i in 0..<m {
            // Step 2: the output row is the accumulator; start it at zero unless adding to C.
            let row = c + i * ldc
            if !accumulate { row.update(repeating: .zero, count: n) }
            // Step 3: row += A[i, p] * B[p, :] for every p. No skipping of zero A[i, p]:
            // 0 * inf must still give NaN.
            for p in 0..<k {
                let scale = a[i, p]
                let bRow = b + p * ldb
                for j in 0..<n { row[j] = T.multiplyAdd(row[j], scale, bRow[j]) }
            }
        }
    }
}

/// Element types the shared GEMM computes in.
///
/// Floating point adds and multiplies with IEEE rounding in a fixed order; integers wrap on
/// overflow (two's complement), as PyTorch's integer matrix products do.
protocol GemmElement: TensorElement {
    static var zero: Self { get }
    /// `c + a * b`.
    static func multiplyAdd(_ c: Self, _ a: Self, _ b: Self) -> Self
    /// `a * b`.
    static func multiply(_ a: Self, _ b: Self) -> Self
    /// An int scalar argument (`alpha`, `beta`) in this type; integer types wrap it to their width.
    init(integer: Int)
    /// A float scalar argument in this type; integer types truncate it (callers reject those).
    init(real: Double)
}

extension Float: GemmElement {
    @inline(__always) static func multiplyAdd(_ c: Float, _ a: Float, _ b: Float) -> Float { c + a * b }
    @inline(__always) static func multiply(_ a: Float, _ b: Float) -> Float { a * b }
    init(integer: Int) { self.init(integer) }
    init(real: Double) { self.init(real) }
}

extension Int64: GemmElement {
    @inline(__always) static func multiplyAdd(_ c: Int64, _ a: Int64, _ b: Int64) -> Int64 { c &+ a &* b }
    @inline(__always) static func multiply(_ a: Int64, _ b: Int64) -> Int64 { a &* b }
    init(integer: Int) { self.init(truncatingIfNeeded: integer) }
    init(real: Double) { self.init(integer: Int(exactly: real.rounded(.towardZero)) ?? 0) }
}

extension Int32: GemmElement {
    @inline(__always) static func multiplyAdd(_ c: Int32, _ a: Int32, _ b: Int32) -> Int32 { c &+ a &* b }
    @inline(__always) static func multiply(_ a: Int32, _ b: Int32) -> Int32 { a &* b }
    init(integer: Int) { self.init(truncatingIfNeeded: integer) }
    init(real: Double) { self.init(integer: Int(exactly: real.rounded(.towardZero)) ?? 0) }
}
