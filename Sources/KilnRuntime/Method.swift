import KilnKernels
import KilnOps
import KilnPTE
import KilnTensor

/// One runnable instance of a program's method: its planned memory, its delegates'
/// handles, and its instructions prepared to run.
///
/// Everything is allocated when the method is created: one 64-byte-aligned arena per
/// `non_const_buffer_sizes` entry, a tensor view for every planned tensor, a ready
/// ``KilnKernels/KernelCall`` for every KernelCall (arguments decoded, kernel function
/// resolved, working memory sized by the kernel's `scratchBytes` and shared by all calls,
/// constant weights packed once where the kernel asks for it with a
/// ``KilnKernels/KernelPrepack``), the method's ``threadPool``, and the backend handle of every
/// delegate. ``execute()`` then runs the instructions with no
/// dictionary look-up and no allocation. Resizing a bounded-dynamic input in
/// ``setInput(_:at:)`` re-derives the shapes downstream through each op's shape rule and
/// prepares the calls again (that may allocate; `execute()` still does not).
///
/// ```swift
/// let method = try program.method("forward", threads: 2)
/// try method.setInput(x, at: 0)
/// try method.execute()
/// let y = try method.output(0)          // a view into the arena, valid until the next execute
/// let copies = try method([x])          // or: set inputs, execute, copy the outputs out
/// ```
public final class Method {
    /// The method's name.
    public let name: String
    /// The program the method belongs to (kept alive: constants and payloads live in its mapping).
    public let program: Program
    let plan: MethodPlan

    /// Each arena, by memory id (entry 0 is reserved and empty).
    private let arenas: [TensorStorage]
    /// The current shape of every tensor value (empty for other values).
    var shapes: [[Int]]
    /// The current view of every tensor value (an empty placeholder for other values).
    var tensors: [Tensor]
    /// Bool, Int and Double values that MoveCalls and JumpFalseCalls read and write.
    private var scalars: [ScalarSlot]
    /// The instructions, ready to run.
    private var steps: [Step] = []
    /// Working memory shared by every kernel call.
    private var scratch: TensorStorage?
    /// The packed forms of constant inputs, by instruction position (nil until prepared), then
    /// by the call's input index; and the memory holding them.
    private var prepacked: [[UnsafeRawBufferPointer?]?]
    /// Whether constant weights are packed once (see ``Program/method(_:threads:prepacksWeights:)``).
    public let prepacksWeights: Bool
    private var prepackedStorage: [TensorStorage] = []
    /// The threads kernels and delegates split their work across (``threadCount`` of them).
    public let threadPool: ThreadPool
    /// Each delegate's handle, by delegate index.
    private var handles: [BackendHandle] = []
    /// For each input whose memory the caller provides, whether it has been set.
    var inputIsSet: [Bool]
    /// Set when the shapes after a resized input could not be derived; `execute()` throws it.
    var pendingShapeError: RuntimeError?
    /// Set when a view changed since the steps were prepared.
    var needsPrepare = false
    private let backendProfiler = BackendProfiler()

    /// Per-instruction counts and times, recorded while ``isProfiling``.
    public private(set) var profile: InstructionProfile
    /// Record ``profile`` and backends' events (``delegateEvents``) during ``execute()``.
    public var isProfiling = false {
        didSet { backendProfiler.isEnabled = isProfiling }
    }

    /// Every instruction: index, kind, operator or delegate, debug handle and location.
    public var instructions: [InstructionInfo] { plan.infos }
    /// Events backends recorded (initialization always; execution while profiling).
    public var delegateEvents: [BackendEvent] { backendProfiler.events }

    /// Threads the method's kernels and delegates use, the calling thread included.
    public var threadCount: Int { threadPool.threadCount }

    init(program: Program, plan: MethodPlan, threads: Int = 1, prepacksWeights: Bool = true) throws(RuntimeError) {
        self.prepacksWeights = prepacksWeights
        self.name = plan.name
        self.program = program
        self.plan = plan
        threadPool = threads <= 1 ? .serial : ThreadPool(threads: threads)
        prepacked = Array(repeating: nil, count: plan.instructions.count)
        var arenas: [TensorStorage] = []
        for (id, size) in plan.arenaSizes.enumerated() {
            guard let arena = TensorStorage.allocate(zeroedByteCount: size) else {
                throw RuntimeError(.outOfMemory, "method \"\(plan.name)\": cannot allocate arena \(id) (\(size) bytes)",
                                   path: program.path)
            }
            arenas.append(arena)
        }
        self.arenas = arenas
        shapes = plan.values.map { $0.tensor?.sizes ?? [] }
        do {
            tensors = [Tensor](repeating: try Tensor(zeros: .float32, shape: [0]), count: plan.values.count)
        } catch {
            throw RuntimeError(.invalidProgram, "\(error)", path: program.path)
        }
        scalars = plan.values.map(ScalarSlot.init)
        inputIsSet = plan.inputs.map { index in
            if case .unplanned = plan.tensor(index)?.memory { return false }
            return true
        }
        profile = InstructionProfile(instructionCount: plan.instructions.count)
        for (index, value) in plan.values.enumerated() {
            guard let spec = value.tensor else { continue }
            let tensor = try makeTensor(index, shape: spec.sizes)
            if case .planned(_, _, let initial?) = spec.memory, let source = initial.baseAddress {
                tensor.unsafeMutableRawBytes.baseAddress?.copyMemory(from: source, byteCount: min(initial.count, tensor.byteCount))
            }
            tensors[index] = tensor
        }
        // Bounded-dynamic outputs start at the shapes the kernels give for inputs at their bounds.
        if plan.values.contains(where: { $0.tensor?.isDynamic == true }) { try deriveShapes() }
        handles = try initializeDelegates()
        try prepare()
    }

    deinit {
        for (index, handle) in handles.enumerated() {
            plan.delegates[index].backend.destroy(handle)
        }
    }

    /// Initializes every delegate; on a failure, destroys those already initialized.
    private func initializeDelegates() throws(RuntimeError) -> [BackendHandle] {
        var made: [BackendHandle] = []
        for (index, delegate) in plan.delegates.enumerated() {
            let context = BackendInitContext(methodName: name, delegateIndex: index, profiler: backendProfiler,
                                             threadPool: threadPool, program: program.view)
            do {
                made.append(try delegate.backend.initialize(payload: delegate.payload, compileSpecs: delegate.compileSpecs,
                                                            context: context))
            } catch {
                for (i, handle) in made.enumerated() { plan.delegates[i].backend.destroy(handle) }
                throw RuntimeError(.delegateInit, "method \"\(name)\": delegate \(index) (backend \"\(delegate.id)\") "
                                   + "failed to initialize: \(error)")
            }
        }
        return made
    }

    // MARK: Running

    /// Runs the method's instructions on the inputs set so far.
    ///
    /// - Throws: ``RuntimeError``: `.inputNotSet` for an input whose memory the caller
    ///   provides and has not set; `.shape` when a resized input left shapes that could not
    ///   be derived; `.kernel`, `.delegateExecute` or `.control` naming the instruction.
    public func execute() throws(RuntimeError) {
        if let pendingShapeError { throw pendingShapeError }
        if let unset = inputIsSet.firstIndex(of: false) {
            throw RuntimeError(.inputNotSet, "input \(unset) (%\(plan.inputs[unset])) is not set: its memory is not "
                               + "planned, so the caller must provide it with setInput", path: program.path)
        }
        let profiling = isProfiling
        let count = steps.count
        var pc = 0
        while pc < count {
            let current = pc
            let start = profiling ? monotonicNanoseconds() : 0
            switch steps[pc] {
            case .kernel(let kernel, let call):
                do {
                    try kernel(call)
                } catch {
                    throw failure(.kernel, at: current, "kernel \(plan.infos[current].kernelName ?? "?") failed: \(error.message)")
                }
                pc += 1
            case .delegate(let step):
                do {
                    try step.backend.execute(step.handle, arguments: step.arguments, context: step.context)
                } catch {
                    throw failure(.delegateExecute, at: current, "backend \"\(step.backend.id)\" failed: \(error)")
                }
                pc += 1
            case .moveTensor(let from, let to):
                if let source = from.withUnsafeRawBytes({ $0.baseAddress }) {
                    to.unsafeMutableRawBytes.baseAddress?.copyMemory(from: source, byteCount: min(from.byteCount, to.byteCount))
                }
                pc += 1
            case .moveScalar(let from, let to):
                scalars[to] = scalars[from]
                pc += 1
            case .jumpFalse(let condition, let destination):
                guard case .bool(let value) = scalars[condition] else {
                    throw failure(.control, at: current, "the condition %\(condition) holds no Bool")
                }
                pc = value ? pc + 1 : destination
            case .jumpFalseTensor(let condition, let destination):
                // As ExecuTorch: true when every element is true.
                let value = condition.withUnsafeRawBytes { bytes in !bytes.contains(0) }
                pc = value ? pc + 1 : destination
            case .nothing:
                pc += 1
            }
            if profiling { profile.record(current, monotonicNanoseconds() &- start) }
        }
        if profiling { profile.finishExecution() }
    }

    /// Sets every input, runs the method, and returns copies of its outputs.
    ///
    /// ```swift
    /// let (logits) = try method([x])[0]
    /// ```
    /// - Throws: as ``setInputs(_:)`` and ``execute()``.
    public func callAsFunction(_ inputs: [Tensor]) throws(RuntimeError) -> [Tensor] {
        try setInputs(inputs)
        try execute()
        var results: [Tensor] = []
        for index in 0..<outputCount {
            let view = try output(index)
            do {
                results.append(try view.withUnsafeRawBytes { bytes in
                    try Tensor(dtype: view.dtype, shape: view.shape, dimOrder: view.dimOrder, copying: bytes)
                })
            } catch {
                throw RuntimeError(.outputIndex, "output \(index): cannot copy: \(error)", path: program.path)
            }
        }
        return results
    }

    /// Number of outputs.
    public var outputCount: Int { plan.outputs.count }

    /// Output `index` of the last ``execute()``: a view into the method's memory, valid until
    /// the next `execute()` (copy it to keep it).
    /// - Throws: ``RuntimeError`` `.outputIndex` for an index out of range.
    public func output(_ index: Int) throws(RuntimeError) -> Tensor {
        guard index >= 0, index < plan.outputs.count else {
            throw RuntimeError(.outputIndex, "output \(index) is out of range: method \"\(name)\" has "
                               + "\(plan.outputs.count) output\(plan.outputs.count == 1 ? "" : "s")", path: program.path)
        }
        return tensor(plan.outputs[index])
    }

    /// The planned type of output `index`.
    /// - Throws: ``RuntimeError`` `.outputIndex` for an index out of range.
    public func outputMeta(_ index: Int) throws(RuntimeError) -> TensorMeta {
        guard index >= 0, index < plan.outputs.count else {
            throw RuntimeError(.outputIndex, "output \(index) is out of range: method \"\(name)\" has "
                               + "\(plan.outputs.count) output\(plan.outputs.count == 1 ? "" : "s")", path: program.path)
        }
        return plan.meta(of: plan.outputs[index])
    }

    /// Bytes of memory the method owns: its planned arenas, the kernels' shared working memory
    /// and the packed copies of constant weights. Constants themselves are not counted: they
    /// are views into the program's file mapping.
    public var ownedByteCount: Int {
        arenas.reduce(0) { $0 + $1.byteCount } + (scratch?.byteCount ?? 0) + prepackedByteCount
    }

    /// Bytes of the packed copies of constant weights the method made when it was created (part
    /// of ``ownedByteCount``; 0 when no kernel packs a constant).
    public var prepackedByteCount: Int { prepackedStorage.reduce(0) { $0 + $1.byteCount } }

    /// Sets ``profile`` and the backends' recorded execution events back to zero.
    public func resetProfile() {
        profile.reset()
        backendProfiler.reset()
    }

    private func failure(_ kind: RuntimeError.Kind, at instruction: Int, _ message: String) -> RuntimeError {
        RuntimeError(kind, "method \"\(name)\": \(plan.infos[instruction]): \(message)", path: program.path)
    }

    // MARK: Preparing

    /// The current view of tensor value `index` (load-time checks make every index passed here
    /// a tensor value's).
    func tensor(_ index: Int) -> Tensor { tensors[index] }

    /// A view of tensor value `index` with `shape`: in its arena, the constant, or (for memory
    /// the caller provides) a zero-filled placeholder until it is set.
    func makeTensor(_ index: Int, shape: [Int]) throws(RuntimeError) -> Tensor {
        guard let spec = plan.tensor(index) else {
            throw RuntimeError(.invalidProgram, "value %\(index) is not a tensor", path: program.path)
        }
        do {
            switch spec.memory {
            case .planned(let arena, let offset, _):
                return try Tensor(dtype: spec.dtype, shape: shape, dimOrder: spec.dimOrder, storage: arenas[arena],
                                  byteOffset: offset)
            case .constant(let tensor):
                return tensor
            case .unplanned:
                // A placeholder until the caller's tensor is bound (or an empty tensor).
                let bytes = try Shape.byteCount(shape, dtype: spec.dtype)
                guard let storage = TensorStorage.allocate(zeroedByteCount: bytes) else {
                    throw RuntimeError(.outOfMemory, "value %\(index): cannot allocate \(bytes) bytes", path: program.path)
                }
                return try Tensor(dtype: spec.dtype, shape: shape, dimOrder: spec.dimOrder, storage: storage)
            }
        } catch let error as RuntimeError {
            throw error
        } catch {
            throw RuntimeError(.invalidProgram, "value %\(index) (\(spec.dtype)\(shape)): \(error)", path: program.path)
        }
    }

    /// Builds ``steps`` from the current tensor views: one KernelCall per kernel instruction
    /// (constant inputs packed the first time, scratch sized by the largest need), the
    /// arguments of each DelegateCall.
    func prepare() throws(RuntimeError) {
        var need = 0
        for (position, instruction) in plan.instructions.enumerated() {
            guard case .kernel(let k) = instruction else { continue }
            if prepacked[position] == nil { prepacked[position] = prepacksWeights ? try prepack(k) : [] }
            let call = try kernelCall(k, scratch: UnsafeMutableRawBufferPointer(start: nil, count: 0),
                                      prepacked: prepacked[position] ?? [])
            need = max(need, k.op.entry.scratchBytes(call))
        }
        if need > (scratch?.byteCount ?? 0) {
            guard let memory = TensorStorage.allocate(zeroedByteCount: need) else {
                throw RuntimeError(.outOfMemory, "method \"\(name)\": cannot allocate \(need) bytes of kernel working memory",
                                   path: program.path)
            }
            scratch = memory
        }
        let memory = scratch.map { UnsafeMutableRawBufferPointer(start: $0.baseAddress, count: $0.byteCount) }
            ?? UnsafeMutableRawBufferPointer(start: nil, count: 0)

        var built: [Step] = []
        built.reserveCapacity(plan.instructions.count)
        for (position, instruction) in plan.instructions.enumerated() {
            switch instruction {
            case .kernel(let k):
                built.append(.kernel(k.op.entry.kernel, try kernelCall(k, scratch: memory,
                                                                       prepacked: prepacked[position] ?? [])))
            case .delegate(let index, let args):
                let delegate = plan.delegates[index]
                let context = BackendExecuteContext(methodName: name, instruction: position, delegateIndex: index,
                                                    profiler: backendProfiler)
                built.append(.delegate(DelegateStep(backend: delegate.backend, handle: handles[index],
                                                    arguments: BackendArguments(values: args.map(backendValue),
                                                                                valueIndices: args),
                                                    context: context)))
            case .move(let from, let to):
                if plan.tensor(from) != nil {
                    built.append(.moveTensor(from: tensor(from), to: tensor(to)))
                } else {
                    built.append(.moveScalar(from: from, to: to))
                }
            case .jumpFalse(let condition, let destination):
                if plan.tensor(condition) != nil {
                    built.append(.jumpFalseTensor(tensor(condition), destination: destination))
                } else {
                    built.append(.jumpFalse(condition: condition, destination: destination))
                }
            case .free:
                built.append(.nothing)
            }
        }
        steps = built
    }

    /// The call of kernel instruction `k` on the current views: distinct input tensors in
    /// order of first use, the op's arguments referring to them.
    private func kernelCall(_ k: KernelSpec, scratch: UnsafeMutableRawBufferPointer,
                            prepacked: [UnsafeRawBufferPointer?]) throws(RuntimeError) -> KernelCall {
        let (inputs, arguments, _) = callInputs(k)
        let validated: OpArguments<Int>
        do {
            validated = try OpArguments<Int>.validated(k.op.schema, arguments)
        } catch {
            throw RuntimeError(.invalidArguments, "\(error)", path: program.path)
        }
        return KernelCall(arguments: validated, inputs: inputs, outputs: k.outs.map(tensor), scratch: scratch,
                          threadPool: threadPool, prepacked: prepacked)
    }

    /// The distinct input tensors of `k` in order of first use, its arguments referring to them,
    /// and each input's value index.
    private func callInputs(_ k: KernelSpec) -> ([Tensor], [Argument<Int>], [Int]) {
        var inputs: [Tensor] = []
        var values: [Int] = []
        var slots: [Int: Int] = [:]
        let arguments = k.arguments.map { argument in
            argument.map { value -> Int in
                if let slot = slots[value] { return slot }
                slots[value] = inputs.count
                inputs.append(tensor(value))
                values.append(value)
                return inputs.count - 1
            }
        }
        return (inputs, arguments, values)
    }

    /// The packed forms of `k`'s constant inputs its kernel asks for (``KernelPrepack``), made
    /// now in memory the method owns; empty when there are none.
    private func prepack(_ k: KernelSpec) throws(RuntimeError) -> [UnsafeRawBufferPointer?] {
        guard let hook = k.op.entry.prepack else { return [] }
        let (_, _, values) = callInputs(k)
        guard values.contains(where: { plan.tensor($0)?.isConstant == true }) else { return [] }
        let call = try kernelCall(k, scratch: UnsafeMutableRawBufferPointer(start: nil, count: 0), prepacked: [])
        var packed = [UnsafeRawBufferPointer?](repeating: nil, count: values.count)
        for (index, value) in values.enumerated() where plan.tensor(value)?.isConstant == true {
            let bytes = hook.bytes(call, index)
            guard bytes > 0 else { continue }
            guard let memory = TensorStorage.allocate(zeroedByteCount: bytes) else {
                throw RuntimeError(.outOfMemory, "method \"\(name)\": cannot allocate \(bytes) bytes for the packed "
                                   + "constant %\(value)", path: program.path)
            }
            let buffer = UnsafeMutableRawBufferPointer(start: memory.baseAddress, count: bytes)
            hook.pack(call, index, buffer)
            prepackedStorage.append(memory)
            packed[index] = UnsafeRawBufferPointer(buffer)
        }
        return packed.contains { $0 != nil } ? packed : []
    }

    /// A DelegateCall argument: the EValue as the backend sees it.
    private func backendValue(_ index: Int) -> BackendValue {
        switch plan.values[index] {
        case .null: return .null
        case .int(let v): return .int(v)
        case .bool(let v): return .bool(v)
        case .double(let v): return .double(v)
        case .string(let s): return .string(s)
        case .tensor: return .tensor(tensor(index))
        case .intList(let items): return .intList(items)
        case .doubleList(let items): return .doubleList(items)
        case .boolList(let items): return .boolList(items)
        case .tensorList(let items): return .tensorList(items.map(tensor))
        case .optionalTensorList(let items):
            return .optionalTensorList(items.map { $0 >= 0 && plan.tensor($0) != nil ? tensor($0) : nil })
        }
    }
}

/// One instruction ready to run.
private enum Step {
    case kernel(Kernel, KernelCall)
    case delegate(DelegateStep)
    case moveTensor(from: Tensor, to: Tensor)
    case moveScalar(from: Int, to: Int)
    case jumpFalse(condition: Int, destination: Int)
    case jumpFalseTensor(Tensor, destination: Int)
    case nothing
}

/// A DelegateCall ready to run.
private struct DelegateStep {
    let backend: any BackendRuntime
    let handle: BackendHandle
    let arguments: BackendArguments
    let context: BackendExecuteContext
}

/// A scalar EValue that MoveCalls and JumpFalseCalls use.
private enum ScalarSlot {
    case none
    case int(Int64)
    case bool(Bool)
    case double(Double)

    init(_ value: ValueSpec) {
        switch value {
        case .int(let v): self = .int(v)
        case .bool(let v): self = .bool(v)
        case .double(let v): self = .double(v)
        default: self = .none
        }
    }
}
