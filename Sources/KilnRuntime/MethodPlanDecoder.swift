import KilnOps
import KilnPTE
import KilnTensor

/// Builds a ``MethodPlan`` from a verified execution plan.
struct MethodPlanDecoder {
    let program: PTEProgramView
    let file: MappedFile
    let backends: BackendRegistry

    func decode(_ plan: PTEExecutionPlanView) throws(RuntimeError) -> MethodPlan {
        do {
            return try decodeChecked(plan)
        } catch let error as RuntimeError {
            throw error
        } catch let error as PTEError {
            throw RuntimeError(error)
        } catch {
            throw RuntimeError(.invalidProgram, "\(error)")
        }
    }

    /// One instruction of a chain, with its place and its stack-trace frame.
    private typealias RawInstruction = (chain: Int, index: Int, instruction: PTEInstructionView, frame: PTE.Frame?)

    private func decodeChecked(_ plan: PTEExecutionPlanView) throws -> MethodPlan {
        let method = "method \"\(plan.name)\""
        let (values, listItems) = try decodeValues(plan)
        let inputs = Array(plan.inputs).map(Int.init)
        let outputs = Array(plan.outputs).map(Int.init)
        try checkMemory(values, inputs: inputs, outputs: outputs, method: method)

        // The instructions of every chain, in order; jumps stay inside their chain.
        var raw: [RawInstruction] = []
        var chainStarts: [Int] = []
        for c in 0..<plan.chains.count {
            let chain = try plan.chains.element(at: c)
            chainStarts.append(raw.count)
            let frames = try chain.stacktrace.elements()
            for i in 0..<chain.instructions.count {
                let frame = frames.count == chain.instructions.count ? frames[i].items.first : nil
                raw.append((c, i, try chain.instructions.element(at: i), frame))
            }
        }
        let operators = try resolveOperators(plan, raw, method: method)
        let delegates = try resolveDelegates(plan, raw, method: method)

        var instructions: [InstructionSpec] = []
        var infos: [InstructionInfo] = []
        for (position, entry) in raw.enumerated() {
            var info = InstructionInfo(index: position, chain: entry.chain, indexInChain: entry.index, kind: .freeCall)
            if let frame = entry.frame {
                info.debugHandle = Int(frame.lineno)
                info.location = frame.context ?? frame.filename
            }
            switch entry.instruction {
            case let .kernelCall(opIndex, args):
                let op = operators[Int(opIndex)]
                info.kind = .kernelCall
                info.operatorName = op.pte.description
                info.opName = op.schema.name
                info.kernelName = op.entry.name
                let checker = KernelCallChecker(values: values, info: info, method: method)
                instructions.append(.kernel(try checker.check(op, args: Array(args).map(Int.init))))
            case let .delegateCall(delegateIndex, args):
                info.kind = .delegateCall
                info.delegateID = delegates[Int(delegateIndex)].id
                info.delegateIndex = Int(delegateIndex)
                instructions.append(.delegate(index: Int(delegateIndex), args: Array(args).map(Int.init)))
            case let .moveCall(from, to):
                info.kind = .moveCall
                instructions.append(.move(from: Int(from), to: Int(to)))
            case let .jumpFalseCall(condition, destination):
                info.kind = .jumpFalseCall
                if case .tensor(let t) = values[Int(condition)], t.dtype != .bool {
                    throw RuntimeError(.invalidProgram, "\(method): \(info): the condition %\(condition) is a "
                                       + "\(t.type) tensor, expected a bool tensor")
                }
                instructions.append(.jumpFalse(condition: Int(condition),
                                               destination: chainStarts[entry.chain] + Int(destination)))
            case let .freeCall(value):
                info.kind = .freeCall
                instructions.append(.free(value: Int(value)))
            }
            infos.append(info)
        }

        // What each call reads (directly or as an int list item), for the MoveCall check.
        var read: [Int: Int] = [:]
        for (position, entry) in raw.enumerated() {
            switch entry.instruction {
            case .kernelCall(_, let args), .delegateCall(_, let args):
                for arg in args.map(Int.init) {
                    for v in [arg] + (listItems[arg] ?? []) where read[v] == nil { read[v] = position }
                }
            default:
                break
            }
        }
        try checkMoves(instructions, infos: infos, values: values, read: read, method: method)
        return MethodPlan(name: plan.name, values: values, inputs: inputs, outputs: outputs,
                          arenaSizes: Array(plan.nonConstBufferSizes).map { Int($0) },
                          instructions: instructions, infos: infos, delegates: delegates)
    }

    /// Every value decoded, int lists dereferenced (their items are indices of Int values,
    /// checked by SemanticChecks); and each int list's item indices.
    private func decodeValues(_ plan: PTEExecutionPlanView) throws -> ([ValueSpec], [Int: [Int]]) {
        var values: [ValueSpec] = []
        values.reserveCapacity(plan.values.count)
        for index in 0..<plan.values.count {
            values.append(try value(try plan.values.element(at: index), index: index, plan: plan))
        }
        var listItems: [Int: [Int]] = [:]
        for (index, value) in values.enumerated() {
            guard case .intList(let items) = value else { continue }
            listItems[index] = items.map { Int($0) }
            var ints: [Int64] = []
            for item in items {
                guard case .int(let v) = values[Int(item)] else {
                    throw RuntimeError(.invalidProgram, "\(plan.path).values[\(index)]: int list item \(item) is not an Int")
                }
                ints.append(v)
            }
            values[index] = .intList(ints)
        }
        return (values, listItems)
    }

    /// Inputs and outputs are tensors, inputs not constants; every other tensor has bytes
    /// (planned or constant) or none at all.
    private func checkMemory(_ values: [ValueSpec], inputs: [Int], outputs: [Int], method: String) throws(RuntimeError) {
        for (position, index) in inputs.enumerated() {
            guard let spec = values[index].tensor else {
                throw RuntimeError(.unsupported, "\(method): input \(position) (%\(index)) is \(values[index].kindName); "
                                   + "Kiln's runtime takes tensor inputs only")
            }
            if spec.isConstant {
                throw RuntimeError(.unsupported, "\(method): input \(position) (%\(index)) is a constant tensor")
            }
        }
        for (position, index) in outputs.enumerated() where values[index].tensor == nil {
            throw RuntimeError(.unsupported, "\(method): output \(position) (%\(index)) is \(values[index].kindName); "
                               + "Kiln's runtime returns tensor outputs only")
        }
        let inputSet = Set(inputs)
        for (index, value) in values.enumerated() {
            guard let spec = value.tensor, case .unplanned = spec.memory, !inputSet.contains(index),
                  !spec.sizes.contains(0) else { continue }
            throw RuntimeError(.unsupported, "\(method): value %\(index) (\(spec.type)) has no memory: it is not planned, "
                               + "not a constant and not a method input")
        }
    }

    /// Every operator resolved to its op and kernel; an error names the first instruction using it.
    private func resolveOperators(_ plan: PTEExecutionPlanView, _ raw: [RawInstruction],
                                  method: String) throws -> [ResolvedOperator] {
        let table = try plan.operators.elements()
        var firstUse = [Int?](repeating: nil, count: table.count)
        for (position, entry) in raw.enumerated() {
            if case .kernelCall(let op, _) = entry.instruction, firstUse[Int(op)] == nil { firstUse[Int(op)] = position }
        }
        var operators: [ResolvedOperator] = []
        for (index, op) in table.enumerated() {
            do {
                operators.append(try OperatorResolver.resolve(PTEOperator(op.name, op.overload), index: index,
                                                              firstUse: firstUse[index]))
            } catch {
                var e = error
                e.message = "\(method): " + e.message
                throw e
            }
        }
        return operators
    }

    /// Every delegate resolved to a registered, available backend, its payload located.
    private func resolveDelegates(_ plan: PTEExecutionPlanView, _ raw: [RawInstruction],
                                  method: String) throws -> [DelegateSpec] {
        var firstUse = [Int?](repeating: nil, count: plan.delegates.count)
        for (position, entry) in raw.enumerated() {
            if case .delegateCall(let d, _) = entry.instruction, firstUse[Int(d)] == nil { firstUse[Int(d)] = position }
        }
        var delegates: [DelegateSpec] = []
        for index in 0..<plan.delegates.count {
            let delegate = try plan.delegates.element(at: index)
            let place = "delegate \(index) (backend \"\(delegate.id)\", "
                + (firstUse[index].map { "used by instruction \($0)" } ?? "not used by any instruction") + ")"
            guard let backend = backends.backend(id: delegate.id) else {
                let known = backends.ids
                throw RuntimeError(.unknownBackend, "\(method): \(place): no backend runtime is registered as "
                                   + "\"\(delegate.id)\" (registered: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
            }
            guard backend.isAvailable else {
                throw RuntimeError(.backendUnavailable, "\(method): \(place): backend \"\(delegate.id)\" is registered "
                                   + "but not available on this machine")
            }
            let specs = try delegate.compileSpecs.elements().map { PTE.CompileSpec(key: $0.key, value: Array($0.value)) }
            delegates.append(DelegateSpec(id: delegate.id, backend: backend,
                                          payload: try program.delegatePayload(delegate.processed), compileSpecs: specs))
        }
        return delegates
    }

    /// A MoveCall copies a tensor's bytes into another tensor of the same type, or a scalar
    /// into a scalar of the same kind (which a JumpFalseCall may read). Call arguments are
    /// prepared once, so a move may not change a scalar a KernelCall or DelegateCall reads.
    ///
    /// - Parameter read: each value a call reads (directly or as an int list item), with the
    ///   first instruction that does.
    private func checkMoves(_ instructions: [InstructionSpec], infos: [InstructionInfo], values: [ValueSpec],
                            read: [Int: Int], method: String) throws(RuntimeError) {
        for (position, instruction) in instructions.enumerated() {
            guard case let .move(from, to) = instruction else { continue }
            let at = "\(method): \(infos[position])"
            switch (values[from], values[to]) {
            case let (.tensor(a), .tensor(b)):
                guard a.dtype == b.dtype, a.sizes == b.sizes, a.dimOrder == b.dimOrder, !b.isConstant else {
                    throw RuntimeError(.unsupported, "\(at): moves %\(from) (\(a.type)) into %\(to) (\(b.type)); "
                                       + "Kiln's runtime moves a tensor only into a non-constant tensor of the same type")
                }
            case (.int, .int), (.bool, .bool), (.double, .double):
                if let reader = read[to] {
                    throw RuntimeError(.unsupported, "\(at): moves into %\(to), which instruction \(reader) reads as "
                                       + "an argument; Kiln's runtime prepares call arguments when a method is created")
                }
            default:
                throw RuntimeError(.unsupported, "\(at): moves a \(values[from].kindName) (%\(from)) into a "
                                   + "\(values[to].kindName) (%\(to))")
            }
        }
    }

    /// One EValue decoded; tensors get their memory (constants as views of the mapping).
    private func value(_ view: PTEValueView, index: Int, plan: PTEExecutionPlanView) throws -> ValueSpec {
        switch view {
        case .null: return .null
        case .int(let v): return .int(v)
        case .bool(let v): return .bool(v)
        case .double(let v): return .double(v)
        case .string(let s): return .string(s)
        case .intList(let items): return .intList(Array(items))
        case .doubleList(let items): return .doubleList(Array(items))
        case .boolList(let items): return .boolList(Array(items))
        case .tensorList(let items): return .tensorList(Array(items).map(Int.init))
        case .optionalTensorList(let items): return .optionalTensorList(Array(items).map(Int.init))
        case .tensor(let t): return .tensor(try tensor(t, location: "\(plan.path).values[\(index)].tensor"))
        }
    }

    private func tensor(_ t: PTETensorView, location: String) throws -> TensorSpec {
        guard let dtype = DType(t.scalarType) else {
            throw RuntimeError(.unsupported, "\(location): scalar type \(t.scalarType) has no Kiln dtype")
        }
        let sizes = Array(t.sizes).map(Int.init)
        let dimOrder = Array(t.dimOrder).map(Int.init)
        let dynamic = t.shapeDynamism != .static
        guard t.shapeDynamism != .dynamicUnbound || t.allocationInfo != nil else {
            throw RuntimeError(.unsupported, "\(location): DYNAMIC_UNBOUND tensors without planned memory are not supported")
        }
        if let extra = t.extraTensorInfo, extra.location == .external {
            throw RuntimeError(.unsupported, "\(location): data outside the file (\"\(extra.fullyQualifiedName ?? "")\") "
                               + "is not supported")
        }
        let byteCount = t.byteCount ?? 0  // SemanticChecks rejected overflow
        let memory: TensorMemory
        if let allocation = t.allocationInfo {
            var initial: UnsafeRawBufferPointer?
            if t.dataBufferIdx > 0 {
                initial = try program.mutableData(segmentsIndex: Int(clamping: t.extraTensorInfo?.mutableDataSegmentsIdx ?? 0),
                                                  bufferIndex: Int(t.dataBufferIdx), byteCount: byteCount)
            }
            memory = .planned(arena: Int(allocation.memoryID), offset: Int(allocation.offset), initialValue: initial)
        } else if t.dataBufferIdx > 0 {
            let bytes = try program.constantData(bufferIndex: Int(t.dataBufferIdx), byteCount: byteCount)
            memory = .constant(try constant(bytes, dtype: dtype, sizes: sizes, dimOrder: dimOrder, location: location))
        } else {
            memory = .unplanned
        }
        return TensorSpec(dtype: dtype, sizes: sizes, dimOrder: dimOrder, isDynamic: dynamic, memory: memory)
    }

    /// A view of constant bytes in the mapping (a copy only when they are not element-aligned).
    private func constant(_ bytes: UnsafeRawBufferPointer, dtype: DType, sizes: [Int], dimOrder: [Int],
                          location: String) throws -> Tensor {
        do {
            guard let start = bytes.baseAddress, let base = file.baseAddress,
                  Int(bitPattern: start) % dtype.byteSize == 0 else {
                return try Tensor(dtype: dtype, shape: sizes, dimOrder: dimOrder, copying: bytes)
            }
            let storage = try file.storage(offset: UnsafeRawPointer(base).distance(to: start), count: bytes.count)
            return try Tensor(dtype: dtype, shape: sizes, dimOrder: dimOrder, storage: storage)
        } catch {
            throw RuntimeError(.invalidProgram, "\(location): \((error as? TensorError)?.message ?? "\(error)")")
        }
    }
}
