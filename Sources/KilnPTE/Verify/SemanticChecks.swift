/// Kiln's checks of a program's meaning, run after the FlatBuffers verifier has accepted its
/// structure. After these pass, the runtime can follow every index in the program without
/// further range checks, and every planned or constant tensor's bytes lie inside its arena or
/// segment.
///
/// What is checked:
/// - segments: each lies inside the file (offset + size overflow-checked); the constant and
///   mutable data segments' `segment_index` is in range and each offset inside its segment;
///   named data points at existing segments, keys are unique; `constant_buffer` and
///   `constant_segment.offsets` are not both used.
/// - per method: `inputs`/`outputs` and every chain's `inputs`/`outputs` are value indices;
///   `non_const_buffer_sizes` are non-negative and `non_const_buffer_device` points into them;
///   delegates point at existing inline data or segments.
/// - values: union tags and enums are known; `IntList` items are indices of `Int` values,
///   `TensorList` items of `Tensor` values, `OptionalTensorList` items of `Tensor` or `Null`
///   values or -1.
/// - tensors: known scalar type; sizes non-negative; `dim_order` a permutation of the dims;
///   element count × element size does not overflow; a planned tensor uses a memory id in
///   `1..<non_const_buffer_sizes.count` (0 is reserved) and its bytes fit that arena; a constant's
///   bytes fit its segment (or inline buffer); an initial value's bytes fit its mutable segment;
///   an external tensor has a name.
/// - instructions: operator, delegate and value indices in range; a `JumpFalseCall`'s condition
///   is a `Bool` or `Tensor` value and its destination an instruction of the same chain.
///
/// Errors name the place (`execution_plan[0].chains[0].instructions[4]`) and the expected range.
public enum SemanticChecks {
    /// Checks `program`; throws the first problem found.
    public static func check(_ program: PTEProgramView) throws(PTEError) {
        let checker = try Checker(program)
        try checker.checkProgramTables()
        for index in 0..<program.executionPlans.count {
            try checker.checkPlan(program.executionPlans.element(at: index))
        }
    }
}

private struct Checker {
    let program: PTEProgramView
    /// Sizes of `program.segments`, in order.
    let segmentSizes: [UInt64]
    let constantOffsets: FBVector<UInt64>?
    let constantSegmentSize: UInt64
    let mutableSegments: [PTESubsegmentOffsetsView]

    init(_ program: PTEProgramView) throws(PTEError) {
        self.program = program
        var sizes: [UInt64] = []
        for index in 0..<program.segments.count {
            let range = try program.segmentRange(index)
            sizes.append(UInt64(range.count))
        }
        segmentSizes = sizes
        if let constant = program.constantSegment, !constant.offsets.isEmpty {
            guard Int(constant.segmentIndex) < sizes.count else {
                throw PTEError(.index, "segment \(constant.segmentIndex) is out of range 0..<\(sizes.count) (segments)",
                               location: "constant_segment.segment_index")
            }
            constantOffsets = constant.offsets
            constantSegmentSize = sizes[Int(constant.segmentIndex)]
        } else {
            constantOffsets = nil
            constantSegmentSize = 0
        }
        mutableSegments = try program.mutableDataSegments.elements()
    }

    func checkProgramTables() throws(PTEError) {
        if let constantOffsets {
            guard program.constantBuffers.count == 0 else {
                throw PTEError(.semantic, "both constant_buffer (\(program.constantBuffers.count) entries) and "
                               + "constant_segment.offsets are set; a program uses one or the other",
                               location: "constant_buffer")
            }
            try checkOffsets(constantOffsets, segmentSize: constantSegmentSize, location: "constant_segment.offsets")
        }
        for (index, subsegment) in mutableSegments.enumerated() {
            let location = "mutable_data_segments[\(index)]"
            let segment = try segmentIndex(Int64(subsegment.segmentIndex), location: location + ".segment_index")
            try checkOffsets(subsegment.offsets, segmentSize: segmentSizes[segment], location: location + ".offsets")
        }
        var keys = Set<String>()
        for index in 0..<program.namedData.count {
            let entry = try program.namedData.element(at: index)
            _ = try segmentIndex(Int64(entry.segmentIndex), location: "named_data[\(index)].segment_index")
            guard keys.insert(entry.key).inserted else {
                throw PTEError(.semantic, "key \"\(entry.key)\" appears more than once", location: "named_data[\(index)].key")
            }
        }
        // Reading each inline buffer checks that its bytes lie inside the flatbuffer.
        _ = try program.constantBuffers.elements()
        _ = try program.delegateData.elements()
    }

    private func checkOffsets(_ offsets: FBVector<UInt64>, segmentSize: UInt64, location: String) throws(PTEError) {
        for (index, offset) in offsets.enumerated() where offset > segmentSize {
            throw PTEError(.semantic, "offset \(offset) is past the end of its segment (\(segmentSize) bytes)",
                           location: "\(location)[\(index)]")
        }
    }

    private func segmentIndex(_ index: Int64, location: @autoclosure () -> String) throws(PTEError) -> Int {
        try inRange(index, 0, segmentSizes.count, "segments", location: location())
    }

    // MARK: Methods

    func checkPlan(_ plan: PTEExecutionPlanView) throws(PTEError) {
        let path = plan.path
        let arenas = Array(plan.nonConstBufferSizes)
        for (index, size) in arenas.enumerated() where size < 0 {
            throw PTEError(.semantic, "arena size \(size) is negative", location: "\(path).non_const_buffer_sizes[\(index)]")
        }
        for index in 0..<plan.nonConstBufferDevice.count {
            let device = try plan.nonConstBufferDevice.element(at: index)
            _ = try inRange(Int64(device.bufferIdx), 0, arenas.count, "non_const_buffer_sizes",
                            location: "\(path).non_const_buffer_device[\(index)].buffer_idx")
        }
        let values = try plan.values.elements()
        let tags = values.map(\.tag)
        let context = PlanContext(path: path, tags: tags, arenas: arenas, operatorCount: plan.operators.count,
                                  delegateCount: plan.delegates.count)
        for (index, value) in values.enumerated() {
            try checkValue(value, context, location: "\(path).values[\(index)]")
        }
        try checkValueIndices(plan.inputs, context, location: "\(path).inputs")
        try checkValueIndices(plan.outputs, context, location: "\(path).outputs")
        _ = try plan.operators.elements()
        for index in 0..<plan.delegates.count {
            let delegate = try plan.delegates.element(at: index)
            let location = "\(path).delegates[\(index)].processed.index"
            switch delegate.processed.location {
            case .inline:
                _ = try inRange(Int64(delegate.processed.index), 0, program.delegateData.count, "backend_delegate_data",
                                location: location)
            case .segment:
                _ = try segmentIndex(Int64(delegate.processed.index), location: location)
            }
            _ = try delegate.compileSpecs.elements()
        }
        for index in 0..<plan.chains.count {
            try checkChain(plan.chains.element(at: index), context)
        }
    }

    private func checkChain(_ chain: PTEChainView, _ context: PlanContext) throws(PTEError) {
        try checkValueIndices(chain.inputs, context, location: "\(chain.path).inputs")
        try checkValueIndices(chain.outputs, context, location: "\(chain.path).outputs")
        let count = chain.instructions.count
        for index in 0..<count {
            let location = "\(chain.path).instructions[\(index)]"
            switch try chain.instructions.element(at: index) {
            case let .kernelCall(opIndex, args):
                _ = try inRange(Int64(opIndex), 0, context.operatorCount, "\(context.path).operators",
                                location: location + ".instr_args.op_index")
                try checkValueIndices(args, context, location: location + ".instr_args.args")
            case let .delegateCall(delegateIndex, args):
                _ = try inRange(Int64(delegateIndex), 0, context.delegateCount, "\(context.path).delegates",
                                location: location + ".instr_args.delegate_index")
                try checkValueIndices(args, context, location: location + ".instr_args.args")
            case let .moveCall(from, to):
                _ = try context.value(from, location: location + ".instr_args.move_from")
                _ = try context.value(to, location: location + ".instr_args.move_to")
            case let .jumpFalseCall(condition, destination):
                let value = try context.value(condition, location: location + ".instr_args.cond_value_index")
                try context.expect(value, kinds: [.bool, .tensor], index: condition, location: location + ".instr_args.cond_value_index")
                _ = try inRange(Int64(destination), 0, count, "\(chain.path).instructions",
                                location: location + ".instr_args.destination_instruction")
            case let .freeCall(valueIndex):
                _ = try context.value(valueIndex, location: location + ".instr_args.value_index")
            }
        }
        _ = try chain.stacktrace.elements()
    }

    private func checkValueIndices(_ indices: FBVector<Int32>, _ context: PlanContext, location: String) throws(PTEError) {
        for (position, index) in indices.enumerated() {
            _ = try context.value(index, location: "\(location)[\(position)]")
        }
    }

    // MARK: Values

    private func checkValue(_ value: PTEValueView, _ context: PlanContext, location: String) throws(PTEError) {
        switch value {
        case .tensor(let tensor):
            try checkTensor(tensor, context, location: location + ".tensor")
        case .intList(let items):
            for (position, item) in items.enumerated() {
                let itemLocation = "\(location).int_list.items[\(position)]"
                let tag = try context.value(item, location: itemLocation)
                try context.expect(tag, kinds: [.int], index: item, location: itemLocation)
            }
        case .tensorList(let items):
            for (position, item) in items.enumerated() {
                let itemLocation = "\(location).tensor_list.items[\(position)]"
                let tag = try context.value(item, location: itemLocation)
                try context.expect(tag, kinds: [.tensor], index: item, location: itemLocation)
            }
        case .optionalTensorList(let items):
            for (position, item) in items.enumerated() where item != -1 {
                let itemLocation = "\(location).optional_tensor_list.items[\(position)]"
                let tag = try context.value(item, location: itemLocation)
                try context.expect(tag, kinds: [.null, .tensor], index: item, location: itemLocation)
            }
        case .null, .int, .bool, .double, .string, .doubleList, .boolList:
            break
        }
    }

    private func checkTensor(_ tensor: PTETensorView, _ context: PlanContext, location: String) throws(PTEError) {
        let rank = tensor.sizes.count
        for (dim, size) in tensor.sizes.enumerated() where size < 0 {
            throw PTEError(.semantic, "size \(size) is negative", location: "\(location).sizes[\(dim)]")
        }
        guard tensor.dimOrder.count == rank else {
            throw PTEError(.semantic, "dim_order has \(tensor.dimOrder.count) entries for a tensor of rank \(rank)",
                           location: "\(location).dim_order")
        }
        var seen = [Bool](repeating: false, count: rank)
        for dim in tensor.dimOrder {
            guard Int(dim) < rank, !seen[Int(dim)] else {
                throw PTEError(.semantic, "dim_order \(Array(tensor.dimOrder)) is not a permutation of 0..<\(rank)",
                               location: "\(location).dim_order")
            }
            seen[Int(dim)] = true
        }
        guard let byteCount = tensor.byteCount else {
            throw PTEError(.semantic, "sizes \(Array(tensor.sizes)) × \(tensor.scalarType.elementSize) bytes overflow",
                           location: "\(location).sizes")
        }
        let bytes = UInt64(byteCount)
        if let allocation = tensor.allocationInfo {
            let memoryID = Int(allocation.memoryID)
            guard memoryID != 0 else {
                throw PTEError(.semantic, "memory_id 0 is reserved; planned tensors use 1..<\(context.arenas.count)",
                               location: "\(location).allocation_info.memory_id")
            }
            _ = try inRange(Int64(memoryID), 1, context.arenas.count, "\(context.path).non_const_buffer_sizes",
                            location: "\(location).allocation_info.memory_id")
            let arena = UInt64(context.arenas[memoryID])
            let (end, overflow) = allocation.offset.addingReportingOverflow(bytes)
            guard !overflow, end <= arena else {
                throw PTEError(.semantic, "\(bytes) bytes at offset \(allocation.offset) do not fit arena \(memoryID) "
                               + "(\(arena) bytes)", location: "\(location).allocation_info")
            }
        }
        guard tensor.dataBufferIdx > 0 else { return }
        let index = Int(tensor.dataBufferIdx)
        let dataLocation = "\(location).data_buffer_idx"
        if let extra = tensor.extraTensorInfo, extra.location == .external {
            guard let name = extra.fullyQualifiedName, !name.isEmpty else {
                throw PTEError(.semantic, "an external tensor needs a fully_qualified_name", location: "\(location).extra_tensor_info")
            }
            return
        }
        if tensor.allocationInfo != nil {
            // A planned tensor with an initial value in a mutable data segment.
            let which = Int(clamping: tensor.extraTensorInfo?.mutableDataSegmentsIdx ?? 0)
            guard which < mutableSegments.count else {
                throw PTEError(.index, "mutable data segment \(which) is out of range 0..<\(mutableSegments.count) "
                               + "(mutable_data_segments)", location: dataLocation)
            }
            let subsegment = mutableSegments[which]
            _ = try inRange(Int64(index), 0, subsegment.offsets.count, "mutable_data_segments[\(which)].offsets",
                            location: dataLocation)
            try fits(bytes, at: subsegment.offsets[index], segmentSizes[Int(subsegment.segmentIndex)], location: dataLocation)
        } else if let constantOffsets {
            _ = try inRange(Int64(index), 1, constantOffsets.count, "constant_segment.offsets", location: dataLocation)
            try fits(bytes, at: constantOffsets[index], constantSegmentSize, location: dataLocation)
        } else {
            _ = try inRange(Int64(index), 1, program.constantBuffers.count, "constant_buffer", location: dataLocation)
            let storage = try program.constantBuffers.element(at: index).bytes.count
            guard bytes <= UInt64(storage) else {
                throw PTEError(.semantic, "\(bytes) bytes of data do not fit constant_buffer[\(index)] (\(storage) bytes)",
                               location: dataLocation)
            }
        }
    }

    private func fits(_ bytes: UInt64, at offset: UInt64, _ segmentSize: UInt64, location: String) throws(PTEError) {
        let (end, overflow) = offset.addingReportingOverflow(bytes)
        guard !overflow, end <= segmentSize else {
            throw PTEError(.semantic, "\(bytes) bytes of data at offset \(offset) do not fit their segment "
                           + "(\(segmentSize) bytes)", location: location)
        }
    }
}

/// What value and instruction checks need to know about their method.
private struct PlanContext {
    let path: String
    /// The kind of each value.
    let tags: [PTE.KernelTypesTag]
    let arenas: [Int64]
    let operatorCount: Int
    let delegateCount: Int

    /// The tag of value `index`, after checking the index.
    func value<I: BinaryInteger>(_ index: I, location: @autoclosure () -> String) throws(PTEError) -> PTE.KernelTypesTag {
        tags[try inRange(Int64(clamping: index), 0, tags.count, "\(path).values", location: location())]
    }

    /// Checks that value `index` (of kind `tag`) is one of `kinds`.
    func expect<I: BinaryInteger>(_ tag: PTE.KernelTypesTag, kinds: [PTE.KernelTypesTag], index: I,
                                  location: String) throws(PTEError) {
        guard kinds.contains(tag) else {
            let expected = kinds.map(\.schemaName).joined(separator: " or ")
            throw PTEError(.semantic, "value \(index) is \(tag.schemaName), expected \(expected)",
                           location: location)
        }
    }
}

/// `index` as an Int when it is in `lower..<upper`; else an `.index` error naming the list.
private func inRange(_ index: Int64, _ lower: Int, _ upper: Int, _ list: String,
                     location: @autoclosure () -> String) throws(PTEError) -> Int {
    guard index >= Int64(lower), index < Int64(upper) else {
        throw PTEError(.index, "index \(index) is out of range \(lower)..<\(upper) (\(list))", location: location())
    }
    return Int(index)
}
