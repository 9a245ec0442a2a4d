import KilnIR
import KilnOps
import KilnTensor

extension Decompose {
    /// Decompositions of the non-core ops of `samplingOps`.
    static let samplingRules: [String: Rule] = [
        // max_pool2d(x, ...) -> max_pool2d_with_indices(x, ...)[0]
        "max_pool2d": { rw, node, args throws(PassError) in
            let name = rw.sourceName(node.results[0])
            let results = try rw.emit("max_pool2d_with_indices", [
                "self": args["self"], "kernel_size": args["kernel_size"], "stride": args["stride"],
                "padding": args["padding"], "dilation": args["dilation"], "ceil_mode": args["ceil_mode"],
            ], names: [name, rw.freshName(base: name + ".indices")])
            return .replaced([results[0]])
        },
        // upsample_nearest2d(x, size, scales?) -> upsample_nearest2d.vec(x, size | none, none | scales)
        "upsample_nearest2d": { rw, node, args throws(PassError) in
            try upsample(&rw, node, args, vectorOp: "upsample_nearest2d.vec")
        },
        // upsample_bilinear2d(x, size, ac, scales?) -> upsample_bilinear2d.vec(x, size | none, ac, none | scales)
        "upsample_bilinear2d": { rw, node, args throws(PassError) in
            try upsample(&rw, node, args, vectorOp: "upsample_bilinear2d.vec")
        },
        // conv2d(x, w, b, s, p, d, g) -> convolution(x, w, b, s, p, d, false, [0, 0], g); views around a 3-D x
        "conv2d": { rw, node, args throws(PassError) in
            try convolution(&rw, node, args, transposed: false)
        },
        // conv_transpose2d.input(x, w, b, s, p, op, g, d) -> convolution(x, w, b, s, p, d, true, op, g); views around a 3-D x
        "conv_transpose2d.input": { rw, node, args throws(PassError) in
            try convolution(&rw, node, args, transposed: true)
        },
    ]

    /// The plain upsample forms as their `.vec` forms. Without scales (or with scales that do not
    /// change ATen's source-index arithmetic) `output_size` carries over; with scales that do,
    /// `scale_factors` must give the same output size (`floor(in · scale)`), which needs static
    /// input sizes.
    static func upsample(_ rw: inout GraphRewriter, _ node: Node, _ args: OpArguments<ValueID>,
                         vectorOp: String) throws(PassError) -> Outcome {
        let x = rw.type(of: args.tensor("self"))
        let sizes = args.intList("output_size")   // two positive sizes: the type rule checked
        // ATen ignores scales that are absent or not positive.
        let given = [args.optionalFloat("scales_h"), args.optionalFloat("scales_w")].map { s in s.flatMap { $0 > 0 ? $0 : nil } }
        // A scale matters unless ATen's index arithmetic does not read it: equal or doubled sizes,
        // or Float(1 / scale) equal to Float(in) / Float(out), the ratio it uses without one.
        var scalesMatter = false
        for i in 0..<2 {
            guard let s = given[i] else { continue }
            guard let input = x.shape[2 + i].staticValue else {
                return .unsupported("\(node.op.name) with a scale for the symbolic size \(x.shape[2 + i]) has no "
                                    + "\(vectorOp) form: its scale_factors would have to reproduce output_size")
            }
            let output = sizes[i]
            if output != input, output != 2 * input, Float(1.0 / s) != Float(input) / Float(output) { scalesMatter = true }
        }
        var outputSize: Argument<ValueID> = .intList(sizes)
        var scaleFactors: Argument<ValueID> = .none
        if scalesMatter {
            // scale_factors (the given scale, or out / in where none was given) must give
            // output_size as floor(in · factor), and the source indices ATen computes.
            var factors: [Double] = []
            for i in 0..<2 {
                guard let input = x.shape[2 + i].staticValue else {
                    return .unsupported("\(node.op.name) of \(x) with scales has no \(vectorOp) form: "
                                        + "scale_factors cannot reproduce the symbolic size \(x.shape[2 + i])")
                }
                let factor = given[i] ?? Double(sizes[i]) / Double(input)
                let sameSize = Int(exactly: (Double(input) * factor).rounded(.towardZero)) == sizes[i]
                let sameIndex = given[i] != nil || sizes[i] == input || sizes[i] == 2 * input
                    || Float(1.0 / factor) == Float(input) / Float(sizes[i])
                guard sameSize, sameIndex else {
                    let scales = "scales_h \(given[0].map { String($0) } ?? "none"), scales_w \(given[1].map { String($0) } ?? "none")"
                    return .unsupported("\(node.op.name) of \(x) to \(sizes) with \(scales) has no \(vectorOp) form: "
                                        + "scale factor \(factor) would not give size \(sizes[i]) and the same source indices")
                }
                factors.append(factor)
            }
            (outputSize, scaleFactors) = (.none, .floatList(factors))
        }
        if node.op.parameterIndex("align_corners") != nil {
            return .replaced(try rw.emit(vectorOp, [
                "input": args["self"], "output_size": outputSize, "align_corners": args["align_corners"],
                "scale_factors": scaleFactors,
            ], names: resultNames(rw, node)))
        }
        return .replaced(try rw.emit(vectorOp, ["input": args["self"], "output_size": outputSize, "scale_factors": scaleFactors],
                                     names: resultNames(rw, node)))
    }

    /// conv2d and conv_transpose2d.input as `convolution`; a 3-D (unbatched) input is viewed as
    /// a batch of one, and the result viewed back.
    static func convolution(_ rw: inout GraphRewriter, _ node: Node, _ args: OpArguments<ValueID>,
                            transposed: Bool) throws(PassError) -> Outcome {
        let x = args.tensor("input")
        let xt = rw.type(of: x)
        let out = rw.source.type(of: node.results[0])
        var views: (input: [Int], result: [Int])?
        if xt.rank == 3 {
            guard let input = viewSizes([1] + xt.shape), let result = viewSizes(out.shape) else {
                return .unsupported(moreThanOneSymbolic(xt))
            }
            views = (input, result)
        }
        var input = x
        if let views {
            input = try rw.emit("view_copy", ["self": .tensor(x), "size": .intList(views.input)])[0]
        }
        let y = try rw.emit("convolution", [
            "input": .tensor(input), "weight": args["weight"], "bias": args["bias"], "stride": args["stride"],
            "padding": args["padding"], "dilation": args["dilation"], "transposed": .bool(transposed),
            "output_padding": transposed ? args["output_padding"] : .intList([0, 0]), "groups": args["groups"],
        ], names: views == nil ? resultNames(rw, node) : nil)[0]
        guard let views else { return .replaced([y]) }
        return .replaced(try rw.emit("view_copy", ["self": .tensor(y), "size": .intList(views.result)],
                                     names: resultNames(rw, node)))
    }
}
