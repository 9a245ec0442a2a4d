import KilnOps
import KilnTensor

extension Graph: Equatable {
    /// Structural equality: the same inputs, constants (names, types and bytes), nodes (ops,
    /// arguments, results, debug handles, locations, annotations), outputs and lowered delegates,
    /// in the same order.
    ///
    /// Value ids are compared by definition order, so two graphs built apart compare equal, and
    /// values no longer defined by anything (left behind by a pass) do not matter.
    public static func == (a: Graph, b: Graph) -> Bool {
        guard a.name == b.name, a.symbols == b.symbols,
              a.inputs.count == b.inputs.count, a.constants.count == b.constants.count,
              a.nodes.count == b.nodes.count, a.outputs.count == b.outputs.count,
              a.delegates == b.delegates else { return false }
        let (na, nb) = (a.definitionOrder(), b.definitionOrder())
        func sameValue(_ x: ValueID, _ y: ValueID) -> Bool {
            guard let ix = na[x], let iy = nb[y], ix == iy else { return false }
            let (vx, vy) = (a[x], b[y])
            guard vx.name == vy.name, vx.type == vy.type else { return false }
            return vx.constantData == vy.constantData
        }
        guard zip(a.inputs, b.inputs).allSatisfy(sameValue),
              zip(a.constants, b.constants).allSatisfy(sameValue),
              zip(a.outputs, b.outputs).allSatisfy(sameValue) else { return false }
        for (x, y) in zip(a.nodes, b.nodes) {
            guard x.op == y.op, x.debugHandle == y.debugHandle, x.location == y.location, x.annotations == y.annotations,
                  x.results.count == y.results.count, zip(x.results, y.results).allSatisfy(sameValue) else { return false }
            let ax = x.arguments.map { $0.map { na[$0] ?? -1 } }
            let ay = y.arguments.map { $0.map { nb[$0] ?? -1 } }
            guard ax.count == ay.count, zip(ax, ay).allSatisfy(sameArgument) else { return false }
        }
        return true
    }

    /// Arguments compare as written: floats by bits (so -0.0 differs from 0.0), any NaN equal to
    /// any NaN (so a graph with a NaN attribute equals itself).
    private static func sameArgument(_ a: Argument<Int>, _ b: Argument<Int>) -> Bool {
        if case .float(let x) = a, case .float(let y) = b {
            return x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
        }
        return a == b
    }

    /// Each defined value's position: inputs, then constants, then node results in node order.
    func definitionOrder() -> [ValueID: Int] {
        var order: [ValueID: Int] = [:]
        for id in inputs + constants + nodes.flatMap(\.results) where order[id] == nil {
            order[id] = order.count
        }
        return order
    }
}
