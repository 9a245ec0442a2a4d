import KilnIR
import KilnOps

extension Decompose {
    /// Decompositions of the non-core ops of `mathOps`, as ATen's core decompositions write them.
    static let mathRules: [String: Rule] = [
        // hardswish(x) -> div.Scalar(mul.Tensor(x, clamp(add.Scalar(x, 3), 0, 6)), 6)
        "hardswish": { rw, node, args throws(PassError) in
            let x = args.tensor("self")
            let gate = try hardGate(&rw, x)
            let scaled = try rw.emit("mul.Tensor", ["self": .tensor(x), "other": .tensor(gate)])[0]
            return .replaced(try rw.emit("div.Scalar", ["self": .tensor(scaled), "other": .int(6)],
                                         names: resultNames(rw, node)))
        },
        // hardsigmoid(x) -> div.Scalar(clamp(add.Scalar(x, 3), 0, 6), 6)
        "hardsigmoid": { rw, node, args throws(PassError) in
            let gate = try hardGate(&rw, args.tensor("self"))
            return .replaced(try rw.emit("div.Scalar", ["self": .tensor(gate), "other": .int(6)],
                                         names: resultNames(rw, node)))
        },
        // zeros(size, dtype) -> full(size, 0, dtype or f32)
        "zeros": { rw, node, args throws(PassError) in
            .replaced(try filled(&rw, node, args, with: 0))
        },
        // ones(size, dtype) -> full(size, 1, dtype or f32)
        "ones": { rw, node, args throws(PassError) in
            .replaced(try filled(&rw, node, args, with: 1))
        },
        // triu(x, k) -> permute_copy(tril(permute_copy(x, last two swapped), -k), last two swapped)
        // (ExecuTorch's portable library has tril.out but no triu.out)
        "triu": { rw, node, args throws(PassError) in
            let x = args.tensor("self")
            let rank = rw.type(of: x).rank
            let swapped = Argument<ValueID>.intList(Array(0..<(rank - 2)) + [rank - 1, rank - 2])
            // -Int.min overflows; any diagonal beyond the matrix keeps (or clears) all of it alike.
            let diagonal = -max(args.int("diagonal"), -Int.max)
            let t = try rw.emit("permute_copy", ["self": .tensor(x), "dims": swapped])[0]
            let lower = try rw.emit("tril", ["self": .tensor(t), "diagonal": .int(diagonal)])[0]
            return .replaced(try rw.emit("permute_copy", ["self": .tensor(lower), "dims": swapped],
                                         names: resultNames(rw, node)))
        },
    ]

    /// `clamp(add.Scalar(x, 3), 0, 6)`, the gate hardswish and hardsigmoid share.
    private static func hardGate(_ rw: inout GraphRewriter, _ x: ValueID) throws(PassError) -> ValueID {
        let shifted = try rw.emit("add.Scalar", ["self": .tensor(x), "other": .int(3)])[0]
        return try rw.emit("clamp", ["self": .tensor(shifted), "min": .int(0), "max": .int(6)])[0]
    }

    /// `full(size, value, dtype)` standing for zeros or ones, whose dtype defaults to float32.
    private static func filled(_ rw: inout GraphRewriter, _ node: Node, _ args: OpArguments<ValueID>,
                               with value: Int) throws(PassError) -> [ValueID] {
        let dtype = rw.source.type(of: node.results[0]).dtype
        return try rw.emit("full", ["size": args["size"], "fill_value": .int(value), "dtype": .dtype(dtype)],
                           names: resultNames(rw, node))
    }
}
