import KilnIR
import KilnOps
import KilnTensor

extension Decompose {
    /// Decompositions of the non-core ops of `shapingOps`.
    static let shapingRules: [String: Rule] = [
        // unsqueeze(x, d) -> unsqueeze_copy(x, d)
        "unsqueeze": { rw, node, args throws(PassError) in
            .replaced(try rw.emit("unsqueeze_copy", ["self": args["self"], "dim": args["dim"]], names: resultNames(rw, node)))
        },
        // squeeze.dims(x, ds) -> squeeze_copy.dims(x, ds)
        "squeeze.dims": { rw, node, args throws(PassError) in
            .replaced(try rw.emit("squeeze_copy.dims", ["self": args["self"], "dim": args["dim"]], names: resultNames(rw, node)))
        },
        // squeeze.dim(x, d) -> squeeze_copy.dims(x, [d])
        "squeeze.dim": { rw, node, args throws(PassError) in
            .replaced(try rw.emit("squeeze_copy.dims", ["self": args["self"], "dim": .intList([args.int("dim")])],
                                  names: resultNames(rw, node)))
        },
        // expand(x, size) -> expand_copy(x, size)
        "expand": { rw, node, args throws(PassError) in
            .replaced(try rw.emit("expand_copy", ["self": args["self"], "size": args["size"], "implicit": args["implicit"]],
                                  names: resultNames(rw, node)))
        },
        // split_with_sizes(x, sizes, d) -> split_with_sizes_copy(x, sizes, d)
        "split_with_sizes": { rw, node, args throws(PassError) in
            .replaced(try rw.emit("split_with_sizes_copy", ["self": args["self"], "split_sizes": args["split_sizes"],
                                                            "dim": args["dim"]], names: resultNames(rw, node)))
        },
        // split.Tensor(x, n, d) -> split_with_sizes_copy(x, [n, n, ..., rest], d)
        "split.Tensor": splitTensor,
        // select.int(x, d, i) -> select_copy.int(x, d, i)
        "select.int": { rw, node, args throws(PassError) in
            .replaced(try rw.emit("select_copy.int", ["self": args["self"], "dim": args["dim"], "index": args["index"]],
                                  names: resultNames(rw, node)))
        },
        // log_softmax.int(x, d) -> _log_softmax(x, d, false); with a dtype other than x's,
        // _log_softmax(_to_copy(x, dtype), d, false)
        "log_softmax.int": { rw, node, args throws(PassError) in
            var x = args.tensor("self")
            if let dtype = args.optionalDType("dtype"), dtype != rw.type(of: x).dtype {
                x = try rw.emit("_to_copy", ["self": .tensor(x), "dtype": .dtype(dtype)])[0]
            }
            return .replaced(try rw.emit("_log_softmax", ["self": .tensor(x), "dim": args["dim"],
                                                          "half_to_float": .bool(false)], names: resultNames(rw, node)))
        },
        // layer_norm(x, shape, w, b, eps) -> native_layer_norm(x, shape, w, b, eps)[0]
        "layer_norm": { rw, node, args throws(PassError) in
            let results = try rw.emit("native_layer_norm", [
                "input": args["input"], "normalized_shape": args["normalized_shape"], "weight": args["weight"],
                "bias": args["bias"], "eps": args["eps"],
            ], names: resultNames(rw, node) + [rw.freshName(), rw.freshName()])
            return .replaced([results[0]])
        },
        // sdpa(q, k, v, mask) -> matmul(_softmax(matmul(q, kᵀ) * scale + mask), v), matmuls as bmm
        "scaled_dot_product_attention": attention,
    ]

    @Sendable static func splitTensor(_ rw: inout GraphRewriter, _ node: Node,
                                      _ args: OpArguments<ValueID>) throws(PassError) -> Outcome {
        // The pieces' sizes are the results' sizes along dim (the type rule made them).
        let x = rw.type(of: args.tensor("self"))
        let dim = normalized(args.int("dim"), x.rank)
        var sizes: [Int] = []
        for id in node.results {
            guard let size = rw.source.type(of: id).shape[dim].staticValue else {
                return .unsupported("split of \(x) along the symbolic dim \(dim)")
            }
            sizes.append(size)
        }
        return .replaced(try rw.emit("split_with_sizes_copy", ["self": args["self"], "split_sizes": .intList(sizes),
                                                               "dim": .int(dim)], names: resultNames(rw, node)))
    }

    /// A large finite stand-in for -inf in additive bool masks: `mask * big - big` is exactly 0
    /// where the mask is true, and no score plus it overflows (which -inf would, to NaN, through
    /// `0 * inf`).
    static let maskedScore = -Double(Float.greatestFiniteMagnitude)

    /// scaled_dot_product_attention as torch's math path computes it, in core ops:
    ///
    /// 1. grouped-query attention: key and value heads repeat (`unsqueeze_copy`, `expand_copy`,
    ///    `view_copy`, as `repeat_interleave` on dim -3);
    /// 2. scores = q · kᵀ (`permute_copy`, then matmul's lowering: `bmm` with views, `expand_copy`
    ///    where batch dims broadcast), times `scale` (default 1/sqrt(E));
    /// 3. a float mask is added; a bool mask becomes `mask * big - big` (0 or -big) and, after
    ///    the softmax, rows with no true entry are zeroed (as torch's safe softmax does) by
    ///    multiplying with `amax(mask, -1)`; is_causal adds a constant [L, S] mask of 0 and -inf
    ///    (static L and S only);
    /// 4. `_softmax` over the last dim, then · v.
    ///
    /// Everything is checked before anything is emitted: a bool mask needs float32 scores (its
    /// arithmetic computes in float32 and there is no cast), a default scale a static E.
    @Sendable static func attention(_ rw: inout GraphRewriter, _ node: Node,
                                    _ args: OpArguments<ValueID>) throws(PassError) -> Outcome {
        let (q, k, v) = (args.tensor("query"), args.tensor("key"), args.tensor("value"))
        let (qt, kt, vt) = (rw.type(of: q), rw.type(of: k), rw.type(of: v))
        let out = rw.source.type(of: node.results[0])
        let rank = qt.rank
        let mask = args.optionalTensor("attn_mask")
        let causal = args.bool("is_causal")

        // 1. Decide: scale, causal mask, grouped heads, and both products' lowerings.
        guard let scale = args.optionalFloat("scale") ?? qt.shape[rank - 1].staticValue.map({ 1 / Double($0).squareRoot() }) else {
            return .unsupported("the default scale 1/sqrt(E) of \(qt) needs a static E")
        }
        var causalMask: Tensor?
        if causal {
            guard let l = qt.shape[rank - 2].staticValue, let s = kt.shape[rank - 2].staticValue else {
                return .unsupported("is_causal with symbolic sizes (\(qt), \(kt)) needs a causal mask built at run time "
                                    + "(tril), which this decomposition does not use")
            }
            guard let built = causalAdditiveMask(l, s, qt.dtype) else {
                return .unsupported("no causal mask of dtype \(qt.dtype)")
            }
            causalMask = built
        }
        if let mask, rw.type(of: mask).dtype == .bool, qt.dtype != .float32 {
            return .unsupported("a bool attn_mask with \(qt.dtype) query needs a cast op (_to_copy), "
                                + "which this decomposition does not use")
        }
        var (kGrouped, vGrouped) = (kt, vt)
        var groups = 1
        if args.bool("enable_gqa") && kt.shape[rank - 3] != qt.shape[rank - 3] {
            // The type rule made the heads static with Hq a multiple of Hk.
            guard let hq = qt.shape[rank - 3].staticValue, let hk = kt.shape[rank - 3].staticValue else {
                return .unsupported("grouped-query attention needs static head counts")
            }
            groups = hq / hk
            for t in [kt, vt] {
                let flat = Array(t.shape.prefix(rank - 3)) + [Dim(hq)] + Array(t.shape.suffix(2))
                guard viewSizes(flat) != nil else { return .unsupported(moreThanOneSymbolic(t)) }
            }
            kGrouped.shape[rank - 3] = Dim(hq)
            vGrouped.shape[rank - 3] = Dim(hq)
        }
        var transposedKey = kGrouped
        transposedKey.shape.swapAt(rank - 2, rank - 1)
        guard let matmulOp = OpTable.schema(named: "matmul"),
              let scoresType = try? matmulOp.inferTypes([.tensor(qt), .tensor(transposedKey)]).first else {
            return .unsupported("the scores of \(qt) and \(kt) have no type")
        }
        let first = matmulPlan(qt, transposedKey, result: scoresType)
        let second = matmulPlan(scoresType, vGrouped, result: out)
        guard case .success(let scoresPlan) = first, case .success(let outputPlan) = second else {
            let reasons = [first, second].compactMap { if case .failure(let r) = $0 { return r.message } else { return nil } }
            return .unsupported(reasons.joined(separator: "; "))
        }

        // 2. Emit: grouped heads, kᵀ, scores.
        var (key, value) = (k, v)
        if groups > 1 {
            key = try repeatHeads(&rw, k, kt, groups: groups)
            value = try repeatHeads(&rw, v, vt, groups: groups)
        }
        var order = Array(0..<rank)
        order.swapAt(rank - 2, rank - 1)
        let keyT = try rw.emit("permute_copy", ["self": .tensor(key), "dims": .intList(order)])[0]
        var scores = try emitMatmul(&rw, scoresPlan, q, keyT, names: nil)
        scores = try rw.emit("mul.Scalar", ["self": .tensor(scores), "other": .float(scale)])[0]

        // 3. Masks.
        var rowHasAny: ValueID?
        if let causalMask {
            let name = rw.freshName(base: rw.sourceName(node.results[0]) + ".causal")
            let constant = try rw.constant(causalMask, name: name)
            scores = try rw.emit("add.Tensor", ["self": .tensor(scores), "other": .tensor(constant)])[0]
        } else if let mask {
            if rw.type(of: mask).dtype == .bool {
                // mask * big - big: 0 where true, -big where false.
                let big = try rw.emit("mul.Scalar", ["self": .tensor(mask), "other": .float(-maskedScore)])[0]
                let additive = try rw.emit("add.Scalar", ["self": .tensor(big), "other": .float(maskedScore)])[0]
                scores = try rw.emit("add.Tensor", ["self": .tensor(scores), "other": .tensor(additive)])[0]
                rowHasAny = try rw.emit("amax", ["self": .tensor(mask), "dim": .intList([-1]), "keepdim": .bool(true)])[0]
            } else {
                scores = try rw.emit("add.Tensor", ["self": .tensor(scores), "other": .tensor(mask)])[0]
            }
        }

        // 4. Softmax (zeroing fully masked rows), then · v.
        var weights = try rw.emit("_softmax", ["self": .tensor(scores), "dim": .int(-1), "half_to_float": .bool(false)])[0]
        if let rowHasAny {
            weights = try rw.emit("mul.Tensor", ["self": .tensor(weights), "other": .tensor(rowHasAny)])[0]
        }
        return .replaced([try emitMatmul(&rw, outputPlan, weights, value, names: resultNames(rw, node))])
    }

    /// `[..., H, S, E]` to `[..., H * groups, S, E]`, each head repeated `groups` times in a row
    /// (torch's `repeat_interleave(groups, dim=-3)`): unsqueeze, expand the new dim, view.
    static func repeatHeads(_ rw: inout GraphRewriter, _ x: ValueID, _ type: TensorType,
                            groups: Int) throws(PassError) -> ValueID {
        let rank = type.rank
        let unsqueezed = try rw.emit("unsqueeze_copy", ["self": .tensor(x), "dim": .int(rank - 2)])[0]
        var sizes = Array(repeating: -1, count: rank + 1)
        sizes[rank - 2] = groups
        let expanded = try rw.emit("expand_copy", ["self": .tensor(unsqueezed), "size": .intList(sizes)])[0]
        var flat = type.shape
        flat[rank - 3] = (try? flat[rank - 3] * Dim(groups)) ?? flat[rank - 3]
        // Checked by the rule: at most one symbolic size.
        let viewed = viewSizes(flat) ?? []
        return try rw.emit("view_copy", ["self": .tensor(expanded), "size": .intList(viewed)])[0]
    }

    /// The [L, S] additive causal mask of `dtype`: 0 where key j <= query i (top-left aligned, as
    /// torch's `tril(ones(L, S))`), -inf above.
    static func causalAdditiveMask(_ l: Int, _ s: Int, _ dtype: DType) -> Tensor? {
        let values = (0..<(l * s)).map { $0 % s <= $0 / s ? Float(0) : -Float.infinity }
        switch dtype {
        case .float32: return try? Tensor(values, shape: [l, s])
        case .float16: return try? Tensor(values.map { Float16($0) }, shape: [l, s])
        case .bfloat16: return try? Tensor(values.map { BFloat16($0) }, shape: [l, s])
        default: return nil
        }
    }
}
