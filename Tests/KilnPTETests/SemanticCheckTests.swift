import KilnPTE
import Testing

/// One case per semantic check: a program that is well-formed FlatBuffers but means something
/// impossible, rejected with the place and the expected range.
@Suite struct SemanticCheckTests {
    /// The rich program with method 0 changed by `change`.
    func plan(_ change: (inout PTE.ExecutionPlan) -> Void) -> PTEFile {
        var file = RichProgram.file()
        change(&file.program.executionPlan[0])
        return file
    }

    /// The rich program with `change` applied to the whole file.
    func file(_ change: (inout PTEFile) -> Void) -> PTEFile {
        var file = RichProgram.file()
        change(&file)
        return file
    }

    func setTensor(_ index: Int, _ change: @escaping (inout PTE.Tensor) -> Void) -> PTEFile {
        plan { plan in
            guard case .tensor(var t) = plan.values[index] else { fatalError("value \(index) is no tensor") }
            change(&t)
            plan.values[index] = .tensor(t)
        }
    }

    let p = "execution_plan[0]"

    @Test func richProgramPasses() throws {
        #expect(decodeError(try RichProgram.bytes()) == nil)
    }

    // MARK: Value indices

    @Test func methodInputsAndOutputs() throws {
        try expectRejected(plan { $0.inputs = [24] }, .index, "index 24 is out of range 0..<24 (execution_plan[0].values)",
                           location: "\(p).inputs[0]")
        try expectRejected(plan { $0.outputs = [3, -1] }, .index, "index -1 is out of range 0..<24", location: "\(p).outputs[1]")
    }

    @Test func chainInputsAndOutputs() throws {
        try expectRejected(plan { $0.chains[0].inputs = [0, 99] }, .index, "out of range 0..<24",
                           location: "\(p).chains[0].inputs[1]")
        try expectRejected(plan { $0.chains[0].outputs = [Int32.max] }, .index, "out of range 0..<24",
                           location: "\(p).chains[0].outputs[0]")
    }

    @Test func kernelCall() throws {
        try expectRejected(plan { $0.chains[0].instructions[0] = .kernelCall(opIndex: 2, args: []) }, .index,
                           "index 2 is out of range 0..<2 (execution_plan[0].operators)",
                           location: "\(p).chains[0].instructions[0].instr_args.op_index")
        try expectRejected(plan { $0.chains[0].instructions[0] = .kernelCall(opIndex: 0, args: [0, 40]) }, .index,
                           "index 40 is out of range 0..<24", location: "\(p).chains[0].instructions[0].instr_args.args[1]")
    }

    @Test func delegateCall() throws {
        try expectRejected(plan { $0.chains[0].instructions[1] = .delegateCall(delegateIndex: -1, args: []) }, .index,
                           "index -1 is out of range 0..<2 (execution_plan[0].delegates)",
                           location: "\(p).chains[0].instructions[1].instr_args.delegate_index")
        try expectRejected(plan { $0.chains[0].instructions[1] = .delegateCall(delegateIndex: 0, args: [24]) }, .index,
                           "out of range 0..<24", location: "\(p).chains[0].instructions[1].instr_args.args[0]")
    }

    @Test func moveCall() throws {
        try expectRejected(plan { $0.chains[0].instructions[3] = .moveCall(moveFrom: 30, moveTo: 0) }, .index,
                           "out of range 0..<24", location: "\(p).chains[0].instructions[3].instr_args.move_from")
        try expectRejected(plan { $0.chains[0].instructions[3] = .moveCall(moveFrom: 0, moveTo: 30) }, .index,
                           "out of range 0..<24", location: "\(p).chains[0].instructions[3].instr_args.move_to")
    }

    @Test func jumpFalseCall() throws {
        let at = "\(p).chains[0].instructions[4].instr_args"
        try expectRejected(plan { $0.chains[0].instructions[4] = .jumpFalseCall(condValueIndex: 19, destinationInstruction: 7) },
                           .index, "index 7 is out of range 0..<7 (execution_plan[0].chains[0].instructions)",
                           location: "\(at).destination_instruction")
        try expectRejected(plan { $0.chains[0].instructions[4] = .jumpFalseCall(condValueIndex: 50, destinationInstruction: 0) },
                           .index, "out of range 0..<24", location: "\(at).cond_value_index")
        try expectRejected(plan { $0.chains[0].instructions[4] = .jumpFalseCall(condValueIndex: 4, destinationInstruction: 0) },
                           .semantic, "value 4 is Int, expected Bool or Tensor", location: "\(at).cond_value_index")
        // A bool tensor is a valid condition.
        #expect(decodeError(try plan { $0.chains[0].instructions[4] = .jumpFalseCall(condValueIndex: 0, destinationInstruction: 0) }
            .serialized()) == nil)
    }

    @Test func freeCall() throws {
        try expectRejected(plan { $0.chains[0].instructions[5] = .freeCall(valueIndex: 24) }, .index,
                           "out of range 0..<24", location: "\(p).chains[0].instructions[5].instr_args.value_index")
    }

    // MARK: Lists

    @Test func intListItemsAreIntValues() throws {
        try expectRejected(plan { $0.values[6] = .intList([4, 99]) }, .index, "out of range 0..<24",
                           location: "\(p).values[6].int_list.items[1]")
        try expectRejected(plan { $0.values[6] = .intList([4, 0]) }, .semantic, "value 0 is Tensor, expected Int",
                           location: "\(p).values[6].int_list.items[1]")
    }

    @Test func tensorListItemsAreTensorValues() throws {
        try expectRejected(plan { $0.values[12] = .tensorList([0, 4]) }, .semantic, "value 4 is Int, expected Tensor",
                           location: "\(p).values[12].tensor_list.items[1]")
        try expectRejected(plan { $0.values[12] = .tensorList([-1]) }, .index, "index -1 is out of range",
                           location: "\(p).values[12].tensor_list.items[0]")
    }

    @Test func optionalTensorListItemsAreTensorsNullsOrMinusOne() throws {
        try expectRejected(plan { $0.values[14] = .optionalTensorList([-1, 5]) }, .semantic,
                           "value 5 is Int, expected Null or Tensor", location: "\(p).values[14].optional_tensor_list.items[1]")
        try expectRejected(plan { $0.values[14] = .optionalTensorList([-2]) }, .index, "index -2 is out of range",
                           location: "\(p).values[14].optional_tensor_list.items[0]")
    }

    // MARK: Tensors

    @Test func negativeSize() throws {
        try expectRejected(setTensor(3) { $0.sizes = [1, -3] }, .semantic, "size -3 is negative",
                           location: "\(p).values[3].tensor.sizes[1]")
    }

    @Test func dimOrderIsAPermutation() throws {
        try expectRejected(setTensor(3) { $0.dimOrder = [0] }, .semantic, "dim_order has 1 entries for a tensor of rank 2",
                           location: "\(p).values[3].tensor.dim_order")
        try expectRejected(setTensor(16) { $0.dimOrder = [0, 2, 2] }, .semantic, "dim_order [0, 2, 2] is not a permutation of 0..<3",
                           location: "\(p).values[16].tensor.dim_order")
        try expectRejected(setTensor(16) { $0.dimOrder = [0, 1, 3] }, .semantic, "is not a permutation",
                           location: "\(p).values[16].tensor.dim_order")
    }

    @Test func byteCountOverflow() throws {
        try expectRejected(setTensor(3) { $0.sizes = [Int32.max, Int32.max, Int32.max]; $0.dimOrder = [0, 1, 2] }, .semantic,
                           "sizes [2147483647, 2147483647, 2147483647] × 4 bytes overflow", location: "\(p).values[3].tensor.sizes")
    }

    /// 2^40 elements: no overflow, but the bytes fit neither the arena nor the segment.
    @Test func tensorClaimingTwoToTheFortyElements() throws {
        let huge: [Int32] = [1 << 20, 1 << 20]
        try expectRejected(setTensor(3) { $0.sizes = huge }, .semantic,
                           "4398046511104 bytes at offset 64 do not fit arena 1 (256 bytes)",
                           location: "\(p).values[3].tensor.allocation_info")
        try expectRejected(setTensor(1) { $0.sizes = huge }, .semantic,
                           "4398046511104 bytes of data at offset 0 do not fit their segment (76 bytes)",
                           location: "\(p).values[1].tensor.data_buffer_idx")
        // An input whose memory the caller provides may claim it: nothing is allocated from the file.
        #expect(decodeError(try setTensor(3) { $0.sizes = huge; $0.allocationInfo = nil }.serialized()) == nil)
    }

    @Test func plannedTensors() throws {
        try expectRejected(setTensor(0) { $0.allocationInfo = PTE.AllocationDetails(memoryID: 0, offset: 0) }, .semantic,
                           "memory_id 0 is reserved; planned tensors use 1..<3",
                           location: "\(p).values[0].tensor.allocation_info.memory_id")
        try expectRejected(setTensor(0) { $0.allocationInfo = PTE.AllocationDetails(memoryID: 3, offset: 0) }, .index,
                           "index 3 is out of range 1..<3 (execution_plan[0].non_const_buffer_sizes)",
                           location: "\(p).values[0].tensor.allocation_info.memory_id")
        try expectRejected(setTensor(0) { $0.allocationInfo = PTE.AllocationDetails(memoryID: 1, offset: 250) }, .semantic,
                           "8 bytes at offset 250 do not fit arena 1 (256 bytes)",
                           location: "\(p).values[0].tensor.allocation_info")
        try expectRejected(setTensor(0) { $0.allocationInfo = PTE.AllocationDetails(memoryID: 1, offset: .max) }, .semantic,
                           "do not fit arena 1", location: "\(p).values[0].tensor.allocation_info")
        // Exactly filling the arena is fine.
        #expect(decodeError(try setTensor(0) { $0.allocationInfo = PTE.AllocationDetails(memoryID: 1, offset: 248) }
            .serialized()) == nil)
    }

    @Test func arenaSizes() throws {
        try expectRejected(plan { $0.nonConstBufferSizes[1] = -1 }, .semantic, "arena size -1 is negative",
                           location: "\(p).non_const_buffer_sizes[1]")
        try expectRejected(plan { $0.nonConstBufferDevice[1].bufferIdx = 3 }, .index,
                           "index 3 is out of range 0..<3 (non_const_buffer_sizes)",
                           location: "\(p).non_const_buffer_device[1].buffer_idx")
    }

    @Test func constants() throws {
        try expectRejected(setTensor(2) { $0.dataBufferIdx = 3 }, .index, "index 3 is out of range 1..<3 (constant_segment.offsets)",
                           location: "\(p).values[2].tensor.data_buffer_idx")
        try expectRejected(setTensor(2) { $0.sizes = [4] }, .semantic, "16 bytes of data at offset 64 do not fit their segment (76 bytes)",
                           location: "\(p).values[2].tensor.data_buffer_idx")
        try expectRejected(file { $0.program.constantSegment?.offsets[2] = 77 }, .semantic,
                           "offset 77 is past the end of its segment (76 bytes)", location: "constant_segment.offsets[2]")
        try expectRejected(file { $0.program.constantSegment?.segmentIndex = 4 }, .index,
                           "segment 4 is out of range 0..<4 (segments)", location: "constant_segment.segment_index")
        try expectRejected(file { $0.program.constantBuffer = [PTE.Buffer(), PTE.Buffer(storage: [1])] }, .semantic,
                           "both constant_buffer (2 entries) and constant_segment.offsets are set", location: "constant_buffer")
    }

    @Test func legacyConstantBuffer() throws {
        func legacy(_ storage: [UInt8], index: UInt32) -> PTEFile {
            let plan = PTE.ExecutionPlan(name: "f", values: [RichProgram.tensor(.int, [2], data: index)])
            return PTEFile(program: PTE.Program(executionPlan: [plan], constantBuffer: [PTE.Buffer(), PTE.Buffer(storage: storage)]))
        }
        try expectRejected(legacy([1, 2, 3], index: 1), .semantic, "8 bytes of data do not fit constant_buffer[1] (3 bytes)",
                           location: "execution_plan[0].values[0].tensor.data_buffer_idx")
        try expectRejected(legacy([1, 2, 3], index: 2), .index, "index 2 is out of range 1..<2 (constant_buffer)",
                           location: "execution_plan[0].values[0].tensor.data_buffer_idx")
    }

    @Test func mutableData() throws {
        try expectRejected(setTensor(15) { $0.extraTensorInfo?.mutableDataSegmentsIdx = 1 }, .index,
                           "mutable data segment 1 is out of range 0..<1", location: "\(p).values[15].tensor.data_buffer_idx")
        try expectRejected(setTensor(15) { $0.dataBufferIdx = 2 }, .index,
                           "index 2 is out of range 0..<2 (mutable_data_segments[0].offsets)",
                           location: "\(p).values[15].tensor.data_buffer_idx")
        try expectRejected(setTensor(15) { $0.sizes = [2] }, .semantic, "16 bytes of data at offset 0 do not fit their segment (8 bytes)",
                           location: "\(p).values[15].tensor.data_buffer_idx")
        try expectRejected(file { $0.program.mutableDataSegments[0].segmentIndex = 9 }, .index,
                           "index 9 is out of range 0..<4 (segments)", location: "mutable_data_segments[0].segment_index")
        try expectRejected(file { $0.program.mutableDataSegments[0].offsets = [0, 9] }, .semantic,
                           "offset 9 is past the end of its segment (8 bytes)", location: "mutable_data_segments[0].offsets[1]")
    }

    @Test func externalTensorsNeedAName() throws {
        try expectRejected(setTensor(17) { $0.extraTensorInfo?.fullyQualifiedName = "" }, .semantic,
                           "an external tensor needs a fully_qualified_name", location: "\(p).values[17].tensor.extra_tensor_info")
    }

    // MARK: Delegates, segments, named data

    @Test func delegateData() throws {
        try expectRejected(plan { $0.delegates[1].processed.index = 1 }, .index,
                           "index 1 is out of range 0..<1 (backend_delegate_data)", location: "\(p).delegates[1].processed.index")
        try expectRejected(plan { $0.delegates[0].processed.index = 4 }, .index,
                           "index 4 is out of range 0..<4 (segments)", location: "\(p).delegates[0].processed.index")
    }

    @Test func namedData() throws {
        try expectRejected(file { $0.program.namedData[0].segmentIndex = 4 }, .index, "index 4 is out of range 0..<4 (segments)",
                           location: "named_data[0].segment_index")
        try expectRejected(file { $0.program.namedData.append($0.program.namedData[0]) }, .semantic,
                           "key \"shared_weights\" appears more than once", location: "named_data[1].key")
    }

    @Test func errorDescriptionNamesFileLocationAndRange() throws {
        let error = try #require(decodeError(try plan { $0.inputs = [24] }.serialized()))
        #expect("\(error)" == "test.pte: execution_plan[0].inputs[0]: index 24 is out of range 0..<24 (execution_plan[0].values)")
        #expect(error.code == 0x30)
    }
}
