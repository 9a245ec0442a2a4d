import Foundation
import KilnPTE
import KilnRuntime
import KilnTensor
import Testing

/// The backend runtime interface, through a test-only backend: `out = x + scale * y + bias`,
/// with `scale` from a compile spec and `bias` from the program's named data. A hand-built
/// program runs it in a DelegateCall, then a relu KernelCall on its result.
final class ScaledAddBackend: BackendRuntime, @unchecked Sendable {
    static let magic = Array("SADD".utf8)

    let id: String
    let isAvailable: Bool
    private(set) var initialized = 0
    private(set) var executed = 0
    private(set) var destroyed = 0

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    final class Handle {
        let scale: Float
        let bias: [Float]
        init(scale: Float, bias: [Float]) {
            self.scale = scale
            self.bias = bias
        }
    }

    init(id: String = "ScaledAdd", isAvailable: Bool = true) {
        self.id = id
        self.isAvailable = isAvailable
    }

    func initialize(payload: UnsafeRawBufferPointer, compileSpecs: [PTE.CompileSpec],
                    context: BackendInitContext) throws -> BackendHandle {
        guard Array(payload) == Self.magic else { throw Failure(description: "payload is not SADD") }
        guard let scale = compileSpecs.first(where: { $0.key == "scale" })?.value.first else {
            throw Failure(description: "no scale compile spec")
        }
        guard let bytes = try context.namedData(key: "bias") else { throw Failure(description: "no named data \"bias\"") }
        let bias = (0..<bytes.count / 4).map { bytes.load(fromByteOffset: $0 * 4, as: Float.self) }
        context.profiler.record("initialize", nanoseconds: 1, context: context)
        initialized += 1
        return Handle(scale: Float(scale), bias: bias)
    }

    func execute(_ handle: BackendHandle, arguments: BackendArguments, context: BackendExecuteContext) throws {
        guard let handle = handle as? Handle, arguments.count == 3, let x = arguments[0].tensor,
              let y = arguments[1].tensor, let out = arguments[2].tensor else {
            throw Failure(description: "expected (x, y, out) tensors")
        }
        let (px, py) = (x.unsafeBuffer(of: Float.self), y.unsafeBuffer(of: Float.self))
        guard !px.contains(where: \.isNaN) else { throw Failure(description: "x holds NaN") }
        let po = out.unsafeMutableBuffer(of: Float.self)
        let columns = handle.bias.count
        for i in 0..<po.count {
            po[i] = px[i] + handle.scale * py[i] + handle.bias[i % columns]
        }
        executed += 1
        context.profiler.record("device_time", nanoseconds: 1234, context: context)
    }

    func destroy(_ handle: BackendHandle) {
        destroyed += 1
    }
}

/// Hand-built programs for the runtime's less common paths.
enum HandBuilt {
    static func tensor(_ type: PTE.ScalarType, _ sizes: [Int32], offset: UInt64? = nil) -> PTE.EValue {
        .tensor(PTE.Tensor(scalarType: type, sizes: sizes, dimOrder: (0..<sizes.count).map { UInt8($0) },
                           allocationInfo: offset.map { PTE.AllocationDetails(memoryID: 1, offset: $0) }))
    }

    static let bias: [Float] = [0.5, -1, 2]

    /// `relu(delegate(x, y))` with x: f32[2, 3] memory from the caller, y: f32[2, 3] planned.
    static func delegateProgram(backend: String = "ScaledAdd", payload: [UInt8] = ScaledAddBackend.magic) throws -> [UInt8] {
        let plan = PTE.ExecutionPlan(
            name: "forward",
            values: [tensor(.float, [2, 3]), tensor(.float, [2, 3], offset: 0), tensor(.float, [2, 3], offset: 64),
                     tensor(.float, [2, 3], offset: 128)],
            inputs: [0, 1], outputs: [3],
            chains: [PTE.Chain(inputs: [0, 1], outputs: [3], instructions: [
                .delegateCall(delegateIndex: 0, args: [0, 1, 2]),
                .kernelCall(opIndex: 0, args: [2, 3, 3]),
            ])],
            operators: [PTE.Operator(name: "aten::relu", overload: "out")],
            delegates: [PTE.BackendDelegate(id: backend, processed: PTE.BackendDelegateDataReference(location: .inline, index: 0),
                                            compileSpecs: [PTE.CompileSpec(key: "scale", value: [2])])],
            nonConstBufferSizes: [0, 192])
        let biasBytes = bias.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let program = PTE.Program(executionPlan: [plan], backendDelegateData: [PTE.BackendDelegateInlineData(data: payload)],
                                  namedData: [PTE.NamedData(key: "bias", segmentIndex: 0)])
        return try PTEFile(program: program, segments: [biasBytes]).serialized()
    }

    /// `if all(c) { out = relu(x) } else { out = neg(x) }; copy = out` with JumpFalseCalls and a MoveCall.
    static func controlFlowProgram() throws -> [UInt8] {
        let plan = PTE.ExecutionPlan(
            name: "forward",
            values: [tensor(.float, [4], offset: 0), tensor(.bool, [2], offset: 64), tensor(.float, [4], offset: 128),
                     tensor(.float, [4], offset: 192), .bool(false)],
            inputs: [0, 1], outputs: [2, 3],
            chains: [PTE.Chain(inputs: [0, 1], outputs: [2, 3], instructions: [
                .jumpFalseCall(condValueIndex: 1, destinationInstruction: 3),
                .kernelCall(opIndex: 0, args: [0, 2, 2]),
                .jumpFalseCall(condValueIndex: 4, destinationInstruction: 4),
                .kernelCall(opIndex: 1, args: [0, 2, 2]),
                .moveCall(moveFrom: 2, moveTo: 3),
                .freeCall(valueIndex: 0),
            ])],
            operators: [PTE.Operator(name: "aten::relu", overload: "out"), PTE.Operator(name: "aten::neg", overload: "out")],
            nonConstBufferSizes: [0, 256])
        return try PTEFile(program: PTE.Program(executionPlan: [plan])).serialized()
    }
}

@Suite struct BackendTests {
    func inputs() throws -> (x: Tensor, y: Tensor, expected: [Float]) {
        let x = try Tensor([1, -2, 3, -4, 5, -6] as [Float], shape: [2, 3])
        let y = try Tensor([0.5, 0.5, -1, 1, -3, 2] as [Float], shape: [2, 3])
        return (x, y, expected(x, y))
    }

    /// `relu(x + 2 y + bias)`.
    func expected(_ x: Tensor, _ y: Tensor) -> [Float] {
        let (a, b) = (x.scalars(as: Float.self), y.scalars(as: Float.self))
        var out: [Float] = []
        for i in 0..<a.count {
            let sum: Float = a[i] + 2 * b[i] + HandBuilt.bias[i % 3]
            out.append(max(0, sum))
        }
        return out
    }

    @Test func aDelegateRunsThroughItsBackendsLifecycle() throws {
        let backend = ScaledAddBackend()
        let registry = BackendRegistry()
        registry.register(backend)
        #expect(registry.ids == ["ScaledAdd"])
        let (x, y, expected) = try inputs()
        try withTemporaryFolder { folder in
            let program = try load(try HandBuilt.delegateProgram(), in: folder, backends: registry)
            #expect(backend.initialized == 0)
            do {
                let method = try program.method()
                #expect(backend.initialized == 1)
                #expect(method.instructions[0].kind == .delegateCall)
                #expect(method.instructions[0].delegateID == "ScaledAdd")
                #expect(method.instructions[0].description == "instruction 0 (delegate 0 \"ScaledAdd\")")
                // x's memory is the caller's: running before setting it is an error.
                expectRuntimeError(.inputNotSet, "input 0 (%0) is not set") { try method.execute() }
                method.isProfiling = true
                #expect(try method([x, y])[0].scalars(as: Float.self) == expected)
                let doubled = try Tensor(x.scalars(as: Float.self).map { $0 * 2 }, shape: [2, 3])
                let again = try method([doubled, y])[0].scalars(as: Float.self)
                #expect(again == self.expected(doubled, y))
                #expect(backend.executed == 2)
                #expect(method.delegateEvents.map(\.name) == ["initialize", "device_time", "device_time"])
                #expect(method.delegateEvents.last?.instruction == 0)
                #expect(method.profile.counts == [2, 2])
                #expect(backend.destroyed == 0)
            }
            #expect(backend.destroyed == 1)
        }
    }

    @Test func theProfileSummaryGathersTimesAndBackendEvents() throws {
        let registry = BackendRegistry()
        registry.register(ScaledAddBackend())
        let (x, y, _) = try inputs()
        try withTemporaryFolder { folder in
            let program = try load(try HandBuilt.delegateProgram(), in: folder, backends: registry)
            let method = try program.method()
            method.isProfiling = true
            for _ in 0..<3 { _ = try method([x, y]) }
            let summary = method.profileSummary
            #expect(summary.executions == 3)
            #expect(summary.instructions.map(\.subject) == ["delegate 0 \"ScaledAdd\"", "aten::relu.out"])
            #expect(summary.instructions.map(\.calls) == [3, 3])
            #expect(summary.instructions[0].events == [.init(name: "device_time", count: 3, nanoseconds: 3 * 1234)])
            #expect(summary.instructions[1].events.isEmpty)
            #expect(summary.initializationEvents == [.init(name: "initialize", count: 1, nanoseconds: 1)])
            #expect(abs(summary.instructions.map(\.share).reduce(0, +) - 1) < 1e-9)
            #expect(Set(summary.operators.map(\.subject)) == Set(summary.instructions.map(\.subject)))
            #expect(summary.operators.allSatisfy { $0.instruction == nil })
            #expect(zip(summary.operators, summary.operators.dropFirst()).allSatisfy { $0.nanoseconds >= $1.nanoseconds })
            let delegate = try #require(summary.operators.first { $0.subject.hasPrefix("delegate") })
            #expect(delegate.events.first?.count == 3)
            method.resetProfile()
            #expect(method.profileSummary.instructions.allSatisfy { $0.calls == 0 && $0.events.isEmpty })
        }
    }

    @Test func aFailingDelegateNamesTheInstruction() throws {
        let registry = BackendRegistry()
        registry.register(ScaledAddBackend())
        let (_, y, _) = try inputs()
        let x = try Tensor([Float](repeating: .nan, count: 6), shape: [2, 3])
        try withTemporaryFolder { folder in
            let method = try load(try HandBuilt.delegateProgram(), in: folder, backends: registry).method()
            expectRuntimeError(.delegateExecute, "instruction 0 (delegate 0 \"ScaledAdd\")",
                               "backend \"ScaledAdd\" failed: x holds NaN") {
                _ = try method([x, y])
            }
        }
    }

    @Test func anUnknownBackendFailsAtLoadNamingIt() throws {
        try withTemporaryFolder { folder in
            expectRuntimeError(.unknownBackend, "delegate 0 (backend \"ScaledAdd\", used by instruction 0)",
                               "no backend runtime is registered as \"ScaledAdd\"") {
                _ = try load(try HandBuilt.delegateProgram(), in: folder, backends: BackendRegistry())
            }
        }
    }

    @Test func anUnavailableBackendFailsAtLoad() throws {
        let registry = BackendRegistry()
        registry.register(ScaledAddBackend(isAvailable: false))
        try withTemporaryFolder { folder in
            expectRuntimeError(.backendUnavailable, "backend \"ScaledAdd\" is registered but not available") {
                _ = try load(try HandBuilt.delegateProgram(), in: folder, backends: registry)
            }
        }
    }

    @Test func aFailedInitializeNamesTheDelegate() throws {
        let backend = ScaledAddBackend()
        let registry = BackendRegistry()
        registry.register(backend)
        try withTemporaryFolder { folder in
            let program = try load(try HandBuilt.delegateProgram(payload: Array("XXXX".utf8)), in: folder, backends: registry)
            expectRuntimeError(.delegateInit, "delegate 0 (backend \"ScaledAdd\") failed to initialize: payload is not SADD") {
                _ = try program.method()
            }
            #expect(backend.destroyed == 0)
        }
    }

    @Test func controlFlowJumpsAndMoves() throws {
        try withTemporaryFolder { folder in
            let method = try load(try HandBuilt.controlFlowProgram(), in: folder).method()
            #expect(method.instructions.map(\.kind) == [.jumpFalseCall, .kernelCall, .jumpFalseCall, .kernelCall,
                                                        .moveCall, .freeCall])
            let x = try Tensor([1, -2, 3, -4] as [Float], shape: [4])
            let allTrue = try Tensor([true, true], shape: [2])
            let oneFalse = try Tensor([true, false], shape: [2])
            method.isProfiling = true
            let relu = try method([x, allTrue])
            #expect(relu[0].scalars(as: Float.self) == [1, 0, 3, 0])
            #expect(relu[1] == relu[0])
            #expect(method.profile.counts == [1, 1, 1, 0, 1, 1])
            let neg = try method([x, oneFalse])
            #expect(neg[0].scalars(as: Float.self) == [-1, 2, -3, 4])
            #expect(neg[1] == neg[0])
        }
    }
}
