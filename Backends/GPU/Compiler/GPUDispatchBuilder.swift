import KilnIR
import KilnOps

/// Builds the dispatch list for one partition: the helpers each op's lowering calls (a GEMM, a
/// strided copy, an elementwise pass, a row-wise pass), with workgroup counts decided here.
/// Offsets and strides are in floats.
struct GPUDispatchBuilder {
    let graph: Graph
    let plan: GPUMemoryPlan
    /// The node being lowered, for messages.
    var subject = ""
    private(set) var draft = GPUDispatchList()

    init(graph: Graph, plan: GPUMemoryPlan) {
        self.graph = graph
        self.plan = plan
    }

    /// Invocations per workgroup of the 1-D shaders.
    static let groupSize = 256
    /// The most workgroups along one axis (Vulkan's guaranteed minimum).
    static let maxGroups = 65_535
    /// The matmul shader's tile.
    static let tile = 16

    // MARK: - Values

    func offset(_ v: ValueID) -> UInt32 { UInt32(plan.offset(of: v)) }

    /// The static shape of `v`.
    func shape(_ v: ValueID) throws(GPUCompilerError) -> [Int] {
        guard let dims = graph.type(of: v).staticShape else {
            throw GPUCompilerError(.unsupportedOperand, "\(subject): %\(graph[v].name) has a symbolic shape")
        }
        return dims
    }

    func error(_ kind: GPUCompilerError.Kind, _ message: String) -> GPUCompilerError {
        GPUCompilerError(kind, "\(subject): \(message)")
    }

    // MARK: - Dispatches

    /// Appends a dispatch of `shader` with `push` (at most 32 words) and `groups`.
    mutating func dispatch(_ shader: String, _ push: [UInt32], groups: (Int, Int, Int)) throws(GPUCompilerError) {
        for g in [groups.0, groups.1, groups.2] where g > Self.maxGroups {
            throw error(.tooLarge, "\(shader) needs \(g) workgroups on one axis, more than \(Self.maxGroups)")
        }
        precondition(push.count <= 32, "push constants of \(shader) exceed 128 bytes")
        let index: Int
        if let i = draft.shaders.firstIndex(of: shader) {
            index = i
        } else {
            index = draft.shaders.count
            draft.shaders.append(shader)
        }
        draft.dispatches.append(.init(shader: index, push: push,
                                      groups: (UInt32(groups.0), UInt32(groups.1), UInt32(groups.2))))
    }

    /// Workgroups for `count` groups of work, split over x and y when x alone cannot hold them.
    static func spread(_ count: Int) -> (Int, Int, Int) {
        let x = min(max(count, 1), maxGroups)
        return (x, (count + x - 1) / x, 1)
    }

    /// One invocation per element: `n` elements in groups of 256.
    static func elementGroups(_ n: Int) -> (Int, Int, Int) { spread((n + groupSize - 1) / groupSize) }

    /// `unary.comp`: dst = f(src) over `n` elements.
    mutating func unary(n: Int, src: UInt32, dst: UInt32, op: UInt32, a: Float = 0, b: Float = 0) throws(GPUCompilerError) {
        guard n > 0 else { return }
        try dispatch("unary", [UInt32(n), src, dst, op, a.bitPattern, b.bitPattern], groups: Self.elementGroups(n))
    }

    /// `copy.comp`: a strided copy over a 4-D index space.
    mutating func copy(dims: [Int], src: UInt32, srcStrides: [Int], dst: UInt32, dstStrides: [Int]) throws(GPUCompilerError) {
        let n = dims.reduce(1, *)
        guard n > 0 else { return }
        let d = Self.padded(dims, 1), ss = Self.padded(srcStrides, 0), ds = Self.padded(dstStrides, 0)
        try dispatch("copy", [UInt32(n), src, dst, UInt32(d[1]), UInt32(d[2]), UInt32(d[3])]
                         + ss.map { UInt32($0) } + ds.map { UInt32($0) },
                     groups: Self.elementGroups(n))
    }

    /// A matrix product, `C[b0, b1] = alpha * A[b0, b1] @ B[b0, b1] + beta * bias` (C row-major
    /// `[M, N]` per batch). Strides are (batch 0, batch 1, row, column).
    struct GEMM {
        var m = 1, n = 1, k = 1
        var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0
        var batch0 = 1, batch1 = 1
        var aStrides = [0, 0, 0, 1], bStrides = [0, 0, 0, 1]
        var cStrides = [0, 0]
        /// Offset and (row, column) strides of a bias over `[M, N]`.
        var bias: (offset: UInt32, row: Int, column: Int)?
        var alpha: Float = 1, beta: Float = 1
    }

    mutating func gemm(_ g: GEMM) throws(GPUCompilerError) {
        guard g.m > 0, g.n > 0, g.batch0 * g.batch1 > 0 else { return }
        let t = Self.tile
        let push: [UInt32] = [UInt32(g.m), UInt32(g.n), UInt32(g.k), g.a, g.b, g.c, g.bias?.offset ?? 0, UInt32(g.batch1)]
            + g.aStrides.map { UInt32($0) } + g.bStrides.map { UInt32($0) } + g.cStrides.map { UInt32($0) }
            + [UInt32(g.bias?.row ?? 0), UInt32(g.bias?.column ?? 0), g.bias == nil ? 0 : 1, g.alpha.bitPattern, g.beta.bitPattern]
        if g.m < t {
            // Few rows: matvec.comp, one invocation per output, no tile of mostly absent rows.
            try dispatch("matvec", push, groups: ((g.n + 63) / 64, g.m, g.batch0 * g.batch1))
        } else {
            try dispatch("matmul", push, groups: ((g.n + t - 1) / t, (g.m + t - 1) / t, g.batch0 * g.batch1))
        }
    }

    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in shape.indices.reversed() {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// `values` right-aligned to 4 entries, `fill` in front.
    static func padded(_ values: [Int], _ fill: Int) -> [Int] {
        [Int](repeating: fill, count: max(0, 4 - values.count)) + values.suffix(4)
    }
}

/// The dispatches and the shaders they use, in order.
struct GPUDispatchList {
    var shaders: [String] = []
    var dispatches: [GPUPayloadDraft.Dispatch] = []
}
