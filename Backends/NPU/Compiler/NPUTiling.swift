import KilnIR
import NPURuntime

/// Tile planning: each op's iteration space cut into tiles whose operands fit on-chip memory,
/// with the DMA transfers that bring them in and take results out.
extension NPULowering {
    static func aligned(_ n: Int) -> Int { (n + 63) / 64 * 64 }

    /// On-chip addresses for operands of `sizes` bytes, one after another (64-byte aligned), or
    /// nil when they do not fit.
    func place(_ sizes: [Int]) -> [Int]? {
        var at = 0, addresses: [Int] = []
        for s in sizes {
            addresses.append(at)
            at += Self.aligned(s)
        }
        return at <= sramBytes ? addresses : nil
    }

    func bytes(_ tensor: Int) -> Int { tensors[tensor].dtype.byteSize }

    // MARK: - Elementwise

    /// An elementwise op over `count` elements of `inputs` into `output`, tiled by element
    /// ranges; `resident` (a lookup table) is loaded once, in the first tile, at address 0.
    mutating func elementwise(_ kind: NPUOpKind, name: String, inputs: [Int], output: Int, params: [Int],
                              multipliers: [Int32] = [], shifts: [Int] = [], scales: [Double] = [],
                              resident: Int? = nil) throws(NPUCompileError) {
        let count = tensors[output].shape.reduce(1, *)
        let streamed = inputs.filter { $0 != resident }
        let perElement = streamed.map(bytes).reduce(bytes(output), +)
        let fixed = resident.map { Self.aligned(tensors[$0].byteCount) } ?? 0
        var block = (sramBytes - fixed - 64 * (streamed.count + 1)) / perElement / 64 * 64
        guard block > 0 else { throw NPUCompileError("\(name): a lookup table of \(fixed) bytes leaves no on-chip memory for data") }
        block = min(block, max(count, 1))
        var tiles: [NPUTile] = []
        var start = 0
        repeat {
            let n = min(block, count - start)
            var sizes = streamed.map { n * bytes($0) } + [n * bytes(output)]
            if let r = resident { sizes.insert(tensors[r].byteCount, at: 0) }
            let at = place(sizes)!
            var loads: [NPUTransfer] = []
            var sram: [Int] = []
            var k = resident == nil ? 0 : 1
            for input in inputs {
                if input == resident {
                    if start == 0 { loads.append(NPUTransfer(tensor: input, mainOffset: 0, sramOffset: 0, rowBytes: tensors[input].byteCount)) }
                    sram.append(0)
                } else {
                    loads.append(NPUTransfer(tensor: input, mainOffset: start * bytes(input), sramOffset: at[k], rowBytes: n * bytes(input)))
                    sram.append(at[k])
                    k += 1
                }
            }
            sram.append(at[k])
            let store = NPUTransfer(tensor: output, mainOffset: start * bytes(output), sramOffset: at[k], rowBytes: n * bytes(output))
            tiles.append(NPUTile(loads: loads, stores: [store], sram: sram, region: [n]))
            start += n
        } while start < count
        ops.append(NPUOp(kind: kind, name: name, inputs: inputs, outputs: [output], params: params,
                         multipliers: multipliers, shifts: shifts, scales: scales, tiles: tiles))
    }

    /// A float32 edge: quantize (float → int) or dequantize (int → float), elementwise.
    mutating func edge(_ kind: NPUOpKind, from input: Int, to output: Int, _ q: QParams, node: Node?) throws(NPUCompileError) {
        let name = node.map(opName) ?? "\(kind) output"
        if kind == .quantize {
            try elementwise(.quantize, name: name, inputs: [input], output: output, params: [q.zeroPoint, q.qmin, q.qmax],
                            scales: [1 / q.scale])
        } else {
            try elementwise(.dequantize, name: name, inputs: [input], output: output, params: [q.zeroPoint], scales: [q.scale])
        }
    }

    /// `output = clamp(requantize(input - zp_in) + zp_out, lo, hi)` elementwise, `lo...hi`
    /// defaulting to the output's range.
    mutating func requantize(from input: Int, _ qin: QParams, to output: Int, _ qout: QParams, node: Node?,
                             name: String? = nil, clampTo range: ClosedRange<Int>? = nil) throws(NPUCompileError) {
        let (m, s) = try NPUFixedPoint.fold(qin.scale / qout.scale)
        let lo = max(qout.qmin, range?.lowerBound ?? qout.qmin), hi = min(qout.qmax, range?.upperBound ?? qout.qmax)
        guard lo <= hi else { throw failOrInternal(node, "its clamp range \(range!) is empty in the output's quantized range") }
        try elementwise(.requantize, name: name ?? node.map(opName) ?? "requantize", inputs: [input], output: output,
                        params: [qin.zeroPoint, qout.zeroPoint, lo, hi], multipliers: [m], shifts: [s])
    }

    // MARK: - Data movement

    /// A byte copy of `input` into `output` (same byte count), in chunks that fit on-chip.
    mutating func copyOp(from input: Int, to output: Int, name: String) throws(NPUCompileError) {
        try copyRows(from: input, to: output, rows: 1, rowBytes: tensors[input].byteCount, sourceOffset: 0, sourceStride: 0,
                     destinationOffset: 0, destinationStride: 0, name: name)
    }

    /// Copies `rows` rows of `rowBytes` from `input` to `output` with the given offsets and
    /// strides, as one copy op: as many rows per tile as fit on-chip, rows longer than on-chip
    /// memory in pieces.
    mutating func copyRows(from input: Int, to output: Int, rows: Int, rowBytes: Int, sourceOffset: Int, sourceStride: Int,
                           destinationOffset: Int, destinationStride: Int, name: String) throws(NPUCompileError) {
        var tiles: [NPUTile] = []
        if rowBytes <= sramBytes {
            let perTile = max(1, sramBytes / max(rowBytes, 1))
            for r0 in stride(from: 0, to: rows, by: perTile) {
                let n = min(perTile, rows - r0)
                let load = NPUTransfer(tensor: input, mainOffset: sourceOffset + r0 * sourceStride, sramOffset: 0, rows: n,
                                       rowBytes: rowBytes, mainStride: sourceStride, sramStride: rowBytes)
                let store = NPUTransfer(tensor: output, mainOffset: destinationOffset + r0 * destinationStride, sramOffset: 0, rows: n,
                                        rowBytes: rowBytes, mainStride: destinationStride, sramStride: rowBytes)
                tiles.append(NPUTile(loads: [load], stores: [store], sram: [0], region: [n * rowBytes]))
            }
        } else {
            for r in 0..<rows {
                for done in stride(from: 0, to: rowBytes, by: sramBytes) {
                    let n = min(sramBytes, rowBytes - done)
                    let load = NPUTransfer(tensor: input, mainOffset: sourceOffset + r * sourceStride + done, sramOffset: 0, rowBytes: n)
                    let store = NPUTransfer(tensor: output, mainOffset: destinationOffset + r * destinationStride + done, sramOffset: 0,
                                            rowBytes: n)
                    tiles.append(NPUTile(loads: [load], stores: [store], sram: [0], region: [n]))
                }
            }
        }
        ops.append(NPUOp(kind: .copy, name: name, inputs: [input], outputs: [output], params: [], tiles: tiles))
    }

    /// A permutation of up to four dims (`dims` of `input`, padded in front with ones), tiled
    /// along the output's first dim.
    mutating func transposeOp(from input: Int, dims: [Int], perm: [Int], to output: Int, name: String) throws(NPUCompileError) {
        let pad = 4 - dims.count
        let d = [Int](repeating: 1, count: pad) + dims
        let p = Array(0..<pad) + perm.map { $0 + pad }
        let es = bytes(input)
        let axis = p[0], first = d[axis]
        let inner = d[(axis + 1)...].reduce(1, *), outer = d[..<axis].reduce(1, *)
        let slice = d.reduce(1, *) / max(first, 1) * es
        let block = min(max(first, 1), sramBytes / 2 / max(slice, 1))
        guard block > 0 else { throw NPUCompileError("\(name): one slice of \(slice) bytes does not fit on-chip memory twice") }
        var tiles: [NPUTile] = []
        var o0 = 0
        while o0 < first {
            let n = min(block, first - o0)
            let at = place([n * slice, n * slice])!
            let load = NPUTransfer(tensor: input, mainOffset: o0 * inner * es, sramOffset: at[0], rows: outer, rowBytes: n * inner * es,
                                   mainStride: first * inner * es, sramStride: n * inner * es)
            let store = NPUTransfer(tensor: output, mainOffset: o0 * slice, sramOffset: at[1], rowBytes: n * slice)
            tiles.append(NPUTile(loads: [load], stores: [store], sram: at, region: [o0, n]))
            o0 += n
        }
        ops.append(NPUOp(kind: .transpose, name: name, inputs: [input], outputs: [output], params: d + p, tiles: tiles))
    }

    // MARK: - Windows (convolution, pooling)

    /// Input rows `lo..<hi` that output rows `oh0..<oh0+count` read (clipped to the image).
    static func inputRows(_ oh0: Int, _ count: Int, stride: Int, pad: Int, kernel: Int, dilation: Int, height: Int) -> (Int, Int) {
        let lo = max(0, oh0 * stride - pad), hi = min(height, (oh0 + count - 1) * stride - pad + (kernel - 1) * dilation + 1)
        return lo < hi ? (lo, hi - lo) : (0, 0)
    }

    /// Tiles of an NHWC convolution: output-channel blocks (weights and bias loaded once per
    /// block), then output-row blocks with the input rows they read.
    mutating func convTiles(_ op: inout NPUOp, batch: Int) throws(NPUCompileError) {
        let p = op.params
        let (h, w, c, oh, ow, oc, kh, kw) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
        let (sH, pH, dH, groups) = (p[8], p[10], p[12], p[14])
        let cg = c / groups
        let es = bytes(op.inputs[0]), os = bytes(op.outputs[0])
        func sizes(_ rows: Int, _ ocb: Int) -> [Int] {
            let ih = min(h, (rows - 1) * sH + (kh - 1) * dH + 1)
            return [ih * w * c * es, ocb * kh * kw * cg, ocb * 4, rows * ow * ocb * os]
        }
        var rows = oh, ocBlock = oc
        while place(sizes(rows, ocBlock)) == nil {
            if rows > 1 { rows = (rows + 1) / 2 } else if ocBlock > 1 { ocBlock = (ocBlock + 1) / 2 } else {
                throw NPUCompileError("\(op.name): one output row of one channel needs \(sizes(1, 1).reduce(0, +)) bytes, more than on-chip memory (\(sramBytes))")
            }
        }
        let at = place(sizes(rows, ocBlock))!
        for oc0 in stride(from: 0, to: oc, by: ocBlock) {
            let ocCount = min(ocBlock, oc - oc0)
            var first = true
            for n in 0..<batch {
                for oh0 in stride(from: 0, to: oh, by: rows) {
                    let count = min(rows, oh - oh0)
                    let (ih0, ihCount) = Self.inputRows(oh0, count, stride: sH, pad: pH, kernel: kh, dilation: dH, height: h)
                    var loads: [NPUTransfer] = []
                    if ihCount > 0 {
                        loads.append(NPUTransfer(tensor: op.inputs[0], mainOffset: (n * h + ih0) * w * c * es, sramOffset: at[0],
                                                 rowBytes: ihCount * w * c * es))
                    }
                    if first {
                        loads.append(NPUTransfer(tensor: op.inputs[1], mainOffset: oc0 * kh * kw * cg, sramOffset: at[1],
                                                 rowBytes: ocCount * kh * kw * cg))
                        loads.append(NPUTransfer(tensor: op.inputs[2], mainOffset: oc0 * 4, sramOffset: at[2], rowBytes: ocCount * 4))
                        first = false
                    }
                    let store = NPUTransfer(tensor: op.outputs[0], mainOffset: ((n * oh + oh0) * ow * oc + oc0) * os, sramOffset: at[3],
                                            rows: count * ow, rowBytes: ocCount * os, mainStride: oc * os, sramStride: ocCount * os)
                    op.tiles.append(NPUTile(loads: loads, stores: [store], sram: at, region: [oh0, count, ih0, ihCount, oc0, ocCount]))
                }
            }
        }
    }

    /// Tiles of an NHWC pooling op: output-row blocks with the input rows they read.
    mutating func poolTiles(_ op: inout NPUOp, batch: Int) throws(NPUCompileError) {
        let p = op.params
        let (h, w, c, oh, ow, kh, sH, pH) = (p[0], p[1], p[2], p[3], p[4], p[5], p[7], p[9])
        let es = bytes(op.inputs[0]), os = bytes(op.outputs[0])
        func sizes(_ rows: Int) -> [Int] {
            [min(h, (rows - 1) * sH + kh) * w * c * es, rows * ow * c * os]
        }
        var rows = oh
        while place(sizes(rows)) == nil {
            guard rows > 1 else { throw NPUCompileError("\(op.name): one output row needs \(sizes(1).reduce(0, +)) bytes, more than on-chip memory (\(sramBytes))") }
            rows = (rows + 1) / 2
        }
        let at = place(sizes(rows))!
        for n in 0..<batch {
            for oh0 in stride(from: 0, to: oh, by: rows) {
                let count = min(rows, oh - oh0)
                let (ih0, ihCount) = Self.inputRows(oh0, count, stride: sH, pad: pH, kernel: kh, dilation: 1, height: h)
                let loads = ihCount == 0 ? [] : [NPUTransfer(tensor: op.inputs[0], mainOffset: (n * h + ih0) * w * c * es, sramOffset: at[0],
                                                             rowBytes: ihCount * w * c * es)]
                let store = NPUTransfer(tensor: op.outputs[0], mainOffset: (n * oh + oh0) * ow * c * os, sramOffset: at[1],
                                        rowBytes: count * ow * c * os)
                op.tiles.append(NPUTile(loads: loads, stores: [store], sram: at, region: [oh0, count, ih0, ihCount]))
            }
        }
    }

    /// Tiles of a fully-connected op over `rows` input rows: output-feature blocks (weights and
    /// bias loaded once per block), then row blocks.
    mutating func fullyConnectedTiles(_ op: inout NPUOp, rows: Int) throws(NPUCompileError) {
        let (k, n) = (op.params[0], op.params[1])
        let es = bytes(op.inputs[0]), os = bytes(op.outputs[0])
        let weightType = tensors[op.inputs[1]].dtype
        func sizes(_ m: Int, _ nb: Int) -> [Int] {
            [m * k * es, weightType.byteCount(shape: [nb, k]), nb * 4, m * nb * os]
        }
        var mBlock = rows, nBlock = n
        while place(sizes(mBlock, nBlock)) == nil {
            if nBlock > 1 { nBlock = (nBlock + 1) / 2 } else if mBlock > 1 { mBlock = (mBlock + 1) / 2 } else {
                throw NPUCompileError("\(op.name): one row of one feature needs \(sizes(1, 1).reduce(0, +)) bytes, more than on-chip memory (\(sramBytes))")
            }
        }
        let at = place(sizes(mBlock, nBlock))!
        let rowBytes = weightType.byteCount(shape: [1, k])
        for n0 in stride(from: 0, to: n, by: nBlock) {
            let nCount = min(nBlock, n - n0)
            for m0 in stride(from: 0, to: rows, by: mBlock) {
                let m = min(mBlock, rows - m0)
                var loads = [NPUTransfer(tensor: op.inputs[0], mainOffset: m0 * k * es, sramOffset: at[0], rowBytes: m * k * es)]
                if m0 == 0 {
                    loads.append(NPUTransfer(tensor: op.inputs[1], mainOffset: n0 * rowBytes, sramOffset: at[1], rowBytes: nCount * rowBytes))
                    loads.append(NPUTransfer(tensor: op.inputs[2], mainOffset: n0 * 4, sramOffset: at[2], rowBytes: nCount * 4))
                }
                let store = NPUTransfer(tensor: op.outputs[0], mainOffset: (m0 * n + n0) * os, sramOffset: at[3], rows: m,
                                        rowBytes: nCount * os, mainStride: n * os, sramStride: nCount * os)
                op.tiles.append(NPUTile(loads: loads, stores: [store], sram: at, region: [m, n0, nCount]))
            }
        }
    }
}
