import KilnOps

/// One registered kernel: the op it computes, its name (`<dtypes>_<op>__<isa>`), and the function.
public struct KernelEntry: Sendable {
    /// The op's table name (`add.Tensor`).
    public let op: String
    /// What the kernel is, by the naming convention: `f32_i64_add__portable`.
    public let name: String
    public let kernel: Kernel
    /// Bytes of working memory the kernel wants for a call (0 for most kernels); callers that
    /// run a call many times allocate it once and pass it as ``KernelCall/scratch``.
    public let scratchBytes: @Sendable (KernelCall) -> Int
    /// How the kernel packs constant inputs once (a weight's GEMM panels), or nil.
    public let prepack: KernelPrepack?

    public init(op: String, name: String, scratchBytes: @escaping @Sendable (KernelCall) -> Int = { _ in 0 },
                prepack: KernelPrepack? = nil, kernel: @escaping Kernel) {
        self.op = op
        self.name = name
        self.scratchBytes = scratchBytes
        self.prepack = prepack
        self.kernel = kernel
    }
}

/// The kernel registry: data, keyed by op name, usable by the runtime without any compiler module.
///
/// ```swift
/// let relu = KernelRegistry.entry(for: "relu")!
/// try relu.kernel(call)
/// ```
public enum KernelRegistry {
    /// Every portable kernel.
    public static let entries: [KernelEntry] =
        elementwiseKernels + reductionKernels + layoutKernels + linearAlgebraKernels + spatialKernels
        + normalizationKernels + quantizationKernels + int4QuantizationKernels + mathKernels + shapingKernels + samplingKernels

    private static let byOp: [String: KernelEntry] = {
        var table: [String: KernelEntry] = [:]
        for e in entries {
            precondition(table[e.op] == nil, "two kernels registered for \(e.op)")
            precondition(OpTable.schema(named: e.op) != nil, "kernel \(e.name) is for unknown op \(e.op)")
            table[e.op] = e
        }
        return table
    }()

    /// The kernel for `op`, or nil.
    public static func entry(for op: String) -> KernelEntry? { byOp[op] }
}
