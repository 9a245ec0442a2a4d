import KilnIR
import KilnOps
import KilnTensor

/// The steps during which a planned tensor must keep its bytes: from the step that defines it
/// to the last step that reads it, both included. Step `i` is the graph's node `i`.
///
/// Graph inputs are live from step 0 and graph outputs to the last step; a node's results and
/// its operands are live at the node's own step, so an op never writes over what it reads.
public struct Lifetime: Hashable, Sendable, CustomStringConvertible {
    public var first: Int
    public var last: Int

    public init(first: Int, last: Int) {
        self.first = first
        self.last = last
    }

    /// True when some step lies in both lifetimes.
    public func overlaps(_ other: Lifetime) -> Bool {
        first <= other.last && other.first <= last
    }

    /// `3...7`.
    public var description: String { "\(first)...\(last)" }
}

/// Where every planned tensor (graph inputs and node results; not constants) lives in the one
/// arena a method allocates, as ``MemoryPlanner`` chose it.
///
/// ```swift
/// let plan = try MemoryPlanner().plan(graph)
/// plan.offsets[graph.outputs[0]]        // byte offset in the arena
/// try plan.check(graph)                 // no two tensors live at once share a byte
/// ```
public struct MemoryPlan: Equatable, Sendable {
    /// Byte offset of each planned value in the arena; a multiple of ``alignment``.
    public var offsets: [ValueID: Int]
    /// Bytes of each planned value, its symbolic dims at their upper bounds (not rounded up).
    public var sizes: [ValueID: Int]
    /// Bytes the arena needs: the end of the highest placed tensor, a multiple of ``alignment``.
    public var arenaSize: Int
    /// The most bytes live at any one step (each tensor rounded up to ``alignment``): no plan
    /// can use a smaller arena, so `arenaSize / lowerBound` measures the placement.
    public var lowerBound: Int
    /// The alignment every offset has.
    public var alignment: Int

    public init(offsets: [ValueID: Int], sizes: [ValueID: Int], arenaSize: Int, lowerBound: Int, alignment: Int) {
        self.offsets = offsets
        self.sizes = sizes
        self.arenaSize = arenaSize
        self.lowerBound = lowerBound
        self.alignment = alignment
    }
}

extension MemoryPlan {
    /// The plan as text, one planned value per line in offset order, for `--dump-after plan-memory`:
    /// `  [     0,   4096) %x f32[1, 1024]`.
    public func text(for graph: Graph) -> String {
        var out = "// arena \(arenaSize) bytes (lower bound \(lowerBound)), alignment \(alignment)\n"
        let rows = offsets.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value < $1.value }
        let width = String(arenaSize).count
        func pad(_ n: Int) -> String { String(repeating: " ", count: max(0, width - String(n).count)) + String(n) }
        for (id, offset) in rows {
            let size = sizes[id] ?? 0
            out += "  [\(pad(offset)), \(pad(offset + size))) %\(graph[id].name) \(graph.type(of: id))\n"
        }
        return out
    }
}

/// Plans the arena of one graph: computes each tensor's ``Lifetime``, then places tensors
/// largest first, each in the smallest gap left between the tensors already placed whose
/// lifetimes overlap its own (best fit), or above them all. Tensors whose lifetimes are
/// disjoint share bytes.
///
/// Symbolic dims are planned at their upper bounds (the `.pte` DYNAMIC_BOUND case). The result
/// depends only on the graph, so the same graph always gets the same plan.
///
/// ```swift
/// let plan = try MemoryPlanner(alignment: 16).plan(graph)
/// print(plan.arenaSize, plan.lowerBound)
/// ```
public struct MemoryPlanner: Sendable {
    /// ExecuTorch's default alignment of planned tensors.
    public static let defaultAlignment = 16

    /// Every offset is a multiple of this (a power of two).
    public var alignment: Int

    /// - Parameter alignment: a power of two; offsets and sizes are rounded up to it.
    public init(alignment: Int = MemoryPlanner.defaultAlignment) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment \(alignment) is not a power of two")
        self.alignment = alignment
    }

    /// Plans `graph`.
    /// - Throws: ``EmitError`` `.unsupported` for a dim without a finite, non-negative upper
    ///   bound, `.tooLarge` when a tensor or the arena would not fit in 64 bits.
    public func plan(_ graph: Graph) throws(EmitError) -> MemoryPlan {
        let planned = Self.plannedValues(of: graph)
        let lifetimes = Self.lifetimes(of: graph)
        var sizes: [ValueID: Int] = [:]
        var aligned: [ValueID: Int] = [:]
        for id in planned {
            let size = try Self.byteSize(of: graph.type(of: id), name: graph[id].name)
            sizes[id] = size
            aligned[id] = try roundUp(size, name: graph[id].name)
        }

        // Largest first; ties by definition step, then value, so the order is total.
        let order = planned.sorted { a, b in
            let (sa, sb) = (aligned[a]!, aligned[b]!)
            if sa != sb { return sa > sb }
            let (la, lb) = (lifetimes[a]!.first, lifetimes[b]!.first)
            if la != lb { return la < lb }
            return a < b
        }
        var placed: [(id: ValueID, offset: Int, size: Int, lifetime: Lifetime)] = []
        var offsets: [ValueID: Int] = [:]
        var arena = 0
        for id in order {
            let size = aligned[id]!, lifetime = lifetimes[id]!
            var offset = 0
            if size > 0 {
                let conflicts = placed.filter { $0.size > 0 && $0.lifetime.overlaps(lifetime) }
                    .sorted { $0.offset != $1.offset ? $0.offset < $1.offset : $0.size < $1.size }
                var best: (offset: Int, gap: Int)?
                var end = 0
                for c in conflicts {
                    let gap = c.offset - end
                    if gap >= size, best == nil || gap < best!.gap { best = (end, gap) }
                    end = max(end, c.offset + c.size)
                }
                offset = best?.offset ?? end
                let (top, overflow) = offset.addingReportingOverflow(size)
                if overflow { throw EmitError(.tooLarge, "the arena would exceed 64 bits", subject: "%\(graph[id].name)") }
                arena = max(arena, top)
            }
            offsets[id] = offset
            placed.append((id, offset, size, lifetime))
        }
        return MemoryPlan(offsets: offsets, sizes: sizes, arenaSize: arena,
                          lowerBound: Self.lowerBound(aligned, lifetimes: lifetimes, steps: Self.stepCount(graph)),
                          alignment: alignment)
    }

    /// The values an arena holds: graph inputs, then every node's results, in graph order.
    public static func plannedValues(of graph: Graph) -> [ValueID] {
        var seen = Set<ValueID>()
        var values: [ValueID] = []
        for id in graph.inputs + graph.nodes.flatMap(\.results) where seen.insert(id).inserted {
            values.append(id)
        }
        return values
    }

    /// The lifetime of every planned value (see ``Lifetime``).
    public static func lifetimes(of graph: Graph) -> [ValueID: Lifetime] {
        let lastStep = stepCount(graph) - 1
        var lifetimes: [ValueID: Lifetime] = [:]
        for id in graph.inputs { lifetimes[id] = Lifetime(first: 0, last: 0) }
        for (step, node) in graph.nodes.enumerated() {
            for id in node.operands where lifetimes[id] != nil {
                lifetimes[id]!.last = max(lifetimes[id]!.last, step)
            }
            for id in node.results { lifetimes[id] = Lifetime(first: step, last: step) }
        }
        for id in graph.outputs where lifetimes[id] != nil {
            lifetimes[id]!.last = lastStep
        }
        return lifetimes
    }

    /// Bytes of a tensor of `type` with every dim at its upper bound.
    /// - Throws: `.unsupported` for a negative bound, `.tooLarge` when the size overflows.
    public static func byteSize(of type: TensorType, name: String) throws(EmitError) -> Int {
        var bytes = type.dtype.byteSize
        for dim in type.shape {
            let bound = dim.upperBound
            guard bound >= 0 else {
                throw EmitError(.unsupported, "dimension \(dim) has no non-negative upper bound", subject: "%\(name)")
            }
            guard bound < Int.max else {
                throw EmitError(.unsupported, "dimension \(dim) has no finite upper bound; give its symbols a range",
                                subject: "%\(name)")
            }
            let (product, overflow) = bytes.multipliedReportingOverflow(by: bound)
            if overflow { throw EmitError(.tooLarge, "\(type) needs more than 2^63 bytes", subject: "%\(name)") }
            bytes = product
        }
        return bytes
    }

    /// One step per node; a graph without nodes still has step 0, when its inputs are live.
    static func stepCount(_ graph: Graph) -> Int { max(graph.nodes.count, 1) }

    /// The most aligned bytes live at one step.
    static func lowerBound(_ aligned: [ValueID: Int], lifetimes: [ValueID: Lifetime], steps: Int) -> Int {
        var delta = [Int](repeating: 0, count: steps + 1)
        for (id, size) in aligned {
            let l = lifetimes[id]!
            delta[l.first] += size
            delta[l.last + 1] -= size
        }
        var live = 0, most = 0
        for d in delta {
            live += d
            most = max(most, live)
        }
        return most
    }

    private func roundUp(_ size: Int, name: String) throws(EmitError) -> Int {
        let (sum, overflow) = size.addingReportingOverflow(alignment - 1)
        if overflow { throw EmitError(.tooLarge, "the tensor needs more than 2^63 bytes", subject: "%\(name)") }
        return sum & ~(alignment - 1)
    }
}
