/// Vtable slots of `program.fbs`'s tables: each field's index in schema order, a union taking
/// two slots (its `_type` field, then its value). The writer and the views both use these, so
/// the layout is stated once.
enum Slot {
    enum Program { static let version = 0, executionPlan = 1, constantBuffer = 2, backendDelegateData = 3,
                   segments = 4, constantSegment = 5, mutableDataSegments = 6, namedData = 7 }
    enum ContainerMetadata { static let encodedInpStr = 0, encodedOutStr = 1 }
    enum AllocationDetails { static let memoryID = 0, memoryOffsetLow = 1, memoryOffsetHigh = 2 }
    enum ExtraTensorInfo { static let mutableDataSegmentsIdx = 0, fullyQualifiedName = 1, location = 2,
                           deviceType = 3, deviceIndex = 4 }
    enum Tensor { static let scalarType = 0, storageOffset = 1, sizes = 2, dimOrder = 3, requiresGrad = 4,
                  dataBufferIdx = 5, allocationInfo = 6, layout = 7, shapeDynamism = 8, extraTensorInfo = 9 }
    /// `Int.int_val`, `Bool.bool_val`, `Double.double_val`, `String.string_val` and the lists' `items`.
    static let only = 0
    /// `EValue.val` (type tag at 0, value at 1).
    enum EValue { static let val = 0 }
    enum Operator { static let name = 0, overload = 1 }
    /// KernelCall (op_index, args), DelegateCall (delegate_index, args), MoveCall (move_from,
    /// move_to), JumpFalseCall (cond_value_index, destination_instruction), FreeCall (value_index).
    enum Call { static let first = 0, second = 1 }
    /// `Instruction.instr_args` (type tag at 0, value at 1).
    enum Instruction { static let instrArgs = 0 }
    enum Frame { static let filename = 0, lineno = 1, name = 2, context = 3 }
    enum FrameList { static let items = 0 }
    enum BackendDelegateDataReference { static let location = 0, index = 1 }
    enum CompileSpec { static let key = 0, value = 1 }
    enum BackendDelegate { static let id = 0, processed = 1, compileSpecs = 2 }
    enum Chain { static let inputs = 0, outputs = 1, instructions = 2, stacktrace = 3 }
    enum ExecutionPlan { static let name = 0, containerMetaType = 1, values = 2, inputs = 3, outputs = 4,
                         chains = 5, operators = 6, delegates = 7, nonConstBufferSizes = 8,
                         nonConstBufferDevice = 9 }
    enum NonConstBufferDevice { static let bufferIdx = 0, deviceType = 1, deviceIndex = 2 }
    /// `Buffer.storage` and `BackendDelegateInlineData.data`.
    enum Buffer { static let storage = 0 }
    enum DataSegment { static let offset = 0, size = 1 }
    enum SubsegmentOffsets { static let segmentIndex = 0, offsets = 1 }
    enum NamedData { static let key = 0, segmentIndex = 1 }
}
