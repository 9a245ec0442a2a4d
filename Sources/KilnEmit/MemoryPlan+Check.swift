import KilnIR

extension MemoryPlan {
    /// Proves the plan safe for `graph`: every planned value has an offset that is a multiple
    /// of ``alignment`` and ends inside the arena, and no two values live at the same step
    /// share a byte. Lifetimes and sizes are recomputed from the graph, not taken from the plan.
    ///
    /// ```swift
    /// try MemoryPlanner().plan(graph).check(graph)
    /// ```
    /// - Throws: ``EmitError`` `.invalidPlan` naming the value (or the two values) at fault.
    public func check(_ graph: Graph) throws(EmitError) {
        let lifetimes = MemoryPlanner.lifetimes(of: graph)
        var spans: [(id: ValueID, offset: Int, end: Int, lifetime: Lifetime)] = []
        for id in MemoryPlanner.plannedValues(of: graph) {
            let name = "%\(graph[id].name)"
            guard let offset = offsets[id] else {
                throw EmitError(.invalidPlan, "the memory plan has no offset for this value", subject: name)
            }
            let size = try MemoryPlanner.byteSize(of: graph.type(of: id), name: graph[id].name)
            guard offset >= 0, offset % alignment == 0 else {
                throw EmitError(.invalidPlan, "offset \(offset) is not a non-negative multiple of \(alignment)", subject: name)
            }
            let (end, overflow) = offset.addingReportingOverflow(size)
            guard !overflow, end <= arenaSize else {
                throw EmitError(.invalidPlan, "bytes \(offset)..<\(offset &+ size) end past the arena (\(arenaSize) bytes)",
                                subject: name)
            }
            if size > 0 { spans.append((id, offset, end, lifetimes[id]!)) }
        }
        // Sweep by first step; `active` holds the spans whose lifetimes reach the current one.
        spans.sort { $0.lifetime.first != $1.lifetime.first ? $0.lifetime.first < $1.lifetime.first : $0.id < $1.id }
        var active: [(id: ValueID, offset: Int, end: Int, lifetime: Lifetime)] = []
        for span in spans {
            active.removeAll { $0.lifetime.last < span.lifetime.first }
            if let other = active.first(where: { $0.offset < span.end && span.offset < $0.end }) {
                let step = max(other.lifetime.first, span.lifetime.first)
                throw EmitError(.invalidPlan,
                                "%\(graph[other.id].name) (bytes \(other.offset)..<\(other.end), steps \(other.lifetime)) and "
                                    + "%\(graph[span.id].name) (bytes \(span.offset)..<\(span.end), steps \(span.lifetime)) "
                                    + "share memory while both are live at step \(step)")
            }
            active.append(span)
        }
    }
}
