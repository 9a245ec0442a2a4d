import KilnIR
import KilnOps
import KilnTensor

extension Decompose {
    /// One rule per non-core op. A rule decides everything it can before emitting, so a rule
    /// that answers `.unsupported` has added nothing to the graph.
    static let rules: [String: Rule] = {
        var all = coreRules
        for group in [mathRules, shapingRules, samplingRules] {
            all.merge(group) { _, _ in preconditionFailure("an op has two decomposition rules") }
        }
        return all
    }()

    /// The rules for the ops of the first op groups (linear algebra, layout, normalization).
    static let coreRules: [String: Rule] = [
        // linear(x, w, b) -> addmm(b, x, permute_copy(w, [1, 0])); mm without b; 2-D views around it
        "linear": linear,
        // matmul(a, b) -> mm | view + mm + view | bmm | (expand +) view + bmm + view
        "matmul": matmul,
        // reshape(x, shape) -> view_copy(x, shape)
        "reshape": { rw, node, args throws(PassError) in
            .replaced(try rw.emit("view_copy", ["self": args["self"], "size": args["shape"]],
                                  names: resultNames(rw, node)))
        },
        // flatten.using_ints(x, s, e) -> view_copy(x, result shape)
        "flatten.using_ints": { rw, node, args throws(PassError) in
            let out = rw.source.type(of: node.results[0])
            guard let sizes = viewSizes(out.shape) else { return .unsupported(moreThanOneSymbolic(out)) }
            return .replaced(try rw.emit("view_copy", ["self": args["self"], "size": .intList(sizes)],
                                         names: resultNames(rw, node)))
        },
        // transpose.int(x, d0, d1) -> permute_copy(x, identity with d0 and d1 swapped)
        "transpose.int": { rw, node, args throws(PassError) in
            let rank = rw.type(of: args.tensor("self")).rank
            var dims = Array(0..<rank)
            if rank > 0 {
                let (a, b) = (normalized(args.int("dim0"), rank), normalized(args.int("dim1"), rank))
                dims.swapAt(a, b)
            }
            return .replaced(try rw.emit("permute_copy", ["self": args["self"], "dims": .intList(dims)],
                                         names: resultNames(rw, node)))
        },
        // softmax.int(x, dim) -> _softmax(x, dim, false)
        // softmax.int(x, dim, dtype) -> _softmax(_to_copy(x, dtype), dim, false) when dtype is not x's
        "softmax.int": { rw, node, args throws(PassError) in
            var x = args.tensor("self")
            if let dtype = args.optionalDType("dtype"), dtype != rw.type(of: x).dtype {
                x = try rw.emit("_to_copy", ["self": .tensor(x), "dtype": .dtype(dtype)])[0]
            }
            return .replaced(try rw.emit("_softmax", ["self": .tensor(x), "dim": args["dim"], "half_to_float": .bool(false)],
                                         names: resultNames(rw, node)))
        },
        // batch_norm(x, w, b, mean, var) -> _native_batch_norm_legit_no_training(...)[0]
        "batch_norm": { rw, node, args throws(PassError) in
            let results = try rw.emit("_native_batch_norm_legit_no_training", [
                "input": args["input"], "weight": args["weight"], "bias": args["bias"],
                "running_mean": args["running_mean"], "running_var": args["running_var"],
                "momentum": args["momentum"], "eps": args["eps"],
            ], names: resultNames(rw, node) + [rw.freshName(), rw.freshName()])
            return .replaced([results[0]])
        },
        // adaptive_avg_pool2d(x, size) -> _adaptive_avg_pool2d(x, size)
        "adaptive_avg_pool2d": { rw, node, args throws(PassError) in
            .replaced(try rw.emit("_adaptive_avg_pool2d", ["self": args["self"], "output_size": args["output_size"]],
                                  names: resultNames(rw, node)))
        },
        // rms_norm(x, shape, w, eps) -> mul(mul(x, rsqrt(add(mean(mul(x, x), dims, keepdim), eps))), w)
        "rms_norm": rmsNorm,
    ]

    // MARK: Rules

    @Sendable static func linear(_ rw: inout GraphRewriter, _ node: Node,
                                 _ args: OpArguments<ValueID>) throws(PassError) -> Outcome {
        let x = args.tensor("input"), w = args.tensor("weight"), bias = args.optionalTensor("bias")
        let xt = rw.type(of: x)
        let out = rw.source.type(of: node.results[0])
        // Other ranks: flatten the leading dims into rows, and restore them afterwards.
        var views: (rows: [Int], result: [Int])?
        if xt.rank != 2 {
            guard let rows = product(xt.shape.dropLast()), let inFeatures = xt.shape.last,
                  let rowSizes = viewSizes([rows, inFeatures]), let resultSizes = viewSizes(out.shape) else {
                return .unsupported(moreThanOneSymbolic(xt))
            }
            views = (rowSizes, resultSizes)
        }
        // Named after the weight, so the constant folding makes of it reads as the weight.
        let transposed = try rw.emit("permute_copy", ["self": .tensor(w), "dims": .intList([1, 0])],
                                     names: [rw.freshName(base: rw.graph[w].name + ".t")])[0]
        var rows = x
        if let views { rows = try rw.emit("view_copy", ["self": .tensor(x), "size": .intList(views.rows)])[0] }
        let names = views == nil ? resultNames(rw, node) : nil
        let y: ValueID
        if let bias {
            y = try rw.emit("addmm", ["self": .tensor(bias), "mat1": .tensor(rows), "mat2": .tensor(transposed)],
                                  names: names)[0]
        } else {
            y = try rw.emit("mm", ["self": .tensor(rows), "mat2": .tensor(transposed)], names: names)[0]
        }
        guard let views else { return .replaced([y]) }
        return .replaced(try rw.emit("view_copy", ["self": .tensor(y), "size": .intList(views.result)],
                                     names: resultNames(rw, node)))
    }

    @Sendable static func matmul(_ rw: inout GraphRewriter, _ node: Node,
                                 _ args: OpArguments<ValueID>) throws(PassError) -> Outcome {
        let a = args.tensor("self"), b = args.tensor("other")
        let plan = matmulPlan(rw.type(of: a), rw.type(of: b), result: rw.source.type(of: node.results[0]))
        switch plan {
        case .success(let plan):
            return .replaced([try emitMatmul(&rw, plan, a, b, names: resultNames(rw, node))])
        case .failure(let reason):
            return .unsupported(reason.message)
        }
    }

    /// How `matmul(a, b)` lowers to core ops: views (and expands) of each operand around one
    /// `mm` or `bmm`, and a view of the product to the result's shape.
    struct MatmulPlan {
        /// `bmm` over a flattened batch, or one `mm`.
        var batched: Bool
        /// `expand_copy` sizes for each operand (nil: none), applied before its view.
        var expandA: [Int]?, expandB: [Int]?
        /// `view_copy` sizes for each operand (nil: none).
        var viewA: [Int]?, viewB: [Int]?
        /// `view_copy` sizes of the product (nil: the product is the result).
        var viewResult: [Int]?
    }

    /// Why a matmul cannot lower.
    struct Unlowerable: Error {
        var message: String
    }

    /// The lowering of `matmul(a, b)` with result type `result`, decided from the types alone (so
    /// a rule can check every matmul it needs before emitting anything).
    ///
    /// - b a matrix (1-D, 2-D, or batch dims all 1): a's leading dims fold into rows; one `mm`.
    /// - otherwise: each operand is expanded to the broadcast batch dims (when its own differ)
    ///   and viewed as `[batch, rows, cols]`; one `bmm`. A 1-D a is a `[1, k]` matrix.
    static func matmulPlan(_ at: TensorType, _ bt: TensorType, result out: TensorType) -> Result<MatmulPlan, Unlowerable> {
        let batchB = bt.rank > 2 ? Array(bt.shape.dropLast(2)) : []
        let k = at.shape[at.rank - 1]

        // b is a matrix: a's leading dims fold into rows; one mm.
        if bt.rank <= 2 || batchB.allSatisfy(\.isOne) {
            let bMatrix = bt.rank == 1 ? [k, Dim(1)] : Array(bt.shape.suffix(2))
            guard let rows = product(at.shape.dropLast()), let aSizes = viewSizes([rows, k]) else {
                return .failure(Unlowerable(message: moreThanOneSymbolic(at)))
            }
            guard let bSizes = viewSizes(bMatrix) else { return .failure(Unlowerable(message: moreThanOneSymbolic(bt))) }
            guard let outSizes = viewSizes(out.shape) else { return .failure(Unlowerable(message: moreThanOneSymbolic(out))) }
            return .success(MatmulPlan(batched: false, expandA: nil, expandB: nil,
                                       viewA: at.shape == [rows, k] ? nil : aSizes,
                                       viewB: bt.shape == bMatrix ? nil : bSizes,
                                       viewResult: [rows, bMatrix[1]] == out.shape ? nil : outSizes))
        }

        // Batched b: both operands at the broadcast batch dims, flattened into one; one bmm.
        let batchA = at.rank > 2 ? Array(at.shape.dropLast(2)) : []
        guard let batch = try? Shape.broadcast(batchA, batchB), let count = product(batch) else {
            return .failure(Unlowerable(message: "matmul of \(at) and \(bt): batch dims \(batchA) and \(batchB) do not broadcast"))
        }
        let aMatrix = at.rank == 1 ? [Dim(1), k] : Array(at.shape.suffix(2))
        let bMatrix = Array(bt.shape.suffix(2))
        var plan = MatmulPlan(batched: true, expandA: nil, expandB: nil, viewA: nil, viewB: nil, viewResult: nil)
        for (operand, matrix, isA) in [(at, aMatrix, true), (bt, bMatrix, false)] {
            let target = batch + matrix
            var current = operand.shape
            if current != target {
                // Expand: -1 keeps a dim; a new or broadcast dim needs its size as a constant.
                var sizes: [Int] = []
                let offset = target.count - operand.rank
                for (i, d) in target.enumerated() {
                    if i >= offset, operand.shape[i - offset] == d {
                        sizes.append(-1)
                    } else if let v = d.staticValue {
                        sizes.append(v)
                    } else {
                        return .failure(Unlowerable(message: "matmul of \(at) and \(bt): expanding \(operand) to \(target) "
                                                    + "would need expand_copy to the symbolic size \(d), which an int list cannot hold"))
                    }
                }
                if isA { plan.expandA = sizes } else { plan.expandB = sizes }
                current = target
            }
            let flat = [count] + matrix
            if current != flat {
                guard let sizes = viewSizes(flat) else {
                    return .failure(Unlowerable(message: moreThanOneSymbolic(TensorType(operand.dtype, flat))))
                }
                if isA { plan.viewA = sizes } else { plan.viewB = sizes }
            }
        }
        let product3 = [count, aMatrix[0], bMatrix[1]]
        if product3 != out.shape {
            guard let sizes = viewSizes(out.shape) else { return .failure(Unlowerable(message: moreThanOneSymbolic(out))) }
            plan.viewResult = sizes
        }
        return .success(plan)
    }

    /// Emits `plan` for `matmul(a, b)`; the last node emitted is named `names`.
    static func emitMatmul(_ rw: inout GraphRewriter, _ plan: MatmulPlan, _ a: ValueID, _ b: ValueID,
                           names: [String]?) throws(PassError) -> ValueID {
        var (a2, b2) = (a, b)
        if let sizes = plan.expandA { a2 = try rw.emit("expand_copy", ["self": .tensor(a2), "size": .intList(sizes)])[0] }
        if let sizes = plan.viewA { a2 = try rw.emit("view_copy", ["self": .tensor(a2), "size": .intList(sizes)])[0] }
        if let sizes = plan.expandB { b2 = try rw.emit("expand_copy", ["self": .tensor(b2), "size": .intList(sizes)])[0] }
        if let sizes = plan.viewB { b2 = try rw.emit("view_copy", ["self": .tensor(b2), "size": .intList(sizes)])[0] }
        let y = try rw.emit(plan.batched ? "bmm" : "mm", ["self": .tensor(a2), "mat2": .tensor(b2)],
                            names: plan.viewResult == nil ? names : nil)[0]
        guard let sizes = plan.viewResult else { return y }
        return try rw.emit("view_copy", ["self": .tensor(y), "size": .intList(sizes)], names: names)[0]
    }

    @Sendable static func rmsNorm(_ rw: inout GraphRewriter, _ node: Node,
                                  _ args: OpArguments<ValueID>) throws(PassError) -> Outcome {
        let x = args.tensor("input"), weight = args.optionalTensor("weight")
        let xt = rw.type(of: x)
        let count = args.intList("normalized_shape").count
        // PyTorch's default epsilon is the dtype's machine epsilon.
        let eps = args.optionalFloat("eps") ?? machineEpsilon(xt.dtype)
        let squared = try rw.emit("mul.Tensor", ["self": .tensor(x), "other": .tensor(x)])[0]
        let mean = try rw.emit("mean.dim", ["self": .tensor(squared), "dim": .intList(Array(-count..<0)),
                                            "keepdim": .bool(true)])[0]
        let shifted = try rw.emit("add.Scalar", ["self": .tensor(mean), "other": .float(eps)])[0]
        let inverse = try rw.emit("rsqrt", ["self": .tensor(shifted)])[0]
        let normalized = try rw.emit("mul.Tensor", ["self": .tensor(x), "other": .tensor(inverse)],
                                     names: weight == nil ? resultNames(rw, node) : nil)[0]
        guard let weight else { return .replaced([normalized]) }
        return .replaced(try rw.emit("mul.Tensor", ["self": .tensor(normalized), "other": .tensor(weight)],
                                     names: resultNames(rw, node)))
    }

    // MARK: Helpers

    /// The names of the node's results, for the replacement that produces them.
    static func resultNames(_ rw: GraphRewriter, _ node: Node) -> [String] {
        node.results.map(rw.sourceName)
    }

    /// `view_copy` sizes for `dims`: constants as they are, one symbolic dim as -1 (inferred from
    /// the element count), nil when two dims are symbolic or a zero size makes -1 ambiguous.
    static func viewSizes(_ dims: [Dim]) -> [Int]? {
        var sizes: [Int] = []
        var symbolic = false
        for d in dims {
            if let v = d.staticValue {
                sizes.append(v)
            } else {
                if symbolic { return nil }
                symbolic = true
                sizes.append(-1)
            }
        }
        return symbolic && sizes.contains(0) ? nil : sizes
    }

    /// The product of `dims`, or nil on overflow.
    static func product(_ dims: some Sequence<Dim>) -> Dim? {
        var total = Dim(1)
        for d in dims {
            guard let p = try? total * d else { return nil }
            total = p
        }
        return total
    }

    static func moreThanOneSymbolic(_ type: TensorType) -> String {
        "\(type) would need a view_copy with more than one symbolic size, and view_copy can infer only one"
    }

    /// A dim index in `-rank..<rank`, made non-negative (the op's type rule has checked the range).
    static func normalized(_ dim: Int, _ rank: Int) -> Int { dim < 0 ? dim + rank : dim }

    /// `torch.finfo(dtype).eps`.
    static func machineEpsilon(_ dtype: DType) -> Double {
        switch dtype {
        case .float16: return 0x1p-10
        case .bfloat16: return 0x1p-7
        default: return 0x1p-23
        }
    }
}
