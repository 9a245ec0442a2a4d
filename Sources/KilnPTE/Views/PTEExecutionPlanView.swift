/// One method (`ExecutionPlan`) read in place.
///
/// ```swift
/// let plan = try program.executionPlans.element(at: 0)
/// for i in 0..<plan.chains.count { let chain = try plan.chains.element(at: i) }
/// ```
public struct PTEExecutionPlanView: PTETableElement {
    /// This plan's place in the program, `execution_plan[i]`.
    public let path: String
    public let name: String
    public let containerMetaType: PTE.ContainerMetadata?
    public let values: PTETableList<PTEValueView>
    /// Value indices of the method's inputs and outputs.
    public let inputs: FBVector<Int32>
    public let outputs: FBVector<Int32>
    public let chains: PTETableList<PTEChainView>
    public let operators: PTETableList<PTE.Operator>
    public let delegates: PTETableList<PTEDelegateView>
    /// Arena sizes by memory id (entry 0 reserved).
    public let nonConstBufferSizes: FBVector<Int64>
    public let nonConstBufferDevice: PTETableList<PTE.NonConstBufferDevice>

    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        let path = path.description
        self.path = path
        let empty = FBVector<Int32>(emptyIn: table.buffer)
        name = try table.string(Slot.ExecutionPlan.name, name: "name") ?? ""
        if let meta = try table.table(Slot.ExecutionPlan.containerMetaType, name: "container_meta_type") {
            do {
                containerMetaType = PTE.ContainerMetadata(
                    encodedInpStr: try meta.string(Slot.ContainerMetadata.encodedInpStr, name: "encoded_inp_str") ?? "",
                    encodedOutStr: try meta.string(Slot.ContainerMetadata.encodedOutStr, name: "encoded_out_str") ?? "")
            } catch {
                throw error.at("container_meta_type")
            }
        } else {
            containerMetaType = nil
        }
        values = try PTETableList(table, Slot.ExecutionPlan.values, "values", in: path)
        inputs = try table.vector(Slot.ExecutionPlan.inputs, name: "inputs") ?? empty
        outputs = try table.vector(Slot.ExecutionPlan.outputs, name: "outputs") ?? empty
        chains = try PTETableList(table, Slot.ExecutionPlan.chains, "chains", in: path)
        operators = try PTETableList(table, Slot.ExecutionPlan.operators, "operators", in: path)
        delegates = try PTETableList(table, Slot.ExecutionPlan.delegates, "delegates", in: path)
        nonConstBufferSizes = try table.vector(Slot.ExecutionPlan.nonConstBufferSizes, name: "non_const_buffer_sizes")
            ?? FBVector(emptyIn: table.buffer)
        nonConstBufferDevice = try PTETableList(table, Slot.ExecutionPlan.nonConstBufferDevice, "non_const_buffer_device", in: path)
    }
}

/// A chain of instructions read in place.
public struct PTEChainView: PTETableElement {
    public let path: String
    public let inputs: FBVector<Int32>
    public let outputs: FBVector<Int32>
    public let instructions: PTETableList<PTEInstructionView>
    /// One frame list per instruction, or empty.
    public let stacktrace: PTETableList<PTE.FrameList>

    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        let path = path.description
        self.path = path
        let empty = FBVector<Int32>(emptyIn: table.buffer)
        inputs = try table.vector(Slot.Chain.inputs, name: "inputs") ?? empty
        outputs = try table.vector(Slot.Chain.outputs, name: "outputs") ?? empty
        instructions = try PTETableList(table, Slot.Chain.instructions, "instructions", in: path)
        stacktrace = try PTETableList(table, Slot.Chain.stacktrace, "stacktrace", in: path)
    }
}

/// One instruction read in place (call arguments are a vector into the file).
public enum PTEInstructionView: PTETableElement {
    case kernelCall(opIndex: Int32, args: FBVector<Int32>)
    case delegateCall(delegateIndex: Int32, args: FBVector<Int32>)
    case moveCall(moveFrom: Int32, moveTo: Int32)
    case jumpFalseCall(condValueIndex: Int32, destinationInstruction: Int32)
    case freeCall(valueIndex: Int32)

    /// The `InstructionArguments` tags this reader knows.
    public static let knownTags = PTE.InstructionTag.known

    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        guard let (tag, call) = try table.union(Slot.Instruction.instrArgs, name: "instr_args") else {
            throw PTEError(.unionTag, "instruction has no type (InstructionArguments NONE)", location: "instr_args_type")
        }
        let first = Slot.Call.first, second = Slot.Call.second
        func args() throws(PTEError) -> FBVector<Int32> {
            try call.vector(second, name: "args") ?? FBVector(emptyIn: call.buffer)
        }
        guard let kind = PTE.InstructionTag(rawValue: tag) else {
            throw PTEError(.unionTag, "instruction type \(tag) is not an InstructionArguments member "
                           + "(expected \(Self.knownTags))", location: "instr_args_type")
        }
        do throws(PTEError) {
            switch kind {
            case .kernelCall: self = .kernelCall(opIndex: try call.scalar(first, default: 0, name: "op_index"), args: try args())
            case .delegateCall: self = .delegateCall(delegateIndex: try call.scalar(first, default: 0, name: "delegate_index"),
                                         args: try args())
            case .moveCall: self = .moveCall(moveFrom: try call.scalar(first, default: 0, name: "move_from"),
                                     moveTo: try call.scalar(second, default: 0, name: "move_to"))
            case .jumpFalseCall: self = .jumpFalseCall(condValueIndex: try call.scalar(first, default: 0, name: "cond_value_index"),
                                          destinationInstruction: try call.scalar(second, default: 0,
                                                                                  name: "destination_instruction"))
            case .freeCall: self = .freeCall(valueIndex: try call.scalar(first, default: 0, name: "value_index"))
            }
        } catch {
            throw error.location == "instr_args_type" ? error : error.at("instr_args")
        }
    }

    /// The call's name as in `program.fbs`, for messages.
    public var kindName: String {
        switch self {
        case .kernelCall: return "KernelCall"
        case .delegateCall: return "DelegateCall"
        case .moveCall: return "MoveCall"
        case .jumpFalseCall: return "JumpFalseCall"
        case .freeCall: return "FreeCall"
        }
    }
}

/// A backend delegate read in place; its compile specs' values are bytes in the file.
public struct PTEDelegateView: PTETableElement {
    public let path: String
    /// The backend's id (its runtime registers under the same name).
    public let id: String
    public let processed: PTE.BackendDelegateDataReference
    public let compileSpecs: PTETableList<PTECompileSpecView>

    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        let path = path.description
        self.path = path
        id = try table.string(Slot.BackendDelegate.id, name: "id") ?? ""
        guard let reference = try table.table(Slot.BackendDelegate.processed, name: "processed") else {
            throw PTEError(.flatbuffer, "delegate has no processed data reference", location: "processed")
        }
        do throws(PTEError) {
            processed = PTE.BackendDelegateDataReference(
                location: try enumField(reference, Slot.BackendDelegateDataReference.location, "location", default: .inline),
                index: try reference.scalar(Slot.BackendDelegateDataReference.index, default: 0, name: "index"))
        } catch {
            throw error.at("processed")
        }
        compileSpecs = try PTETableList(table, Slot.BackendDelegate.compileSpecs, "compile_specs", in: path)
    }
}

/// One compile spec: a key and its value bytes (in the file).
public struct PTECompileSpecView: PTETableElement {
    public let key: String
    public let value: UnsafeRawBufferPointer

    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        key = try table.string(Slot.CompileSpec.key, name: "key") ?? ""
        value = try table.bytes(Slot.CompileSpec.value, name: "value") ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }
}

// Small tables read whole into their model values.

extension PTE.Operator: PTETableElement {
    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        self.init(name: try table.string(Slot.Operator.name, name: "name") ?? "",
                  overload: try table.string(Slot.Operator.overload, name: "overload") ?? "")
    }
}

extension PTE.NonConstBufferDevice: PTETableElement {
    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        self.init(bufferIdx: try table.scalar(Slot.NonConstBufferDevice.bufferIdx, default: 0, name: "buffer_idx"),
                  deviceType: try enumField(table, Slot.NonConstBufferDevice.deviceType, "device_type", default: .cpu),
                  deviceIndex: try table.scalar(Slot.NonConstBufferDevice.deviceIndex, default: 0, name: "device_index"))
    }
}

extension PTE.Frame: PTETableElement {
    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        self.init(filename: try table.string(Slot.Frame.filename, name: "filename"),
                  lineno: try table.scalar(Slot.Frame.lineno, default: 0, name: "lineno"),
                  name: try table.string(Slot.Frame.name, name: "name"),
                  context: try table.string(Slot.Frame.context, name: "context"))
    }
}

extension PTE.FrameList: PTETableElement {
    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        let frames = try PTETableList<PTE.Frame>(table, Slot.FrameList.items, "items", in: "")
        self.init(items: try frames.elements())
    }
}
