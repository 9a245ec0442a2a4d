import KilnIR
import KilnOps
import KilnTensor

/// Where each value of a partition lives in the delegate's one device buffer, in floats:
/// weights first (uploaded once, never reused), then the activations (inputs, outputs,
/// intermediates), placed first-fit by size so values whose lifetimes do not overlap share
/// memory. View ops (``aliasOps``) alias their input instead of copying it.
///
/// ```swift
/// let plan = try GPUMemoryPlan(graph)
/// plan.offset(of: value)      // floats from the buffer's start
/// ```
struct GPUMemoryPlan {
    /// Ops whose result is its input's elements, unchanged and contiguous: no dispatch, the
    /// result aliases the input's memory.
    static let aliasOps: Set<String> = ["view_copy", "reshape", "flatten.using_ints", "unsqueeze_copy", "squeeze_copy.dims"]
    /// Every offset and size is a multiple of this many floats (64 bytes).
    static let alignment = 16

    /// The value whose memory each value uses (itself, or the input a view aliases).
    private(set) var root: [ValueID: ValueID] = [:]
    /// Offset in floats of each root.
    private(set) var offsets: [ValueID: Int] = [:]
    /// Weights: (constant, offset in floats), in declaration order.
    private(set) var weights: [(value: ValueID, offset: Int)] = []
    /// Total floats.
    private(set) var size = 0

    init(_ graph: Graph) throws(GPUCompilerError) {
        for v in graph.inputs + graph.constants { root[v] = v }
        for node in graph.nodes {
            if Self.aliasOps.contains(node.op.name), let input = node.operands.first, let r = root[input] {
                root[node.results[0]] = r
            } else {
                for r in node.results { root[r] = r }
            }
        }
        // Weights first.
        var end = 0
        for c in graph.constants {
            weights.append((c, end))
            offsets[c] = end
            end += Self.aligned(try Self.elementCount(graph, c))
        }
        // Lifetimes of the other roots: [defining node, last node reading it]; inputs from -1,
        // outputs to the end.
        let constants = Set(graph.constants)
        var first: [ValueID: Int] = [:], last: [ValueID: Int] = [:]
        func touch(_ v: ValueID, _ step: Int) {
            guard let r = root[v], !constants.contains(r) else { return }
            first[r] = min(first[r] ?? step, step)
            last[r] = max(last[r] ?? step, step)
        }
        for v in graph.inputs { touch(v, -1) }
        for (i, node) in graph.nodes.enumerated() {
            for v in node.operands { touch(v, i) }
            for v in node.results { touch(v, i) }
        }
        for v in graph.outputs { touch(v, graph.nodes.count) }
        // First-fit, largest first (ties by value order, so the plan is deterministic).
        let roots = first.keys.sorted()
        var sizes: [ValueID: Int] = [:]
        for r in roots { sizes[r] = Self.aligned(try Self.elementCount(graph, r)) }
        let order = roots.sorted { (sizes[$0]!, $1.index) > (sizes[$1]!, $0.index) }
        var placed: [(start: Int, end: Int, first: Int, last: Int)] = []
        var arenaEnd = 0
        for r in order {
            let size = sizes[r]!, lo = first[r]!, hi = last[r]!
            var offset = 0
            for p in placed.filter({ $0.first <= hi && lo <= $0.last }).sorted(by: { $0.start < $1.start }) {
                if offset + size <= p.start { break }
                offset = max(offset, p.end)
            }
            placed.append((offset, offset + size, lo, hi))
            offsets[r] = end + offset
            arenaEnd = max(arenaEnd, offset + size)
        }
        size = end + arenaEnd
        guard size <= Int(UInt32.max) else {
            throw GPUCompilerError(.tooLarge, "the partition needs \(size) floats of device memory, more than 32-bit offsets address")
        }
    }

    /// Floats from the buffer's start to `value`'s first element.
    func offset(of value: ValueID) -> Int {
        guard let r = root[value], let o = offsets[r] else { return 0 }
        return o
    }

    static func aligned(_ n: Int) -> Int { max(alignment, (n + alignment - 1) / alignment * alignment) }

    static func elementCount(_ graph: Graph, _ v: ValueID) throws(GPUCompilerError) -> Int {
        guard let shape = graph.type(of: v).staticShape else {
            throw GPUCompilerError(.unsupportedOperand, "%\(graph[v].name) has a symbolic shape \(graph.type(of: v)); "
                                   + "the GPU backend plans memory for static shapes")
        }
        guard let n = try? Shape.elementCount(shape) else {
            throw GPUCompilerError(.unsupportedOperand, "%\(graph[v].name) (\(graph.type(of: v))) has too many elements")
        }
        return n
    }
}
