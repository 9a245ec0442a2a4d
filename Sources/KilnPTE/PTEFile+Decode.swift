import KilnTensor

extension PTEFile {
    /// Reads a `.pte` file into values, after verifying it (the FlatBuffers verifier, then
    /// ``SemanticChecks``). Segment payloads are copied out of `bytes`.
    ///
    /// ```swift
    /// let file = try PTEFile(decoding: bytes, path: "model.pte")
    /// print(file.program.executionPlan[0].name)
    /// ```
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - path: the file's name, for messages.
    /// - Throws: ``PTEError`` naming the file and the place in the program at fault.
    public init(decoding bytes: UnsafeRawBufferPointer, path: String? = nil) throws(PTEError) {
        try self.init(PTEProgramView(file: bytes, path: path))
    }

    /// Copies an opened program into values (segment payloads included). Verification is
    /// whatever `view` was opened with.
    public init(_ view: PTEProgramView) throws(PTEError) {
        do {
            self = try ProgramDecoder.decode(view)
        } catch {
            throw error.inFile(view.path)
        }
    }

    /// Reads a `.pte` file held in an array; see the `UnsafeRawBufferPointer` overload.
    public init(decoding bytes: [UInt8], path: String? = nil) throws(PTEError) {
        var result: Result<PTEFile, PTEError> = .failure(PTEError(.io, "unreachable"))
        bytes.withUnsafeBytes { raw in
            do throws(PTEError) {
                result = .success(try PTEFile(decoding: raw, path: path))
            } catch {
                result = .failure(error)
            }
        }
        self = try result.get()
    }

    /// Reads and decodes the file at `path`.
    /// - Throws: ``PTEError`` `.io` when the file cannot be read, else as `init(decoding:path:)`.
    public init(contentsOf path: String) throws(PTEError) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw PTEError(.io, (error as? TensorError)?.message ?? "\(error)", path: path)
        }
        try self.init(decoding: file.bytes, path: path)
        withExtendedLifetime(file) {}
    }
}

/// Copies a verified ``PTEProgramView`` into ``PTE`` values.
enum ProgramDecoder {
    static func decode(_ view: PTEProgramView) throws(PTEError) -> PTEFile {
        var program = PTE.Program(version: view.version)
        for index in 0..<view.executionPlans.count {
            program.executionPlan.append(try plan(view.executionPlans.element(at: index)))
        }
        for index in 0..<view.constantBuffers.count {
            program.constantBuffer.append(PTE.Buffer(storage: Array(try view.constantBuffers.element(at: index).bytes)))
        }
        for index in 0..<view.delegateData.count {
            program.backendDelegateData.append(
                PTE.BackendDelegateInlineData(data: Array(try view.delegateData.element(at: index).bytes)))
        }
        program.segments = try view.segments.elements()
        program.constantSegment = view.constantSegment.map(subsegmentOffsets)
        program.mutableDataSegments = try view.mutableDataSegments.elements().map(subsegmentOffsets)
        program.namedData = try view.namedData.elements()
        var segments: [[UInt8]] = []
        segments.reserveCapacity(program.segments.count)
        for index in 0..<program.segments.count {
            segments.append(Array(try view.segmentBytes(index)))
        }
        return PTEFile(program: program, segments: segments)
    }

    private static func subsegmentOffsets(_ view: PTESubsegmentOffsetsView) -> PTE.SubsegmentOffsets {
        PTE.SubsegmentOffsets(segmentIndex: view.segmentIndex, offsets: Array(view.offsets))
    }

    private static func plan(_ view: PTEExecutionPlanView) throws(PTEError) -> PTE.ExecutionPlan {
        var plan = PTE.ExecutionPlan(name: view.name, containerMetaType: view.containerMetaType,
                                     inputs: Array(view.inputs), outputs: Array(view.outputs),
                                     operators: try view.operators.elements(),
                                     nonConstBufferSizes: Array(view.nonConstBufferSizes),
                                     nonConstBufferDevice: try view.nonConstBufferDevice.elements())
        plan.values.reserveCapacity(view.values.count)
        for index in 0..<view.values.count {
            plan.values.append(value(try view.values.element(at: index)))
        }
        for index in 0..<view.chains.count {
            let chain = try view.chains.element(at: index)
            var instructions: [PTE.Instruction] = []
            instructions.reserveCapacity(chain.instructions.count)
            for position in 0..<chain.instructions.count {
                instructions.append(instruction(try chain.instructions.element(at: position)))
            }
            plan.chains.append(PTE.Chain(inputs: Array(chain.inputs), outputs: Array(chain.outputs),
                                         instructions: instructions, stacktrace: try chain.stacktrace.elements()))
        }
        for index in 0..<view.delegates.count {
            let delegate = try view.delegates.element(at: index)
            let specs = try delegate.compileSpecs.elements().map { PTE.CompileSpec(key: $0.key, value: Array($0.value)) }
            plan.delegates.append(PTE.BackendDelegate(id: delegate.id, processed: delegate.processed, compileSpecs: specs))
        }
        return plan
    }

    private static func value(_ view: PTEValueView) -> PTE.EValue {
        switch view {
        case .null: return .null
        case .int(let x): return .int(x)
        case .bool(let x): return .bool(x)
        case .double(let x): return .double(x)
        case .tensor(let t): return .tensor(tensor(t))
        case .string(let s): return .string(s)
        case .intList(let items): return .intList(Array(items))
        case .doubleList(let items): return .doubleList(Array(items))
        case .boolList(let items): return .boolList(Array(items))
        case .tensorList(let items): return .tensorList(Array(items))
        case .optionalTensorList(let items): return .optionalTensorList(Array(items))
        }
    }

    private static func tensor(_ view: PTETensorView) -> PTE.Tensor {
        PTE.Tensor(scalarType: view.scalarType, storageOffset: view.storageOffset, sizes: Array(view.sizes),
                   dimOrder: Array(view.dimOrder), requiresGrad: view.requiresGrad, dataBufferIdx: view.dataBufferIdx,
                   allocationInfo: view.allocationInfo, layout: view.layout, shapeDynamism: view.shapeDynamism,
                   extraTensorInfo: view.extraTensorInfo)
    }

    private static func instruction(_ view: PTEInstructionView) -> PTE.Instruction {
        switch view {
        case let .kernelCall(opIndex, args): return .kernelCall(opIndex: opIndex, args: Array(args))
        case let .delegateCall(delegateIndex, args): return .delegateCall(delegateIndex: delegateIndex, args: Array(args))
        case let .moveCall(from, to): return .moveCall(moveFrom: from, moveTo: to)
        case let .jumpFalseCall(cond, destination): return .jumpFalseCall(condValueIndex: cond, destinationInstruction: destination)
        case let .freeCall(valueIndex): return .freeCall(valueIndex: valueIndex)
        }
    }
}
