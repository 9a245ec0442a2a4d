/// Writes a ``PTE/Program`` as a flatbuffer (root `Program`, identifier `ET12`), children first.
///
/// Scalars equal to their schema default are left out; strings and vectors the runtime expects
/// are always written (empty when empty), and only the schema's `[Optional]` fields
/// (`stacktrace`, `mutable_data_segments`, `named_data`, `non_const_buffer_device`, optional
/// tables and strings) are left out when empty or nil. Each table adds its 8-byte fields first,
/// then 4-byte ones, then bytes, to keep padding small.
struct ProgramWriter {
    typealias Offset = FlatBufferBuilder.Offset

    /// `force_align` of `Buffer.storage` and `BackendDelegateInlineData.data` in `program.fbs`.
    static let inlineDataAlignment = 16

    private var b = FlatBufferBuilder(initialCapacity: 4096)

    /// The finished flatbuffer for `program`.
    static func flatbuffer(for program: PTE.Program) -> [UInt8] {
        var writer = ProgramWriter()
        let root = writer.program(program)
        return writer.b.finish(root: root, fileIdentifier: "ET12")
    }

    private mutating func strings(_ values: [String]) -> [Offset] { values.map { b.createString($0) } }

    private mutating func tables<T>(_ items: [T], _ write: (inout ProgramWriter, T) -> Offset) -> Offset {
        var offsets: [Offset] = []
        offsets.reserveCapacity(items.count)
        for item in items { offsets.append(write(&self, item)) }
        return b.createVector(offsets: offsets)
    }

    /// Like ``tables(_:_:)`` but nil (field left out) for an empty list.
    private mutating func optionalTables<T>(_ items: [T], _ write: (inout ProgramWriter, T) -> Offset) -> Offset? {
        items.isEmpty ? nil : tables(items, write)
    }

    mutating func program(_ p: PTE.Program) -> Offset {
        let plans = tables(p.executionPlan) { $0.executionPlan($1) }
        let constantBuffer = tables(p.constantBuffer) { w, buffer in w.inlineData(buffer.storage) }
        let delegateData = tables(p.backendDelegateData) { w, data in w.inlineData(data.data) }
        let segments = tables(p.segments) { $0.dataSegment($1) }
        let constantSegment = p.constantSegment.map { subsegmentOffsets($0) }
        let mutableData = optionalTables(p.mutableDataSegments) { $0.subsegmentOffsets($1) }
        let namedData = optionalTables(p.namedData) { $0.namedData($1) }
        b.startTable()
        b.add(offset: plans, slot: Slot.Program.executionPlan)
        b.add(offset: constantBuffer, slot: Slot.Program.constantBuffer)
        b.add(offset: delegateData, slot: Slot.Program.backendDelegateData)
        b.add(offset: segments, slot: Slot.Program.segments)
        b.add(offset: constantSegment, slot: Slot.Program.constantSegment)
        b.add(offset: mutableData, slot: Slot.Program.mutableDataSegments)
        b.add(offset: namedData, slot: Slot.Program.namedData)
        b.add(p.version, default: 0, slot: Slot.Program.version)
        return b.endTable()
    }

    /// `Buffer` and `BackendDelegateInlineData` share a layout: one force-aligned byte vector.
    private mutating func inlineData(_ bytes: [UInt8]) -> Offset {
        let data = b.createVector(bytes: bytes, alignment: Self.inlineDataAlignment)
        b.startTable()
        b.add(offset: data, slot: Slot.Buffer.storage)
        return b.endTable()
    }

    private mutating func dataSegment(_ s: PTE.DataSegment) -> Offset {
        b.startTable()
        b.add(s.offset, default: 0, slot: Slot.DataSegment.offset)
        b.add(s.size, default: 0, slot: Slot.DataSegment.size)
        return b.endTable()
    }

    private mutating func subsegmentOffsets(_ s: PTE.SubsegmentOffsets) -> Offset {
        let offsets = b.createVector(s.offsets)
        b.startTable()
        b.add(offset: offsets, slot: Slot.SubsegmentOffsets.offsets)
        b.add(s.segmentIndex, default: 0, slot: Slot.SubsegmentOffsets.segmentIndex)
        return b.endTable()
    }

    private mutating func namedData(_ n: PTE.NamedData) -> Offset {
        let key = b.createString(n.key)
        b.startTable()
        b.add(offset: key, slot: Slot.NamedData.key)
        b.add(n.segmentIndex, default: 0, slot: Slot.NamedData.segmentIndex)
        return b.endTable()
    }

    // MARK: Execution plans

    private mutating func executionPlan(_ p: PTE.ExecutionPlan) -> Offset {
        let name = b.createString(p.name)
        let meta = p.containerMetaType.map { containerMetadata($0) }
        let values = tables(p.values) { $0.evalue($1) }
        let inputs = b.createVector(p.inputs)
        let outputs = b.createVector(p.outputs)
        let chains = tables(p.chains) { $0.chain($1) }
        let operators = tables(p.operators) { $0.operatorTable($1) }
        let delegates = tables(p.delegates) { $0.delegate($1) }
        let sizes = b.createVector(p.nonConstBufferSizes)
        let devices = optionalTables(p.nonConstBufferDevice) { $0.nonConstBufferDevice($1) }
        b.startTable()
        b.add(offset: name, slot: Slot.ExecutionPlan.name)
        b.add(offset: meta, slot: Slot.ExecutionPlan.containerMetaType)
        b.add(offset: values, slot: Slot.ExecutionPlan.values)
        b.add(offset: inputs, slot: Slot.ExecutionPlan.inputs)
        b.add(offset: outputs, slot: Slot.ExecutionPlan.outputs)
        b.add(offset: chains, slot: Slot.ExecutionPlan.chains)
        b.add(offset: operators, slot: Slot.ExecutionPlan.operators)
        b.add(offset: delegates, slot: Slot.ExecutionPlan.delegates)
        b.add(offset: sizes, slot: Slot.ExecutionPlan.nonConstBufferSizes)
        b.add(offset: devices, slot: Slot.ExecutionPlan.nonConstBufferDevice)
        return b.endTable()
    }

    private mutating func containerMetadata(_ m: PTE.ContainerMetadata) -> Offset {
        let input = b.createString(m.encodedInpStr)
        let output = b.createString(m.encodedOutStr)
        b.startTable()
        b.add(offset: input, slot: Slot.ContainerMetadata.encodedInpStr)
        b.add(offset: output, slot: Slot.ContainerMetadata.encodedOutStr)
        return b.endTable()
    }

    private mutating func nonConstBufferDevice(_ d: PTE.NonConstBufferDevice) -> Offset {
        b.startTable()
        b.add(d.bufferIdx, default: 0, slot: Slot.NonConstBufferDevice.bufferIdx)
        b.add(d.deviceType.rawValue, default: 0, slot: Slot.NonConstBufferDevice.deviceType)
        b.add(d.deviceIndex, default: 0, slot: Slot.NonConstBufferDevice.deviceIndex)
        return b.endTable()
    }

    private mutating func operatorTable(_ o: PTE.Operator) -> Offset {
        let name = b.createString(o.name)
        let overload = b.createString(o.overload)
        b.startTable()
        b.add(offset: name, slot: Slot.Operator.name)
        b.add(offset: overload, slot: Slot.Operator.overload)
        return b.endTable()
    }

    private mutating func delegate(_ d: PTE.BackendDelegate) -> Offset {
        let id = b.createString(d.id)
        b.startTable()
        b.add(d.processed.index, default: 0, slot: Slot.BackendDelegateDataReference.index)
        b.add(d.processed.location.rawValue, default: 0, slot: Slot.BackendDelegateDataReference.location)
        let processed = b.endTable()
        let specs = tables(d.compileSpecs) { w, spec in
            let key = w.b.createString(spec.key)
            let value = w.b.createVector(spec.value)
            w.b.startTable()
            w.b.add(offset: key, slot: Slot.CompileSpec.key)
            w.b.add(offset: value, slot: Slot.CompileSpec.value)
            return w.b.endTable()
        }
        b.startTable()
        b.add(offset: id, slot: Slot.BackendDelegate.id)
        b.add(offset: processed, slot: Slot.BackendDelegate.processed)
        b.add(offset: specs, slot: Slot.BackendDelegate.compileSpecs)
        return b.endTable()
    }

    // MARK: Chains and instructions

    private mutating func chain(_ c: PTE.Chain) -> Offset {
        let inputs = b.createVector(c.inputs)
        let outputs = b.createVector(c.outputs)
        let instructions = tables(c.instructions) { $0.instruction($1) }
        let stacktrace = optionalTables(c.stacktrace) { $0.frameList($1) }
        b.startTable()
        b.add(offset: inputs, slot: Slot.Chain.inputs)
        b.add(offset: outputs, slot: Slot.Chain.outputs)
        b.add(offset: instructions, slot: Slot.Chain.instructions)
        b.add(offset: stacktrace, slot: Slot.Chain.stacktrace)
        return b.endTable()
    }

    /// A call table of two 32-bit fields, the second optionally an `args` vector.
    private mutating func call(_ first: Int32, _ second: Int32?, args: [Int32]?) -> Offset {
        let vector = args.map { b.createVector($0) }
        b.startTable()
        b.add(offset: vector, slot: Slot.Call.second)
        if let second { b.add(second, default: 0, slot: Slot.Call.second) }
        b.add(first, default: 0, slot: Slot.Call.first)
        return b.endTable()
    }

    private mutating func instruction(_ i: PTE.Instruction) -> Offset {
        let value: Offset
        switch i {
        case let .kernelCall(opIndex, args): value = call(opIndex, nil, args: args)
        case let .delegateCall(delegateIndex, args): value = call(delegateIndex, nil, args: args)
        case let .moveCall(from, to): value = call(from, to, args: nil)
        case let .jumpFalseCall(cond, destination): value = call(cond, destination, args: nil)
        case let .freeCall(valueIndex): value = call(valueIndex, nil, args: nil)
        }
        b.startTable()
        b.addUnion(type: i.unionTag, value: value, slot: Slot.Instruction.instrArgs)
        return b.endTable()
    }

    private mutating func frameList(_ list: PTE.FrameList) -> Offset {
        let items = tables(list.items) { w, frame in
            let filename = frame.filename.map { w.b.createString($0) }
            let name = frame.name.map { w.b.createString($0) }
            let context = frame.context.map { w.b.createString($0) }
            w.b.startTable()
            w.b.add(offset: filename, slot: Slot.Frame.filename)
            w.b.add(offset: name, slot: Slot.Frame.name)
            w.b.add(offset: context, slot: Slot.Frame.context)
            w.b.add(frame.lineno, default: 0, slot: Slot.Frame.lineno)
            return w.b.endTable()
        }
        b.startTable()
        b.add(offset: items, slot: Slot.FrameList.items)
        return b.endTable()
    }

    // MARK: Values

    private mutating func evalue(_ v: PTE.EValue) -> Offset {
        let value: Offset
        switch v {
        case .null:
            b.startTable()
            value = b.endTable()
        case .int(let x):
            b.startTable()
            b.add(x, default: 0, slot: Slot.only)
            value = b.endTable()
        case .bool(let x):
            b.startTable()
            b.add(x, default: false, slot: Slot.only)
            value = b.endTable()
        case .double(let x):
            b.startTable()
            b.add(x, default: 0, slot: Slot.only)
            value = b.endTable()
        case .tensor(let t):
            value = tensor(t)
        case .string(let s):
            value = single(b.createString(s))
        case .intList(let items):
            value = single(b.createVector(items))
        case .doubleList(let items):
            value = single(b.createVector(items))
        case .boolList(let items):
            value = single(b.createVector(items))
        case .tensorList(let items), .optionalTensorList(let items):
            value = single(b.createVector(items))
        }
        b.startTable()
        b.addUnion(type: v.unionTag, value: value, slot: Slot.EValue.val)
        return b.endTable()
    }

    /// A table whose only field is the reference `offset`.
    private mutating func single(_ offset: Offset) -> Offset {
        b.startTable()
        b.add(offset: offset, slot: Slot.only)
        return b.endTable()
    }

    private mutating func tensor(_ t: PTE.Tensor) -> Offset {
        let sizes = b.createVector(t.sizes)
        let dimOrder = b.createVector(t.dimOrder)
        let allocation = t.allocationInfo.map { a -> Offset in
            b.startTable()
            b.add(a.memoryID, default: 0, slot: Slot.AllocationDetails.memoryID)
            b.add(a.memoryOffsetLow, default: 0, slot: Slot.AllocationDetails.memoryOffsetLow)
            b.add(a.memoryOffsetHigh, default: 0, slot: Slot.AllocationDetails.memoryOffsetHigh)
            return b.endTable()
        }
        let extra = t.extraTensorInfo.map { e -> Offset in
            let name = e.fullyQualifiedName.map { b.createString($0) }
            b.startTable()
            b.add(e.mutableDataSegmentsIdx, default: 0, slot: Slot.ExtraTensorInfo.mutableDataSegmentsIdx)
            b.add(offset: name, slot: Slot.ExtraTensorInfo.fullyQualifiedName)
            b.add(e.location.rawValue, default: 0, slot: Slot.ExtraTensorInfo.location)
            b.add(e.deviceType.rawValue, default: 0, slot: Slot.ExtraTensorInfo.deviceType)
            b.add(e.deviceIndex, default: 0, slot: Slot.ExtraTensorInfo.deviceIndex)
            return b.endTable()
        }
        b.startTable()
        b.add(offset: sizes, slot: Slot.Tensor.sizes)
        b.add(offset: dimOrder, slot: Slot.Tensor.dimOrder)
        b.add(offset: allocation, slot: Slot.Tensor.allocationInfo)
        b.add(offset: extra, slot: Slot.Tensor.extraTensorInfo)
        b.add(t.storageOffset, default: 0, slot: Slot.Tensor.storageOffset)
        b.add(t.dataBufferIdx, default: 0, slot: Slot.Tensor.dataBufferIdx)
        b.add(t.scalarType.rawValue, default: 0, slot: Slot.Tensor.scalarType)
        b.add(t.requiresGrad, default: false, slot: Slot.Tensor.requiresGrad)
        b.add(t.layout, default: 0, slot: Slot.Tensor.layout)
        b.add(t.shapeDynamism.rawValue, default: 0, slot: Slot.Tensor.shapeDynamism)
        return b.endTable()
    }
}
