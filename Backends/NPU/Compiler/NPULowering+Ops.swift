#if canImport(Glibc)
import Glibc
#endif
import KilnIR
import KilnOps
import KilnTensor
import NPURuntime

/// The compute nodes of `dq → op → q` patterns, one NPU op each (plus layout conversions).
extension NPULowering {
    mutating func lowerCompute(_ node: Node) throws(NPUCompileError) {
        switch node.op.name {
        case "convolution": try convolution(node)
        case "linear", "addmm": try fullyConnected(node)
        case "add.Tensor", "mul.Tensor": try binary(node)
        case "relu", "hardtanh", "clamp": try clamp(node)
        case "sigmoid", "tanh", "gelu", "silu": try lookup(node)
        case "max_pool2d", "avg_pool2d", "_adaptive_avg_pool2d", "adaptive_avg_pool2d": try pool(node)
        case "view_copy", "flatten.using_ints", "squeeze_copy.dims", "unsqueeze_copy": try reshape(node)
        case "permute_copy", "transpose.int": try permute(node)
        case "cat": try cat(node)
        default: throw fail(node, "the NPU has no kernel for \(node.op.name)")
        }
    }

    // MARK: - Matrix unit

    private mutating func convolution(_ node: Node) throws(NPUCompileError) {
        let (x, qx, xs) = try activation(node, "input")
        let qo = try outputQParams(node)
        let w = try weight(node, "weight", channelAxis: 0)
        guard argument(node, "transposed") != .bool(true) else { throw fail(node, "transposed convolution is not supported") }
        let args = try validated(node)
        let stride = args.pair("stride", or: [1, 1]), padding = args.pair("padding", or: [0, 0])
        let dilation = args.pair("dilation", or: [1, 1]), groups = args.int("groups")
        guard stride.count == 2, padding.count == 2, dilation.count == 2 else {
            throw fail(node, "stride, padding and dilation must have 1 or 2 values")
        }
        let os = try staticShape(node.results[0], "result")
        let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3])
        let (oc, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        guard w.qmin >= -128, w.qmax <= 127 else { throw fail(node, "weights must be 8-bit") }
        // OIHW → OHWI.
        var packed = [UInt8](repeating: 0, count: w.values.count)
        for o in 0..<oc { for i in 0..<cg { for y in 0..<kh { for z in 0..<kw {
            packed[((o * kh + y) * kw + z) * cg + i] = UInt8(bitPattern: Int8(w.values[((o * cg + i) * kh + y) * kw + z]))
        } } } }
        let scales = try w.channelScales(oc, node, self)
        let bias = try self.bias(node, "bias", count: oc, inputScale: qx.scale, weightScales: scales)
        var multipliers: [Int32] = [], shifts: [Int] = []
        for s in scales {
            let (m, sh) = try NPUFixedPoint.fold(qx.scale * s / qo.scale)
            multipliers.append(m)
            shifts.append(sh)
        }
        let input = try nhwc(x, node)
        let weights = constant(.int8, [oc, kh, kw, cg], packed)
        let biasTensor = constant(.int32, [oc], bias.flatMap(Self.bytes))
        let out = newTensor(qo.dtype, [n, os[2], os[3], oc])
        var op = NPUOp(kind: .conv2d, name: opName(node), inputs: [input, weights, biasTensor], outputs: [out],
                       params: [h, wd, c, os[2], os[3], oc, kh, kw, stride[0], stride[1], padding[0], padding[1],
                                dilation[0], dilation[1], groups, qx.zeroPoint, qo.zeroPoint, qo.qmin, qo.qmax],
                       multipliers: multipliers, shifts: shifts)
        try convTiles(&op, batch: n)
        ops.append(op)
        define(node, out, .nhwc)
    }

    private mutating func fullyConnected(_ node: Node) throws(NPUCompileError) {
        let isAddmm = node.op.name == "addmm"
        let (x, qx, xs) = try activation(node, isAddmm ? "mat1" : "input")
        let qo = try outputQParams(node)
        if isAddmm {
            guard number(node, "beta") ?? 1 == 1, number(node, "alpha") ?? 1 == 1 else { throw fail(node, "beta and alpha must be 1") }
        }
        let w = try weight(node, isAddmm ? "mat2" : "weight", channelAxis: isAddmm ? 1 : 0)
        guard w.shape.count == 2 else { throw fail(node, "the weight must be 2-D") }
        let (n, k) = isAddmm ? (w.shape[1], w.shape[0]) : (w.shape[0], w.shape[1])
        guard xs.last == k else { throw fail(node, "input \(xs) does not end in the weight's \(k) features") }
        var rowsNK = [Int](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { rowsNK[i * k + j] = isAddmm ? w.values[j * n + i] : w.values[i * k + j] } }
        let int4 = w.qmin >= -8 && w.qmax <= 7
        guard w.qmin >= -128, w.qmax <= 127 else { throw fail(node, "weights must be 8- or 4-bit") }
        var packed: [UInt8] = []
        if int4 {
            for i in 0..<n {
                var row = [UInt8](repeating: 0, count: (k + 1) / 2)
                for j in 0..<k { row[j / 2] |= (UInt8(bitPattern: Int8(rowsNK[i * k + j])) & 0x0F) << (j % 2 == 0 ? 0 : 4) }
                packed += row
            }
        } else {
            packed = rowsNK.map { UInt8(bitPattern: Int8($0)) }
        }
        let scales = try w.channelScales(n, node, self)
        let bias = try self.bias(node, isAddmm ? "self" : "bias", count: n, inputScale: qx.scale, weightScales: scales)
        var multipliers: [Int32] = [], shifts: [Int] = []
        for s in scales {
            let (m, sh) = try NPUFixedPoint.fold(qx.scale * s / qo.scale)
            multipliers.append(m)
            shifts.append(sh)
        }
        let input = try contiguous(x, node)
        let weights = constant(int4 ? .int4 : .int8, [n, k], packed)
        let biasTensor = constant(.int32, [n], bias.flatMap(Self.bytes))
        let out = newTensor(qo.dtype, try staticShape(node.results[0], "result"))
        var op = NPUOp(kind: .fullyConnected, name: opName(node), inputs: [input, weights, biasTensor], outputs: [out],
                       params: [k, n, qx.zeroPoint, qo.zeroPoint, qo.qmin, qo.qmax], multipliers: multipliers, shifts: shifts)
        try fullyConnectedTiles(&op, rows: xs.reduce(1, *) / k)
        ops.append(op)
        define(node, out, .contiguous)
    }

    // MARK: - Vector unit

    private mutating func binary(_ node: Node) throws(NPUCompileError) {
        let (a, qa, sa) = try activation(node, "self")
        let (b, qb, sb) = try activation(node, "other")
        let qo = try outputQParams(node)
        guard sa == sb else { throw fail(node, "operands \(sa) and \(sb) differ in shape (the NPU does not broadcast)") }
        let left = a.tensor
        let right = a.layout == b.layout ? b.tensor : a.layout == .nhwc ? try nhwc(b, node) : try contiguous(b, node)
        let out = newTensor(qo.dtype, tensors[left].shape)
        let params = [qa.zeroPoint, qb.zeroPoint, qo.zeroPoint, qo.qmin, qo.qmax]
        if node.op.name == "add.Tensor" {
            guard number(node, "alpha") ?? 1 == 1 else { throw fail(node, "alpha must be 1") }
            let folded = try NPUFixedPoint.shared([qa.scale / qo.scale, qb.scale / qo.scale])
            try elementwise(.add, name: opName(node), inputs: [left, right], output: out, params: params,
                            multipliers: folded.multipliers, shifts: [folded.shift])
        } else {
            let (m, s) = try NPUFixedPoint.fold(qa.scale * qb.scale / qo.scale)
            try elementwise(.mul, name: opName(node), inputs: [left, right], output: out, params: params, multipliers: [m], shifts: [s])
        }
        define(node, out, a.layout)
    }

    private mutating func clamp(_ node: Node) throws(NPUCompileError) {
        let (x, qx, _) = try activation(node, "self")
        let qo = try outputQParams(node)
        func quantized(_ v: Double) -> Int {
            let q = (v / qo.scale).rounded(.toNearestOrEven) + Double(qo.zeroPoint)
            return Int(max(-1e9, min(1e9, q)))
        }
        var lo = qo.qmin, hi = qo.qmax
        switch node.op.name {
        case "relu": lo = max(lo, qo.zeroPoint)
        case "hardtanh":
            lo = max(lo, quantized(number(node, "min_val") ?? -1))
            hi = min(hi, quantized(number(node, "max_val") ?? 1))
        default:
            if let v = number(node, "min") { lo = max(lo, quantized(v)) }
            if let v = number(node, "max") { hi = min(hi, quantized(v)) }
        }
        let out = newTensor(qo.dtype, tensors[x.tensor].shape)
        try requantize(from: x.tensor, qx, to: out, qo, node: node, clampTo: lo...max(lo, hi))
        define(node, out, x.layout)
    }

    private mutating func lookup(_ node: Node) throws(NPUCompileError) {
        let (x, qx, _) = try activation(node, "self")
        let qo = try outputQParams(node)
        let approximate: String
        if case .string(let s) = argument(node, "approximate") { approximate = s } else { approximate = "none" }
        let f = Self.function(node.op.name, approximate: approximate)
        let entries = qx.dtype == .int16 ? 65536 : 256
        var table: [UInt8] = []
        for i in 0..<entries {
            let real = Double(i - entries / 2 - qx.zeroPoint) * qx.scale
            let q = (f(real) / qo.scale).rounded(.toNearestOrEven) + Double(qo.zeroPoint)
            let v = Int(max(Double(qo.qmin), min(Double(qo.qmax), q.isNaN ? Double(qo.zeroPoint) : q)))
            if qo.dtype == .int16 {
                withUnsafeBytes(of: Int16(v).littleEndian) { table += $0 }
            } else {
                table.append(UInt8(bitPattern: Int8(v)))
            }
        }
        let tableTensor = constant(qo.dtype, [entries], table)
        let out = newTensor(qo.dtype, tensors[x.tensor].shape)
        try elementwise(.lookup, name: opName(node), inputs: [x.tensor, tableTensor], output: out, params: [entries / 2],
                        resident: tableTensor)
        define(node, out, x.layout)
    }

    /// The real function a lookup table samples.
    static func function(_ op: String, approximate: String) -> @Sendable (Double) -> Double {
        switch op {
        case "sigmoid": return { 1 / (1 + exp(-$0)) }
        case "tanh": return { tanh($0) }
        case "silu": return { $0 / (1 + exp(-$0)) }
        default:
            if approximate == "tanh" {
                return { x in 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }
            }
            return { x in 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }
        }
    }

    private mutating func pool(_ node: Node) throws(NPUCompileError) {
        let (x, qx, xs) = try activation(node, "self")
        let qo = try outputQParams(node)
        let os = try staticShape(node.results[0], "result")
        let (h, w) = (xs[2], xs[3])
        var kernel: [Int], stride: [Int], padding = [0, 0], divisor: Int
        let isMax = node.op.name == "max_pool2d"
        if node.op.name.hasSuffix("adaptive_avg_pool2d") {
            guard h % os[2] == 0, w % os[3] == 0 else { throw fail(node, "input \(h)x\(w) is not a multiple of the output \(os[2])x\(os[3])") }
            kernel = [h / os[2], w / os[3]]
            stride = kernel
        } else {
            let args = try validated(node)
            kernel = args.pair("kernel_size", or: [])
            stride = args.pair("stride", or: kernel)
            padding = args.pair("padding", or: [0, 0])
            guard argument(node, "ceil_mode") != .bool(true) else { throw fail(node, "ceil_mode is not supported") }
            if isMax, let d = ints(node, "dilation"), d.contains(where: { $0 != 1 }) { throw fail(node, "dilation \(d) is not supported") }
            if !isMax, argument(node, "count_include_pad") == .bool(false), padding != [0, 0] {
                throw fail(node, "count_include_pad=false with padding is not supported")
            }
        }
        guard kernel.count == 2, stride.count == 2, padding.count == 2 else { throw fail(node, "expected 2-D kernel, stride and padding") }
        divisor = kernel[0] * kernel[1]
        if !isMax, let d = int(node, "divisor_override") { divisor = d }
        let (m, s) = try NPUFixedPoint.fold(isMax ? qx.scale / qo.scale : qx.scale / (qo.scale * Double(divisor)))
        let input = try nhwc(x, node)
        let out = newTensor(qo.dtype, [os[0], os[2], os[3], os[1]])
        var op = NPUOp(kind: .pool2d, name: opName(node), inputs: [input], outputs: [out],
                       params: [h, w, xs[1], os[2], os[3], kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
                                isMax ? 1 : 0, qx.zeroPoint, qo.zeroPoint, qo.qmin, qo.qmax],
                       multipliers: [m], shifts: [s])
        try poolTiles(&op, batch: xs[0])
        ops.append(op)
        define(node, out, .nhwc)
    }

    // MARK: - Data movement

    private mutating func reshape(_ node: Node) throws(NPUCompileError) {
        let (x, qx, _) = try activation(node, "self")
        let qo = try outputQParams(node)
        let input = try contiguous(x, node)
        let out = newTensor(qo.dtype, try staticShape(node.results[0], "result"))
        if qx == qo {
            try copyOp(from: input, to: out, name: opName(node))
        } else {
            try requantize(from: input, qx, to: out, qo, node: node)
        }
        define(node, out, .contiguous)
    }

    private mutating func permute(_ node: Node) throws(NPUCompileError) {
        let (x, qx, xs) = try activation(node, "self")
        let qo = try outputQParams(node)
        guard xs.count <= 4 else { throw fail(node, "rank \(xs.count) is above 4") }
        var perm = Array(0..<xs.count)
        if node.op.name == "transpose.int" {
            guard let d0 = int(node, "dim0"), let d1 = int(node, "dim1") else { throw fail(node, "has no dims") }
            perm.swapAt((d0 + xs.count) % max(xs.count, 1), (d1 + xs.count) % max(xs.count, 1))
        } else {
            perm = (ints(node, "dims") ?? []).map { ($0 + xs.count) % max(xs.count, 1) }
        }
        let input = try contiguous(x, node)
        let shape = perm.map { xs[$0] }
        let moved = newTensor(qx.dtype, shape)
        try transposeOp(from: input, dims: xs, perm: perm, to: moved, name: opName(node))
        var out = moved
        if qx != qo {
            out = newTensor(qo.dtype, shape)
            try requantize(from: moved, qx, to: out, qo, node: node)
        }
        define(node, out, .contiguous)
    }

    private mutating func cat(_ node: Node) throws(NPUCompileError) {
        guard case .tensorList(let ids) = argument(node, "tensors") else { throw fail(node, "has no tensor list") }
        let qo = try outputQParams(node)
        let os = try staticShape(node.results[0], "result")
        let dim = ((int(node, "dim") ?? 0) + os.count) % max(os.count, 1)
        let out = newTensor(qo.dtype, os)
        let es = qo.dtype.byteSize
        let outer = os[..<dim].reduce(1, *), inner = os[(dim + 1)...].reduce(1, *)
        var offset = 0
        for (i, id) in ids.enumerated() {
            guard let dq = dequantized[id] else { throw fail(node, "tensor \(i) is not a dequantized activation") }
            let shape = try staticShape(id, "tensor \(i)")
            var piece = try contiguous(try value(dq.source, node), node)
            if dq.q != qo {
                let requantized = newTensor(qo.dtype, shape)
                try requantize(from: piece, dq.q, to: requantized, qo, node: node)
                piece = requantized
            }
            let size = shape[dim] * inner * es
            try copyRows(from: piece, to: out, rows: outer, rowBytes: size, sourceOffset: 0, sourceStride: size,
                         destinationOffset: offset * inner * es, destinationStride: os[dim] * inner * es, name: "\(opName(node)) [\(i)]")
            offset += shape[dim]
        }
        define(node, out, .contiguous)
    }

    static func bytes(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}
