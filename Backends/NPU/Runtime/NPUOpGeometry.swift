/// An op's parameters checked against its tensors, and the on-chip bytes each tile operand
/// takes: what ``NPUProgram/verify()`` enforces and the simulator and cost model rely on.
struct NPUOpGeometry {
    let kind: NPUOpKind
    let p: [Int]
    let inTypes: [NPUDType]
    let outType: NPUDType
    let inCounts: [Int]
    let outCount: Int

    init(_ op: NPUOp, _ ins: [NPUTensor], _ out: NPUTensor, _ at: String) throws(NPUError) {
        kind = op.kind
        p = op.params
        inTypes = ins.map(\.dtype)
        outType = out.dtype
        inCounts = ins.map { $0.shape.reduce(1, *) }
        outCount = out.shape.reduce(1, *)
        func fail(_ why: String) -> NPUError { NPUError("\(at): \(why)") }
        func activation(_ t: NPUDType, _ what: String) throws(NPUError) {
            guard t == .int8 || t == .int16 else { throw fail("\(what) is \(t), expected int8 or int16") }
        }
        func range(_ lo: Int, _ hi: Int) throws(NPUError) {
            let limit = outType == .int16 ? -32768...32767 : -128...127
            guard lo <= hi, limit.contains(lo), limit.contains(hi) else {
                throw fail("output range \(lo)...\(hi) does not fit \(outType)")
            }
        }
        func counts(_ m: Int, _ s: Int) throws(NPUError) {
            guard op.multipliers.count == m, op.shifts.count == s else {
                throw fail("expected \(m) multipliers and \(s) shifts, got \(op.multipliers.count) and \(op.shifts.count)")
            }
        }
        func shape(_ t: NPUTensor, _ expected: [Int], _ what: String) throws(NPUError) {
            guard t.shape == expected else { throw fail("\(what) has shape \(t.shape), params say \(expected)") }
        }
        /// Zero point `p[i]` lies in the range of `t`, the integer type it offsets.
        func zeroPoint(_ i: Int, _ t: NPUDType, _ what: String) throws(NPUError) {
            let limit = t == .int16 ? -32768...32767 : -128...127
            guard limit.contains(p[i]) else { throw fail("\(what) zero point \(p[i]) does not fit \(t)") }
        }
        guard p.allSatisfy({ $0 >= -(1 << 31) && $0 < 1 << 31 }) else {
            throw fail("params \(p) has a value outside the 32-bit range")
        }
        switch kind {
        case .quantize:
            guard inTypes[0] == .float32 else { throw fail("input is \(inTypes[0]), expected float32") }
            try activation(outType, "output")
            try zeroPoint(0, outType, "output")
            try range(p[1], p[2])
            guard op.scales.count == 1, op.scales[0] > 0, op.scales[0].isFinite else { throw fail("expected one positive finite scale") }
        case .dequantize:
            try activation(inTypes[0], "input")
            guard outType == .float32 else { throw fail("output is \(outType), expected float32") }
            try zeroPoint(0, inTypes[0], "input")
            guard op.scales.count == 1, op.scales[0] > 0, op.scales[0].isFinite else { throw fail("expected one positive finite scale") }
        case .requantize:
            try activation(inTypes[0], "input")
            try activation(outType, "output")
            try zeroPoint(0, inTypes[0], "input")
            try zeroPoint(1, outType, "output")
            try range(p[2], p[3])
            try counts(1, 1)
        case .copy:
            break
        case .transpose:
            guard inTypes[0] == outType else { throw fail("input is \(inTypes[0]) and output \(outType)") }
            guard p[4..<8].sorted() == [0, 1, 2, 3], p[0..<4].allSatisfy({ $0 >= 0 }) else {
                throw fail("params \(p) are not four dims and a permutation of 0...3")
            }
            guard Saturating.product(p[0], p[1], p[2], p[3]) == inCounts[0], inCounts[0] == outCount else {
                throw fail("dims \(Array(p[0..<4])) do not match the tensors' \(inCounts[0]) and \(outCount) elements")
            }
        case .conv2d:
            try activation(inTypes[0], "input")
            try activation(outType, "output")
            let (h, w, c, oh, ow, oc, kh, kw) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
            let groups = p[14]
            guard p[0..<8].allSatisfy({ $0 > 0 }), p[8] > 0, p[9] > 0, p[10] >= 0, p[11] >= 0, p[12] > 0, p[13] > 0,
                  groups > 0, c % groups == 0, oc % groups == 0 else {
                throw fail("params \(Array(p[0..<15])) are not positive sizes, strides and dilations with groups dividing the channels")
            }
            guard ins[0].shape.count == 4 else { throw fail("input has rank \(ins[0].shape.count), expected NHWC") }
            let n = ins[0].shape[0]
            try shape(ins[0], [n, h, w, c], "input")
            guard inTypes[1] == .int8 else { throw fail("weight is \(inTypes[1]), expected int8") }
            try shape(ins[1], [oc, kh, kw, c / groups], "weight")
            guard inTypes[2] == .int32 else { throw fail("bias is \(inTypes[2]), expected int32") }
            try shape(ins[2], [oc], "bias")
            try shape(out, [n, oh, ow, oc], "output")
            try zeroPoint(15, inTypes[0], "input")
            try zeroPoint(16, outType, "output")
            try range(p[17], p[18])
            try counts(oc, oc)
        case .fullyConnected:
            try activation(inTypes[0], "input")
            try activation(outType, "output")
            let (k, n) = (p[0], p[1])
            guard k > 0, n > 0, inCounts[0] % k == 0 else { throw fail("K \(k) and N \(n) do not fit an input of \(inCounts[0]) elements") }
            guard inTypes[1] == .int8 || inTypes[1] == .int4 else { throw fail("weight is \(inTypes[1]), expected int8 or int4") }
            try shape(ins[1], [n, k], "weight")
            guard inTypes[2] == .int32 else { throw fail("bias is \(inTypes[2]), expected int32") }
            try shape(ins[2], [n], "bias")
            guard outCount == inCounts[0] / k * n else { throw fail("output has \(outCount) elements, expected \(inCounts[0] / k * n)") }
            try zeroPoint(2, inTypes[0], "input")
            try zeroPoint(3, outType, "output")
            try range(p[4], p[5])
            try counts(n, n)
        case .add, .mul:
            try activation(inTypes[0], "input 0")
            try activation(inTypes[1], "input 1")
            try activation(outType, "output")
            guard inCounts[0] == outCount, inCounts[1] == outCount else { throw fail("operands differ in element count") }
            try zeroPoint(0, inTypes[0], "input 0")
            try zeroPoint(1, inTypes[1], "input 1")
            try zeroPoint(2, outType, "output")
            try range(p[3], p[4])
            try counts(kind == .add ? 2 : 1, 1)
        case .lookup:
            try activation(inTypes[0], "input")
            try activation(outType, "output")
            let entries = inTypes[0] == .int16 ? 65536 : 256
            guard inTypes[1] == outType, inCounts[1] == entries, p[0] == entries / 2 else {
                throw fail("the table must be \(entries) \(outType) values indexed from \(-entries / 2)")
            }
        case .pool2d:
            try activation(inTypes[0], "input")
            try activation(outType, "output")
            guard p[0..<9].allSatisfy({ $0 > 0 }), p[9] >= 0, p[10] >= 0, p[11] == 0 || p[11] == 1 else {
                throw fail("params \(Array(p[0..<12])) are not positive sizes and strides")
            }
            guard ins[0].shape.count == 4 else { throw fail("input has rank \(ins[0].shape.count), expected NHWC") }
            let n = ins[0].shape[0]
            try shape(ins[0], [n, p[0], p[1], p[2]], "input")
            try shape(out, [n, p[3], p[4], p[2]], "output")
            try zeroPoint(12, inTypes[0], "input")
            try zeroPoint(13, outType, "output")
            try range(p[14], p[15])
            try counts(1, 1)
        }
    }

    /// Bytes of each on-chip operand of a tile with `region`, in the kind's `sram` order.
    func operandBytes(_ r: [Int], _ at: String) throws(NPUError) -> [Int] {
        func check(_ ok: Bool, _ why: @autoclosure () -> String) throws(NPUError) {
            guard ok else { throw NPUError("\(at): region \(r) \(why())") }
        }
        guard r.allSatisfy({ $0 >= -(1 << 32) && $0 <= 1 << 32 }) else { throw NPUError("\(at): region \(r) is out of range") }
        let es = inTypes.first?.byteSize ?? 1, os = outType.byteSize
        switch kind {
        case .quantize, .dequantize, .requantize, .lookup, .add, .mul:
            try check(r[0] >= 0 && r[0] <= outCount && r[0] <= inCounts[0], "covers more elements than the tensors have")
            switch kind {
            case .lookup: return [r[0] * es, inCounts[1] * os, r[0] * os]
            case .add, .mul: return [r[0] * es, r[0] * inTypes[1].byteSize, r[0] * os]
            default: return [r[0] * es, r[0] * os]
            }
        case .copy:
            try check(r[0] >= 0, "is negative")
            return [r[0]]
        case .transpose:
            let dims = Array(p[0..<4]), perm = Array(p[4..<8])
            let first = dims[perm[0]]
            try check(r[0] >= 0 && r[1] >= 0 && r[0] + r[1] <= first, "passes output dim 0 (\(first))")
            let bytes = first == 0 ? 0 : Saturating.product(r[1], inCounts[0] / first, es)
            return [bytes, bytes]
        case .conv2d, .pool2d:
            let conv = kind == .conv2d
            let (h, w, c) = (p[0], p[1], p[2])
            let oh = p[3], ow = p[4]
            let kh = conv ? p[6] : p[5], sH = conv ? p[8] : p[7], pH = conv ? p[10] : p[9], dH = conv ? p[12] : 1
            let (oh0, ohCount, ih0, ihCount) = (r[0], r[1], r[2], r[3])
            try check(oh0 >= 0 && ohCount > 0 && oh0 + ohCount <= oh, "passes the output rows (\(oh))")
            try check(ih0 >= 0 && ihCount >= 0 && ih0 + ihCount <= h, "passes the input rows (\(h))")
            // Every input row inside the image that the tile's windows touch must be loaded.
            let lowest = max(0, oh0 * sH - pH), highest = min(h - 1, (oh0 + ohCount - 1) * sH - pH + (kh - 1) * dH)
            try check(lowest > highest || (ih0 <= lowest && highest < ih0 + ihCount),
                      "loads input rows \(ih0)..<\(ih0 + ihCount) but its windows read rows \(lowest)...\(highest)")
            if conv {
                let oc = p[5], kw = p[7], cg = c / p[14]
                let (oc0, ocCount) = (r[4], r[5])
                try check(oc0 >= 0 && ocCount > 0 && oc0 + ocCount <= oc, "passes the output channels (\(oc))")
                return [ihCount * w * c * es, ocCount * kh * kw * cg, ocCount * 4, ohCount * ow * ocCount * os]
            }
            return [ihCount * w * c * es, ohCount * ow * c * os]
        case .fullyConnected:
            let (k, n) = (p[0], p[1])
            let (m, n0, nCount) = (r[0], r[1], r[2])
            try check(m > 0 && m <= inCounts[0] / k, "has more rows than the input (\(inCounts[0] / k))")
            try check(n0 >= 0 && nCount > 0 && n0 + nCount <= n, "passes the output features (\(n))")
            return [m * k * es, inTypes[1].byteCount(shape: [nCount, k]), nCount * 4, m * nCount * os]
        }
    }
}
