/// Semantic checks of a decoded program: every tensor id, offset, on-chip extent, shift and
/// shape agrees with the machine and with each op kind's layout, so execution never reads or
/// writes outside a buffer.
/// What verification derives and execution uses: each op's checked geometry, and how many bytes
/// of on-chip memory any tile operand or transfer reaches.
struct NPUVerifiedProgram {
    var geometries: [NPUOpGeometry] = []
    var sramUsed = 0
}

extension NPUProgram {
    /// Checks the whole program.
    /// - Throws: ``NPUError`` naming the tensor, op, tile or transfer at fault and what was expected.
    public func verify() throws(NPUError) {
        _ = try verified()
    }

    /// Checks the whole program and returns what the checks derived (see ``verify()``).
    func verified() throws(NPUError) -> NPUVerifiedProgram {
        guard sramBytes > 0, sramBytes <= NPUMachine.sramBytes else {
            throw NPUError("sram_bytes \(sramBytes) is outside 1...\(NPUMachine.sramBytes) (the machine's on-chip memory)")
        }
        guard arenaBytes <= 1 << 36 else { throw NPUError("arena_bytes \(arenaBytes) is larger than 64 GiB") }
        var inputs: [Int] = [], outputs: [Int] = []
        for (i, t) in tensors.enumerated() {
            var count = 1
            for d in t.shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p <= 1 << 36 else { throw NPUError("tensor \(i): shape \(t.shape) is too large") }
                count = p
            }
            switch t.role {
            case .input: inputs.append(t.index)
            case .output: outputs.append(t.index)
            case .constant:
                guard t.offset + t.byteCount <= constantData.count else {
                    throw NPUError("tensor \(i): constant bytes \(t.offset)..<\(t.offset + t.byteCount) pass the end of constant_data (\(constantData.count) bytes)")
                }
            case .scratch:
                guard t.offset + t.byteCount <= arenaBytes else {
                    throw NPUError("tensor \(i): scratch bytes \(t.offset)..<\(t.offset + t.byteCount) pass the end of the arena (\(arenaBytes) bytes)")
                }
            }
        }
        guard inputs.sorted() == Array(0..<inputs.count) else { throw NPUError("input tensors have indices \(inputs.sorted()), expected 0..<\(inputs.count)") }
        guard outputs.sorted() == Array(0..<outputs.count) else { throw NPUError("output tensors have indices \(outputs.sorted()), expected 0..<\(outputs.count)") }
        var result = NPUVerifiedProgram()
        for (i, op) in ops.enumerated() {
            result.geometries.append(try verify(op, "op \(i) (\(op.kind) '\(op.name)')", sramUsed: &result.sramUsed))
        }
        return result
    }

    private func tensor(_ id: Int, _ what: String) throws(NPUError) -> NPUTensor {
        guard id >= 0 && id < tensors.count else {
            throw NPUError("\(what): tensor id \(id) is out of range (the program has \(tensors.count) tensors)")
        }
        return tensors[id]
    }

    private func verify(_ op: NPUOp, _ at: String, sramUsed: inout Int) throws(NPUError) -> NPUOpGeometry {
        let kind = op.kind
        guard op.inputs.count == kind.inputCount, op.outputs.count == 1 else {
            throw NPUError("\(at): expected \(kind.inputCount) inputs and 1 output, got \(op.inputs.count) and \(op.outputs.count)")
        }
        guard op.params.count == kind.paramCount else {
            throw NPUError("\(at): expected \(kind.paramCount) params, got \(op.params.count)")
        }
        var ins: [NPUTensor] = []
        for (k, id) in op.inputs.enumerated() { ins.append(try tensor(id, "\(at) input \(k)")) }
        let out = try tensor(op.outputs[0], "\(at) output")
        guard out.role != .input, out.role != .constant else { throw NPUError("\(at): writes tensor \(op.outputs[0]), an input or constant") }
        for (k, s) in op.shifts.enumerated() where s < 0 || s > NPUMachine.maxShift {
            throw NPUError("\(at): shift \(k) is \(s), outside 0...\(NPUMachine.maxShift)")
        }
        for (k, m) in op.multipliers.enumerated() where m < 0 {
            throw NPUError("\(at): multiplier \(k) is \(m), expected a non-negative int32")
        }
        let geometry = try NPUOpGeometry(op, ins, out, at)
        for (j, tile) in op.tiles.enumerated() {
            let where_ = "\(at) tile \(j)"
            guard tile.sram.count == kind.sramCount, tile.region.count == kind.regionCount else {
                throw NPUError("\(where_): expected \(kind.sramCount) on-chip addresses and \(kind.regionCount) region values, got \(tile.sram.count) and \(tile.region.count)")
            }
            for (k, d) in tile.loads.enumerated() {
                sramUsed = max(sramUsed, try verify(d, load: true, "\(where_) load \(k)"))
            }
            for (k, d) in tile.stores.enumerated() {
                sramUsed = max(sramUsed, try verify(d, load: false, "\(where_) store \(k)"))
            }
            let extents = try geometry.operandBytes(tile.region, where_)
            for (k, (addr, bytes)) in zip(tile.sram, extents).enumerated() {
                guard addr >= 0, addr <= sramBytes, bytes >= 0, bytes <= sramBytes - addr else {
                    throw NPUError("\(where_): operand \(k) needs on-chip bytes \(addr)..<\(addr + bytes), larger than on-chip memory (\(sramBytes) bytes)")
                }
                sramUsed = max(sramUsed, addr + bytes)
            }
        }
        return geometry
    }

    /// Checks a transfer and returns the end of the on-chip bytes it reaches.
    private func verify(_ d: NPUTransfer, load: Bool, _ at: String) throws(NPUError) -> Int {
        let t = try tensor(d.tensor, at)
        if !load && (t.role == .input || t.role == .constant) {
            throw NPUError("\(at): stores into tensor \(d.tensor), an input or constant")
        }
        guard d.rows >= 0, d.rowBytes >= 0 else { throw NPUError("\(at): negative rows or row bytes") }
        guard d.rows > 0 && d.rowBytes > 0 else { return 0 }
        guard d.rows == 1 || (d.mainStride >= d.rowBytes && d.sramStride >= d.rowBytes) else {
            throw NPUError("\(at): rows overlap (strides \(d.mainStride) and \(d.sramStride) are below the row size \(d.rowBytes))")
        }
        let mainEnd = Saturating.sum(d.mainOffset, Saturating.product(d.rows - 1, d.mainStride), d.rowBytes)
        guard mainEnd <= t.byteCount else {
            throw NPUError("\(at): main-memory bytes up to \(mainEnd) pass the end of tensor \(d.tensor) (\(t.byteCount) bytes)")
        }
        let sramEnd = Saturating.sum(d.sramOffset, Saturating.product(d.rows - 1, d.sramStride), d.rowBytes)
        guard sramEnd <= sramBytes else {
            throw NPUError("\(at): on-chip bytes up to \(sramEnd) are larger than on-chip memory (\(sramBytes) bytes)")
        }
        return sramEnd
    }
}
