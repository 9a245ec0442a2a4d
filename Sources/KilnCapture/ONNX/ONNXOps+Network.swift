import KilnIR
import KilnOps
import KilnTensor

extension ONNXOps {
    static let network: [String: Rule] = [
        "Softmax": softmax("softmax.int"),
        "LogSoftmax": softmax("log_softmax.int"),
        "MatMul": { g, n in try g.call("matmul", [try n.input(0), try n.input(1)], location: n.location) },
        "Gemm": { g, n in
            var a = try n.input(0)
            var b = try n.input(1)
            if n.int("transA", 0) != 0 { a = try g.call("permute_copy", [a], ["dims": .intList([1, 0])], location: n.location)[0] }
            if n.int("transB", 0) != 0 { b = try g.call("permute_copy", [b], ["dims": .intList([1, 0])], location: n.location)[0] }
            let alpha = n.float("alpha", 1)
            let beta = n.float("beta", 1)
            if let c = n.optionalInput(2) {
                return try g.call("addmm", [c, a, b], ["beta": .float(beta), "alpha": .float(alpha)], location: n.location)
            }
            let y = try g.call("mm", [a, b], location: n.location)
            return alpha == 1 ? y : try g.call("mul.Scalar", [y[0]], ["other": .float(alpha)], location: n.location)
        },
        "Conv": oneOrTwoD(weighted: true) { g, n in try convolution(&g, n, transposed: false) },
        "ConvTranspose": oneOrTwoD(weighted: true) { g, n in try convolution(&g, n, transposed: true) },
        "MaxPool": oneOrTwoD(weighted: false) { g, n in
            guard n.outputCount <= 1 else { throw n.fail(.unsupportedUse, "MaxPool's Indices output is not supported") }
            guard n.int("storage_order", 0) == 0 else { throw n.fail(.unsupportedUse, "storage_order 1 is not supported") }
            let x = try n.input(0)
            let (kernel, stride, dilation) = try windows(g, n, x)
            var (pad, input) = try padding(&g, n, x, kernel: kernel, stride: stride, dilation: dilation, fill: -Double.infinity)
            if zip(pad, kernel).contains(where: { $0 > $1 / 2 }) {
                input = try g.call("constant_pad_nd", [input], ["pad": .intList([pad[1], pad[1], pad[0], pad[0]]),
                                                                "value": .float(-Double.infinity)], location: n.location)[0]
                pad = [0, 0]
            }
            return try g.call("max_pool2d", [input], ["kernel_size": .intList(kernel), "stride": .intList(stride),
                                                      "padding": .intList(pad), "dilation": .intList(dilation),
                                                      "ceil_mode": .bool(n.int("ceil_mode", 0) != 0)], location: n.location)
        },
        "AveragePool": oneOrTwoD(weighted: false) { g, n in
            let x = try n.input(0)
            let (kernel, stride, dilation) = try windows(g, n, x)
            guard dilation.allSatisfy({ $0 == 1 }) else { throw n.fail(.unsupportedUse, "dilated AveragePool is not supported") }
            let include = n.int("count_include_pad", 0) != 0
            let ceil = n.int("ceil_mode", 0) != 0
            let (begin, end) = try padAmounts(g, n, x, kernel: kernel, stride: stride, dilation: dilation)
            func pool(_ v: ONNXValue, padding: [Int], include: Bool) throws(ONNXError) -> ONNXValue {
                try g.call("avg_pool2d", [v], ["kernel_size": .intList(kernel), "stride": .intList(stride),
                                               "padding": .intList(padding), "ceil_mode": .bool(ceil),
                                               "count_include_pad": .bool(include)], location: n.location)[0]
            }
            if begin == end, zip(begin, kernel).allSatisfy({ $0 <= $1 / 2 }) {
                return [try pool(x, padding: begin, include: include)]
            }
            // Pads avg_pool2d cannot take (asymmetric, or over half the kernel): pad explicitly;
            // without count_include_pad, divide by the pooled mask of real elements.
            let torchPads = Argument<ValueID>.intList([begin[1], end[1], begin[0], end[0]])
            let padded = try g.call("constant_pad_nd", [x], ["pad": torchPads, "value": .float(0)], location: n.location)[0]
            let sums = try pool(padded, padding: [0, 0], include: true)
            if include { return [sums] }
            let shape = try g.staticShape(x, "AveragePool with these pads")
            let ones = ONNXValue.constant(try Tensor([Float](repeating: 1, count: try product(shape[2...])),
                                                     shape: [1, 1, shape[2], shape[3]]))
            let mask = try g.call("constant_pad_nd", [ones], ["pad": torchPads, "value": .float(0)], location: n.location)[0]
            let counts = try g.cast(try pool(mask, padding: [0, 0], include: true), to: g.type(of: x).dtype, n)[0]
            return try g.call("div.Tensor", [sums, counts], location: n.location)
        },
        "GlobalAveragePool": { g, n in
            let x = try n.input(0)
            let rank = g.type(of: x).rank
            return try g.call("mean.dim", [x], ["dim": .intList(Array(2..<max(rank, 2))), "keepdim": .bool(true)],
                              location: n.location)
        },
        "BatchNormalization": { g, n in
            guard n.outputCount <= 1, n.int("training_mode", 0) == 0 else {
                throw n.fail(.unsupportedUse, "training-mode BatchNormalization is not supported")
            }
            return try g.call("batch_norm", [try n.input(0), try n.input(1), try n.input(2), try n.input(3), try n.input(4)],
                              ["training": .bool(false), "momentum": .float(0.1), "eps": .float(n.float("epsilon", 1e-5)),
                               "cudnn_enabled": .bool(false)], location: n.location)
        },
        "LayerNormalization": { g, n in
            let x = try n.input(0)
            let shape = g.type(of: x).shape
            let axis = try normalizeAxis(n.int("axis", -1), rank: shape.count)
            var normalized: [Int] = []
            for d in shape[axis...] {
                guard let v = d.staticValue else { throw n.fail(.unsupportedUse, "LayerNormalization over a free dim") }
                normalized.append(v)
            }
            let eps = n.float("epsilon", 1e-5)
            if n.outputCount > 1 {
                return try g.call("native_layer_norm", [x, try n.input(1), n.optionalInput(2)],
                                  ["normalized_shape": .intList(normalized), "eps": .float(eps)], location: n.location)
            }
            return try g.call("layer_norm", [x, try n.input(1), n.optionalInput(2)],
                              ["normalized_shape": .intList(normalized), "eps": .float(eps)], location: n.location)
        },
        "ReduceMean": reduce("mean.dim", inputFrom: 18),
        "ReduceSum": reduce("sum.dim_IntList", inputFrom: 13),
        "ReduceMax": reduce("amax", inputFrom: 18),
        "ArgMax": { g, n in
            let x = try n.input(0)
            let axis = try normalizeAxis(n.int("axis", 0), rank: g.type(of: x).rank)
            let keep = Argument<ValueID>.bool(n.int("keepdims", 1) != 0)
            guard n.int("select_last_index", 0) != 0 else {
                return try g.call("argmax", [x], ["dim": .int(axis), "keepdim": keep], location: n.location)
            }
            // The last largest: argmax of the reversed axis, counted from the end.
            guard let d = g.type(of: x).shape[axis].staticValue, d > 0 else {
                throw n.fail(.unsupportedUse, "select_last_index along a free or empty dim")
            }
            let reversed = try g.call("index_select", [x, GraphImport.int64s(Array((0..<d).reversed()))], ["dim": .int(axis)],
                                      location: n.location)[0]
            let index = try g.call("argmax", [reversed], ["dim": .int(axis), "keepdim": keep], location: n.location)[0]
            let last = ONNXValue.constant(try Tensor([Int64(d - 1)], shape: []))
            return try g.call("sub.Tensor", [last, index], location: n.location)
        },
        "Resize": { g, n in try resize(&g, n) },
        "QuantizeLinear": { g, n in try quantize(&g, n, dequantize: false) },
        "DequantizeLinear": { g, n in try quantize(&g, n, dequantize: true) },
    ]

    /// A 2-D conv/pool rule that also takes 1-D (3-D input): a unit H dim is added to the input
    /// (and the weight), the rule runs, and the dim is removed again.
    static func oneOrTwoD(weighted: Bool, _ rule: @escaping Rule) -> Rule {
        { g, n in
            let x = try n.input(0)
            guard g.type(of: x).rank == 3 else { return try rule(&g, n) }
            var lifted = n.inputs
            lifted[0] = try g.call("unsqueeze", [x], ["dim": .int(2)], location: n.location)[0]
            if weighted {
                lifted[1] = try g.call("unsqueeze", [try n.input(1)], ["dim": .int(2)], location: n.location)[0]
            }
            let results = try rule(&g, n.liftedTo2D(inputs: lifted))
            var out: [ONNXValue?] = []
            for r in results {
                out.append(try r.map { v throws(ONNXError) in
                    try g.call("squeeze.dims", [v], ["dim": .intList([2])], location: n.location)[0]
                })
            }
            return out
        }
    }

    static func softmax(_ op: String) -> Rule {
        { g, n in
            let x = try n.input(0)
            let rank = g.type(of: x).rank
            let axis = try normalizeAxis(n.int("axis", n.opset < 13 ? 1 : -1), rank: rank)
            if n.opset >= 13 || axis == rank - 1 {
                return try g.call(op, [x], ["dim": .int(axis)], location: n.location)
            }
            // Before opset 13 the input is flattened to 2-D at `axis`.
            let shape = try g.staticShape(x, "Softmax before opset 13")
            let flat = try g.call("reshape", [x], ["shape": .intList([try product(shape[..<axis]), try product(shape[axis...])])],
                                  location: n.location)[0]
            let y = try g.call(op, [flat], ["dim": .int(1)], location: n.location)[0]
            return try g.call("reshape", [y], ["shape": .intList(shape)], location: n.location)
        }
    }

    static func reduce(_ op: String, inputFrom version: Int) -> Rule {
        { g, n in
            let x = try n.input(0)
            let type = g.type(of: x)
            var axes = n.opset < version ? n.ints("axes") : try n.ints(1, "axes")
            if axes == [] { axes = nil }
            if axes == nil, n.int("noop_with_empty_axes", 0) != 0 { return [x] }
            let all = Array(0..<type.rank)
            let keep = n.int("keepdims", 1) != 0
            let r = try g.call(op, [x], ["dim": .intList(axes ?? all), "keepdim": .bool(keep)], location: n.location)
            return try g.cast(r[0], to: type.dtype, n)
        }
    }

    /// Kernel, strides and dilations of a 2-D window op.
    static func windows(_ g: GraphImport, _ n: ONNXNode, _ x: ONNXValue) throws(ONNXError) -> ([Int], [Int], [Int]) {
        guard g.type(of: x).rank == 4 else {
            throw n.fail(.unsupportedUse, "only 2-D \(n.proto.opType) (4-D input) is supported; the input is \(g.type(of: x))")
        }
        guard let kernel = n.ints("kernel_shape"), kernel.count == 2 else {
            throw n.fail(.invalidAttribute, "attribute 'kernel_shape' must give 2 sizes")
        }
        let strides = n.ints("strides") ?? [1, 1]
        let dilations = n.ints("dilations") ?? [1, 1]
        guard strides.count == 2, dilations.count == 2, (kernel + strides + dilations).allSatisfy({ $0 > 0 && $0 < 1 << 20 }) else {
            throw n.fail(.invalidAttribute, "strides \(strides) and dilations \(dilations) must each give 2 positive sizes")
        }
        return (kernel, strides, dilations)
    }

    /// Symmetric padding for a window op, padding the input explicitly when ONNX's pads are
    /// asymmetric (`auto_pad` SAME_UPPER/SAME_LOWER, or explicit pads).
    static func padding(_ g: inout GraphImport, _ n: ONNXNode, _ x: ONNXValue, kernel: [Int], stride: [Int], dilation: [Int],
                        fill: Double) throws(ONNXError) -> ([Int], ONNXValue) {
        let (begin, end) = try padAmounts(g, n, x, kernel: kernel, stride: stride, dilation: dilation)
        if begin == end { return (begin, x) }
        let dtype = g.type(of: x).dtype
        let padded = try g.call("constant_pad_nd", [x], ["pad": .intList([begin[1], end[1], begin[0], end[0]]),
                                                         "value": dtype.isFloatingPoint ? .float(fill) : .int(0)],
                                location: n.location)[0]
        return ([0, 0], padded)
    }

    /// The pads before and after H and W that ONNX's `auto_pad` / `pads` give.
    static func padAmounts(_ g: GraphImport, _ n: ONNXNode, _ x: ONNXValue, kernel: [Int], stride: [Int],
                           dilation: [Int]) throws(ONNXError) -> (begin: [Int], end: [Int]) {
        let autoPad = n.string("auto_pad", "NOTSET")
        var begin = [0, 0]
        var end = [0, 0]
        switch autoPad {
        case "NOTSET":
            let pads = n.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4 else { throw n.fail(.invalidAttribute, "attribute 'pads' must have 4 values") }
            begin = [pads[0], pads[1]]
            end = [pads[2], pads[3]]
        case "VALID":
            break
        case "SAME_UPPER", "SAME_LOWER":
            let shape = try g.staticShape(x, "auto_pad \(autoPad)")
            for i in 0..<2 {
                let input = shape[2 + i]
                let out = (input + stride[i] - 1) / stride[i]
                let total = max(0, (out - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - input)
                begin[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                end[i] = total - begin[i]
            }
        default:
            throw n.fail(.invalidAttribute, "attribute 'auto_pad' is '\(autoPad)'")
        }
        guard (begin + end).allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else {
            throw n.fail(.invalidAttribute, "pads \(begin + end) must be non-negative")
        }
        return (begin, end)
    }

    static func convolution(_ g: inout GraphImport, _ n: ONNXNode, transposed: Bool) throws(ONNXError) -> [ONNXValue?] {
        let x = try n.input(0)
        let w = try n.input(1)
        let rank = g.type(of: x).rank
        guard rank == 4 else {
            throw n.fail(.unsupportedUse, "only 2-D \(n.proto.opType) (4-D input) is supported; the input is \(g.type(of: x))")
        }
        let wShape = g.type(of: w).shape.compactMap(\.staticValue)
        let kernel = n.ints("kernel_shape") ?? Array(wShape.suffix(2))
        let stride = n.ints("strides") ?? [1, 1]
        let dilation = n.ints("dilations") ?? [1, 1]
        let group = n.int("group", 1)
        guard kernel.count == 2, stride.count == 2, dilation.count == 2,
              (kernel + stride + dilation).allSatisfy({ $0 > 0 && $0 < 1 << 20 }) else {
            throw n.fail(.invalidAttribute, "kernel_shape \(kernel), strides \(stride) and dilations \(dilation) must each give 2 positive sizes")
        }
        if transposed {
            return try convolutionTranspose(&g, n, x, w, kernel: kernel, stride: stride, dilation: dilation, group: group)
        }
        let (pad, input) = try padding(&g, n, x, kernel: kernel, stride: stride, dilation: dilation, fill: 0)
        return try g.call("convolution", [input, w, n.optionalInput(2)],
                          ["stride": .intList(stride), "padding": .intList(pad), "dilation": .intList(dilation),
                           "transposed": .bool(false), "output_padding": .intList([0, 0]), "groups": .int(group)],
                          location: n.location)
    }

    /// ConvTranspose: pads from `pads`, or from `output_shape` / `auto_pad` SAME_* (ONNX's
    /// total_padding rule); asymmetric pads crop the symmetric result with slices.
    static func convolutionTranspose(_ g: inout GraphImport, _ n: ONNXNode, _ x: ONNXValue, _ w: ONNXValue, kernel: [Int],
                                     stride: [Int], dilation: [Int], group: Int) throws(ONNXError) -> [ONNXValue?] {
        var outputPadding = n.ints("output_padding") ?? [0, 0]
        guard outputPadding.count == 2, outputPadding.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else {
            throw n.fail(.invalidAttribute, "output_padding \(outputPadding) must give 2 non-negative sizes")
        }
        let autoPad = n.string("auto_pad", "NOTSET")
        var begin = [0, 0]
        var end = [0, 0]
        var outputShape = n.ints("output_shape").map { Array($0.suffix(2)) }
        if outputShape == nil, autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            let shape = try g.staticShape(x, "ConvTranspose auto_pad")
            outputShape = [shape[2] * stride[0], shape[3] * stride[1]]
        }
        if let outputShape {
            let shape = try g.staticShape(x, "ConvTranspose output_shape")
            guard outputShape.count == 2 else { throw n.fail(.invalidAttribute, "output_shape must give H and W") }
            for i in 0..<2 {
                let full = stride[i] * (shape[2 + i] - 1) + outputPadding[i] + (kernel[i] - 1) * dilation[i] + 1
                let total = full - outputShape[i]
                if total < 0 {
                    // More output than the pads-free result: extra output padding at the end.
                    outputPadding[i] -= total
                    guard outputPadding[i] < max(stride[i], dilation[i]) else {
                        throw n.fail(.unsupportedUse, "output_shape \(outputShape) is larger than ConvTranspose can give")
                    }
                    continue
                }
                if autoPad == "SAME_UPPER" {
                    begin[i] = total / 2
                    end[i] = total - total / 2
                } else {
                    begin[i] = total - total / 2
                    end[i] = total / 2
                }
            }
        } else if autoPad == "NOTSET" {
            let pads = n.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else {
                throw n.fail(.invalidAttribute, "pads \(pads) must give 4 non-negative sizes")
            }
            begin = [pads[0], pads[1]]
            end = [pads[2], pads[3]]
        } else if autoPad != "VALID" {
            throw n.fail(.invalidAttribute, "attribute 'auto_pad' is '\(autoPad)'")
        }
        let common = [min(begin[0], end[0]), min(begin[1], end[1])]
        var y = try g.call("convolution", [x, w, n.optionalInput(2)],
                           ["stride": .intList(stride), "padding": .intList(common), "dilation": .intList(dilation),
                            "transposed": .bool(true), "output_padding": .intList(outputPadding), "groups": .int(group)],
                           location: n.location)[0]
        for i in 0..<2 where begin[i] != end[i] {
            let length = g.type(of: y).shape[2 + i].staticValue ?? 0
            y = try g.call("slice_copy.Tensor", [y], ["dim": .int(2 + i), "start": .int(begin[i] - common[i]),
                                                     "end": .int(length - (end[i] - common[i])), "step": .int(1)],
                           location: n.location)[0]
        }
        return [y]
    }

    static func resize(_ g: inout GraphImport, _ n: ONNXNode) throws(ONNXError) -> [ONNXValue?] {
        let x = try n.input(0)
        let shape = try g.staticShape(x, "Resize")
        guard shape.count == 4, shape.allSatisfy({ $0 > 0 }) else {
            throw n.fail(.unsupportedUse, "only 4-D Resize of a non-empty input is supported")
        }
        guard n.int("antialias", 0) == 0 else { throw n.fail(.unsupportedUse, "antialias is not supported") }
        let scalesIndex = n.opset < 11 ? 1 : 2
        var scales: [Double]?
        if let t = try n.constant(scalesIndex, "scales"), t.elementCount > 0 { scales = t.floatValues().map(Double.init) }
        var sizes = n.opset < 11 ? nil : try n.ints(3, "sizes")
        if sizes == [] { sizes = nil }
        // `axes` (opset 18) names the dims scales/sizes cover; only H and W may change.
        if let axes = n.ints("axes") {
            let normalized = axes.map { $0 < 0 ? $0 + 4 : $0 }
            guard Set(normalized) == [2, 3] || Set(normalized) == [0, 1, 2, 3], normalized.count == Set(normalized).count else {
                throw n.fail(.unsupportedUse, "Resize axes \(axes) (only H and W may be resized)")
            }
            func full<T>(_ values: [T]?, _ keep: (Int) -> T) -> [T]? {
                guard let values, values.count == normalized.count else { return values }
                var out = (0..<4).map(keep)
                for (a, v) in zip(normalized, values) { out[a] = v }
                return out
            }
            scales = full(scales) { _ in 1.0 }
            sizes = full(sizes) { shape[$0] }
        }
        let policy = n.string("keep_aspect_ratio_policy", "stretch")
        guard ["stretch", "not_larger", "not_smaller"].contains(policy) else {
            throw n.fail(.invalidAttribute, "Resize keep_aspect_ratio_policy '\(policy)'")
        }
        let mode = n.string("mode", "nearest")
        let transform = n.string("coordinate_transformation_mode", n.opset < 11 ? "asymmetric" : "half_pixel")
        var size: [Int]
        if let sizes {
            guard sizes.count == 4, sizes[0] == shape[0], sizes[1] == shape[1] else {
                throw n.fail(.unsupportedUse, "Resize must keep N and C; sizes are \(sizes)")
            }
            size = Array(sizes[2...])
            scales = nil
            guard size.allSatisfy({ $0 > 0 && $0 < 1 << 20 }) else {
                throw n.fail(.invalidAttribute, "Resize sizes \(sizes) must be positive")
            }
            if policy != "stretch" {
                // One scale for both axes (the smaller or larger), output rounded to nearest.
                let ratios = [Double(size[0]) / Double(shape[2]), Double(size[1]) / Double(shape[3])]
                let scale = policy == "not_larger" ? ratios.min()! : ratios.max()!
                size = [Int((scale * Double(shape[2])).rounded(.toNearestOrEven)), Int((scale * Double(shape[3])).rounded(.toNearestOrEven))]
                scales = [1, 1, scale, scale]
            }
        } else if let s = scales {
            guard s.count == 4, s[0] == 1, s[1] == 1 else { throw n.fail(.unsupportedUse, "Resize must keep N and C; scales are \(s)") }
            guard s[2...].allSatisfy({ $0.isFinite && $0 > 0 && $0 < 1e6 }) else {
                throw n.fail(.invalidAttribute, "Resize scales \(s) must be positive and finite")
            }
            size = [Int((Double(shape[2]) * s[2]).rounded(.down)), Int((Double(shape[3]) * s[3]).rounded(.down))]
            guard size.allSatisfy({ $0 > 0 && $0 < 1 << 20 }) else {
                throw n.fail(.invalidAttribute, "Resize scales \(s) give an empty or too large output")
            }
        } else {
            throw n.fail(.invalidAttribute, "Resize needs scales or sizes")
        }
        let axisScales = [0, 1].map { i in scales.map { $0[2 + i] } ?? Double(size[i]) / Double(shape[2 + i]) }
        let factors: Argument<ValueID> = scales.map { .floatList(Array($0[2...])) } ?? .none
        let outputSize: Argument<ValueID> = scales == nil ? .intList(size) : .none
        switch mode {
        case "nearest":
            let nearest = n.string("nearest_mode", n.opset < 11 ? "floor" : "round_prefer_floor")
            // With whole upscale factors, half_pixel with either rounding picks floor(x / scale) too.
            let whole = size[0] % shape[2] == 0 && size[1] % shape[3] == 0
                && (scales.map { $0[2] == Double(size[0] / shape[2]) && $0[3] == Double(size[1] / shape[3]) } ?? true)
            let halfPixelWhole = whole && ["half_pixel", "pytorch_half_pixel"].contains(transform)
                && ["round_prefer_floor", "round_prefer_ceil"].contains(nearest)
            if (transform == "asymmetric" && nearest == "floor") || halfPixelWhole, policy == "stretch" {
                return try g.call("upsample_nearest2d.vec", [x], ["output_size": outputSize, "scale_factors": factors],
                                  location: n.location)
            }
            // Any other coordinate mapping: the source index of every output row and column is
            // known now, so the resize is two index_selects with constant indices.
            var y = x
            for i in 0..<2 {
                let index = try nearestSources(input: shape[2 + i], output: size[i], scale: axisScales[i],
                                               transform: transform, rounding: nearest, n)
                y = try g.call("index_select", [y, GraphImport.int64s(index)], ["dim": .int(2 + i)], location: n.location)[0]
            }
            return [y]
        case "linear":
            if transform == "align_corners", scales != nil, zip(size, axisScales).enumerated().contains(where: { i, p in
                Double(shape[2 + i]) * p.1 != Double(p.0) }) {
                // ONNX then maps coordinates with the unrounded output length; torch cannot.
                throw n.fail(.unsupportedUse, "align_corners Resize with scales that do not give whole sizes")
            }
            if transform == "pytorch_half_pixel", size.contains(1) {
                throw n.fail(.unsupportedUse, "pytorch_half_pixel Resize to an output length of 1")
            }
            guard policy == "stretch" else { throw n.fail(.unsupportedUse, "linear Resize with keep_aspect_ratio_policy \(policy)") }
            guard ["half_pixel", "pytorch_half_pixel", "align_corners"].contains(transform) else {
                throw n.fail(.unsupportedUse, "linear Resize with coordinate_transformation_mode \(transform)")
            }
            let align = transform == "align_corners"
            return try g.call("upsample_bilinear2d.vec", [x], ["output_size": align ? .intList(size) : outputSize,
                                                               "align_corners": .bool(align),
                                                               "scale_factors": align ? .none : factors], location: n.location)
        default:
            throw n.fail(.unsupportedUse, "Resize mode '\(mode)'")
        }
    }

    /// For nearest Resize along one axis: the input index each output index reads, by ONNX's
    /// coordinate transformation and rounding rules.
    static func nearestSources(input: Int, output: Int, scale: Double, transform: String, rounding: String,
                               _ n: ONNXNode) throws(ONNXError) -> [Int] {
        var index: [Int] = []
        for x in 0..<output {
            let d = Double(x)
            let original: Double
            switch transform {
            case "half_pixel": original = (d + 0.5) / scale - 0.5
            case "pytorch_half_pixel": original = output > 1 ? (d + 0.5) / scale - 0.5 : 0
            case "align_corners": original = output == 1 ? 0 : d * Double(input - 1) / Double(output - 1)
            case "asymmetric": original = d / scale
            case "tf_half_pixel_for_nn": original = (d + 0.5) / scale
            default: throw n.fail(.unsupportedUse, "nearest Resize with coordinate_transformation_mode \(transform)")
            }
            let picked: Double
            switch rounding {
            case "round_prefer_floor": picked = original - original.rounded(.down) == 0.5 ? original.rounded(.down) : original.rounded()
            case "round_prefer_ceil": picked = original - original.rounded(.down) == 0.5 ? original.rounded(.up) : original.rounded()
            case "floor": picked = original.rounded(.down)
            case "ceil": picked = original.rounded(.up)
            default: throw n.fail(.invalidAttribute, "nearest_mode '\(rounding)'")
            }
            guard picked.isFinite else { throw n.fail(.invalidAttribute, "Resize maps output \(x) to \(original)") }
            index.append(Int(min(max(picked, 0), Double(input - 1))))
        }
        return index
    }

    static func quantize(_ g: inout GraphImport, _ n: ONNXNode, dequantize: Bool) throws -> [ONNXValue?] {
        let x = try n.input(0)
        guard let scale = try n.constant(1, "scale") else { throw n.fail(.invalidAttribute, "the scale is required") }
        let zeroPoint = try n.constant(2, "zero_point")
        guard scale.elementCount > 0, zeroPoint.map({ $0.elementCount == scale.elementCount }) ?? true else {
            throw n.fail(.invalidAttribute, "scale and zero_point must be non-empty and the same size")
        }
        guard n.int("block_size", 0) == 0 else { throw n.fail(.unsupportedUse, "blocked quantization is not supported") }
        let qtype: DType = dequantize ? g.type(of: x).dtype
            : (zeroPoint?.dtype ?? (n.has("output_dtype") ? ONNXTensor.dtype(Int32(clamping: n.int("output_dtype", 2))) ?? .uint8 : .uint8))
        guard let range = qtype.integerRange, qtype != .int64 else {
            throw n.fail(.unsupportedDType, "quantized type \(qtype) is not supported")
        }
        let qmin = Argument<ValueID>.int(Int(range.lowerBound))
        let qmax = Argument<ValueID>.int(Int(range.upperBound))
        let loc = n.location
        if scale.elementCount == 1 {
            let s = Argument<ValueID>.float(Double(scale.floatValues()[0]))
            let zp = Argument<ValueID>.int(zeroPoint.map { Int($0.floatValues()[0]) } ?? 0)
            if dequantize {
                return try g.call("quantized_decomposed.dequantize_per_tensor", [x],
                                  ["scale": s, "zero_point": zp, "quant_min": qmin, "quant_max": qmax, "dtype": .dtype(qtype),
                                   "out_dtype": .dtype(scale.dtype)], location: loc)
            }
            return try g.call("quantized_decomposed.quantize_per_tensor", [x],
                              ["scale": s, "zero_point": zp, "quant_min": qmin, "quant_max": qmax, "dtype": .dtype(qtype)],
                              location: loc)
        }
        let axis = try normalizeAxis(n.int("axis", 1), rank: g.type(of: x).rank)
        let scales = ONNXValue.constant(scale)
        let zps: ONNXValue = .constant(try Tensor((zeroPoint?.floatValues() ?? Array(repeating: 0, count: scale.elementCount)).map { Int64($0) },
                                                   shape: [scale.elementCount]))
        if dequantize {
            return try g.call("quantized_decomposed.dequantize_per_channel", [x, scales, zps],
                              ["axis": .int(axis), "quant_min": qmin, "quant_max": qmax, "dtype": .dtype(qtype),
                               "out_dtype": .dtype(scale.dtype)], location: loc)
        }
        return try g.call("quantized_decomposed.quantize_per_channel", [x, scales, zps],
                          ["axis": .int(axis), "quant_min": qmin, "quant_max": qmax, "dtype": .dtype(qtype)], location: loc)
    }
}
