import KilnPTE

/// FlatBuffers encoding of ``NPUProgram`` (Schemas/npu.fbs, file identifier `KNPU`).
extension NPUProgram {
    /// The payload's file identifier.
    public static let fileIdentifier = "KNPU"

    /// The program as a FlatBuffers payload.
    public func encoded() -> [UInt8] {
        var b = FlatBufferBuilder(initialCapacity: 4096 + constantData.count)
        let data = b.createVector(bytes: constantData, alignment: 64)
        let tensorOffsets = tensors.map { t -> FlatBufferBuilder.Offset in
            let shape = b.createVector(t.shape.map(Int64.init))
            b.startTable()
            b.add(t.dtype.rawValue, default: 0, slot: 0)
            b.add(offset: shape, slot: 1)
            b.add(t.role.rawValue, default: 0, slot: 2)
            b.add(Int32(t.index), default: 0, slot: 3)
            b.add(UInt64(t.offset), default: 0, slot: 4)
            return b.endTable()
        }
        let tensorVector = b.createVector(offsets: tensorOffsets)
        let opOffsets = ops.map { op in Self.encode(op, &b) }
        let opVector = b.createVector(offsets: opOffsets)
        b.startTable()
        b.add(Self.version, default: 0, slot: 0)
        b.add(UInt64(sramBytes), default: 0, slot: 1)
        b.add(UInt64(arenaBytes), default: 0, slot: 2)
        b.add(offset: tensorVector, slot: 3)
        b.add(offset: opVector, slot: 4)
        b.add(offset: data, slot: 5)
        return b.finish(root: b.endTable(), fileIdentifier: Self.fileIdentifier)
    }

    private static func encode(_ op: NPUOp, _ b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let tiles = op.tiles.map { tile -> FlatBufferBuilder.Offset in
            let loads = b.createVector(offsets: tile.loads.map { encode($0, &b) })
            let stores = b.createVector(offsets: tile.stores.map { encode($0, &b) })
            let sram = b.createVector(tile.sram.map(Int64.init))
            let region = b.createVector(tile.region.map(Int64.init))
            b.startTable()
            b.add(offset: loads, slot: 0)
            b.add(offset: stores, slot: 1)
            b.add(offset: sram, slot: 2)
            b.add(offset: region, slot: 3)
            return b.endTable()
        }
        let tileVector = b.createVector(offsets: tiles)
        let name = b.createString(op.name)
        let inputs = b.createVector(op.inputs.map(Int32.init))
        let outputs = b.createVector(op.outputs.map(Int32.init))
        let params = b.createVector(op.params.map(Int64.init))
        let multipliers = b.createVector(op.multipliers)
        let shifts = b.createVector(op.shifts.map { Int32(clamping: $0) })
        let scales = b.createVector(op.scales)
        b.startTable()
        b.add(op.kind.rawValue, default: 0, slot: 0)
        b.add(offset: name, slot: 1)
        b.add(offset: inputs, slot: 2)
        b.add(offset: outputs, slot: 3)
        b.add(offset: params, slot: 4)
        b.add(offset: multipliers, slot: 5)
        b.add(offset: shifts, slot: 6)
        b.add(offset: scales, slot: 7)
        b.add(offset: tileVector, slot: 8)
        return b.endTable()
    }

    private static func encode(_ t: NPUTransfer, _ b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        b.startTable()
        b.add(Int32(t.tensor), default: 0, slot: 0)
        b.add(UInt64(t.mainOffset), default: 0, slot: 1)
        b.add(UInt64(t.sramOffset), default: 0, slot: 2)
        b.add(UInt32(t.rows), default: 0, slot: 3)
        b.add(UInt32(t.rowBytes), default: 0, slot: 4)
        b.add(UInt64(t.mainStride), default: 0, slot: 5)
        b.add(UInt64(t.sramStride), default: 0, slot: 6)
        return b.endTable()
    }

    /// Reads and fully verifies a payload: structure, then ``verify()``.
    ///
    /// - Throws: ``NPUError`` naming the field (and op, tile, transfer index) at fault.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(NPUError) -> NPUProgram {
        try decodeVerified(bytes).program
    }

    /// ``decode(_:)`` with what verification derived, for the executable.
    static func decodeVerified(_ bytes: UnsafeRawBufferPointer) throws(NPUError) -> (program: NPUProgram, verified: NPUVerifiedProgram) {
        let program: NPUProgram
        do {
            program = try read(bytes)
        } catch let error as NPUError {
            throw error
        } catch {
            throw NPUError("malformed payload: \(error)")
        }
        return (program, try program.verified())
    }

    private static func read(_ bytes: UnsafeRawBufferPointer) throws -> NPUProgram {
        guard FBTable.hasIdentifier(fileIdentifier, in: bytes) else {
            throw NPUError("payload is not an NPU program (no '\(fileIdentifier)' identifier)")
        }
        let root = try FBTable.root(of: bytes)
        let version: UInt32 = try root.scalar(0, default: 0, name: "version")
        guard version == Self.version else { throw NPUError("payload version \(version), this runtime reads \(Self.version)") }
        let sram = try size(root.scalar(1, default: UInt64(0), name: "sram_bytes"), "sram_bytes")
        let arena = try size(root.scalar(2, default: UInt64(0), name: "arena_bytes"), "arena_bytes")
        var tensors: [NPUTensor] = []
        if let list = try root.tables(3, name: "tensors") {
            for i in 0..<list.count {
                let t = try list.table(at: i)
                let raw: UInt8 = try t.scalar(0, default: 0, name: "dtype")
                guard let dtype = NPUDType(rawValue: raw) else { throw NPUError("tensor \(i): unknown dtype \(raw)") }
                let rawRole: UInt8 = try t.scalar(2, default: 0, name: "role")
                guard let role = NPUTensor.Role(rawValue: rawRole) else { throw NPUError("tensor \(i): unknown role \(rawRole)") }
                let shape = try t.vector(1, of: Int64.self, name: "shape").map { Array($0) } ?? []
                guard shape.count <= 6, shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 31 }) else {
                    throw NPUError("tensor \(i): shape \(shape) has a negative or oversized dim or rank above 6")
                }
                let index = Int(try t.scalar(3, default: Int32(0), name: "index"))
                let offset = try size(t.scalar(4, default: UInt64(0), name: "offset"), "tensor \(i) offset")
                tensors.append(NPUTensor(dtype: dtype, shape: shape.map { Int($0) }, role: role, index: index, offset: offset))
            }
        }
        var ops: [NPUOp] = []
        if let list = try root.tables(4, name: "ops") {
            for i in 0..<list.count { ops.append(try readOp(list.table(at: i), i)) }
        }
        let data = try root.bytes(5, name: "constant_data").map { Array($0) } ?? []
        return NPUProgram(sramBytes: sram, arenaBytes: arena, tensors: tensors, ops: ops, constantData: data)
    }

    private static func readOp(_ t: FBTable, _ i: Int) throws -> NPUOp {
        let raw: UInt8 = try t.scalar(0, default: 0, name: "kind")
        guard let kind = NPUOpKind(rawValue: raw) else { throw NPUError("op \(i): unknown kind \(raw)") }
        func ints<T: FBScalar & BinaryInteger>(_ slot: Int, _ type: T.Type, _ name: StaticString) throws -> [Int] {
            try t.vector(slot, of: type, name: name).map { $0.map { Int($0) } } ?? []
        }
        var tiles: [NPUTile] = []
        if let list = try t.tables(8, name: "tiles") {
            for j in 0..<list.count {
                let tile = try list.table(at: j)
                tiles.append(NPUTile(loads: try transfers(tile.tables(0, name: "loads")),
                                     stores: try transfers(tile.tables(1, name: "stores")),
                                     sram: try tile.vector(2, of: Int64.self, name: "sram").map { $0.map { Int($0) } } ?? [],
                                     region: try tile.vector(3, of: Int64.self, name: "region").map { $0.map { Int($0) } } ?? []))
            }
        }
        return NPUOp(kind: kind, name: try t.string(1, name: "name") ?? "op \(i)",
                     inputs: try ints(2, Int32.self, "inputs"), outputs: try ints(3, Int32.self, "outputs"),
                     params: try ints(4, Int64.self, "params"),
                     multipliers: try t.vector(5, of: Int32.self, name: "multipliers").map { Array($0) } ?? [],
                     shifts: try ints(6, Int32.self, "shifts"),
                     scales: try t.vector(7, of: Double.self, name: "scales").map { Array($0) } ?? [], tiles: tiles)
    }

    private static func transfers(_ list: FBTableVector?) throws -> [NPUTransfer] {
        guard let list else { return [] }
        return try (0..<list.count).map { k in
            let t = try list.table(at: k)
            return NPUTransfer(tensor: Int(try t.scalar(0, default: Int32(0), name: "tensor")),
                               mainOffset: try size(t.scalar(1, default: UInt64(0), name: "main_offset"), "main_offset"),
                               sramOffset: try size(t.scalar(2, default: UInt64(0), name: "sram_offset"), "sram_offset"),
                               rows: Int(try t.scalar(3, default: UInt32(0), name: "rows")),
                               rowBytes: Int(try t.scalar(4, default: UInt32(0), name: "row_bytes")),
                               mainStride: try size(t.scalar(5, default: UInt64(0), name: "main_stride"), "main_stride"),
                               sramStride: try size(t.scalar(6, default: UInt64(0), name: "sram_stride"), "sram_stride"))
        }
    }

    /// A byte count or offset read from the payload, bounded so sums of a few cannot overflow.
    private static func size(_ value: UInt64, _ what: String) throws(NPUError) -> Int {
        guard value <= 1 << 40 else { throw NPUError("\(what) \(value) is larger than 2^40") }
        return Int(value)
    }
}
