import Foundation
import KilnPTE
import Testing

// Shared vocabulary of the KilnPTE tests: a rich program that uses every table, value kind and
// instruction kind; error expectations; ExecuTorch fixtures; temporary folders.

enum RichProgram {
    /// Constant data: a f32 [2, 3] weight at offset 0 and a f32 [3] bias at offset 64.
    static let constants: [UInt8] = (0..<24).map { UInt8($0) } + [UInt8](repeating: 0, count: 40) + (0..<12).map { UInt8(100 + $0) }
    static let delegateBlob: [UInt8] = (0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) }
    static let namedBlob: [UInt8] = Array("named".utf8)
    static let mutableInitial: [UInt8] = [7, 0, 0, 0, 0, 0, 0, 0]
    static let inlineDelegate: [UInt8] = Array("npu-program".utf8)

    /// Segment indices.
    static let constantSegment = 0, delegateSegment = 1, namedSegment = 2, mutableSegment = 3

    static func tensor(_ type: PTE.ScalarType, _ sizes: [Int32], memory: UInt32? = nil, offset: UInt64 = 0,
                       data: UInt32 = 0) -> PTE.EValue {
        .tensor(PTE.Tensor(scalarType: type, sizes: sizes, dimOrder: (0..<sizes.count).map { UInt8($0) },
                           dataBufferIdx: data, allocationInfo: memory.map { PTE.AllocationDetails(memoryID: $0, offset: offset) }))
    }

    /// Every value kind, a few tensor variants, every instruction kind, delegates inline and in
    /// a segment, constants, mutable data, named data and stack traces.
    static func file() -> PTEFile {
        var bf16 = PTE.Tensor(scalarType: .bfloat16, sizes: [2, 3, 4], dimOrder: [0, 2, 1],
                              allocationInfo: PTE.AllocationDetails(memoryID: 2, offset: 1 << 32))
        bf16.layout = 0
        var weight = PTE.Tensor(scalarType: .float, sizes: [2, 3], dimOrder: [0, 1], dataBufferIdx: 1)
        weight.requiresGrad = true
        let state = PTE.Tensor(scalarType: .long, sizes: [1], dimOrder: [0], dataBufferIdx: 1,
                               allocationInfo: PTE.AllocationDetails(memoryID: 1, offset: 128),
                               extraTensorInfo: PTE.ExtraTensorInfo(mutableDataSegmentsIdx: 0, fullyQualifiedName: "state"))
        let external = PTE.Tensor(scalarType: .half, sizes: [4], dimOrder: [0], dataBufferIdx: 5,
                                  extraTensorInfo: PTE.ExtraTensorInfo(fullyQualifiedName: "lm.weight", location: .external))
        let dynamic = PTE.Tensor(scalarType: .byte, sizes: [8], dimOrder: [0],
                                 allocationInfo: PTE.AllocationDetails(memoryID: 1, offset: 192), shapeDynamism: .dynamicBound)
        let onDevice = PTE.Tensor(scalarType: .byte, sizes: [4], dimOrder: [0],
                                  allocationInfo: PTE.AllocationDetails(memoryID: 1, offset: 200),
                                  extraTensorInfo: PTE.ExtraTensorInfo(deviceType: .cuda, deviceIndex: 1))
        let values: [PTE.EValue] = [
            tensor(.float, [1, 2], memory: 1, offset: 0),  // 0: x
            .tensor(weight),  // 1
            tensor(.float, [3], data: 2),  // 2: bias
            tensor(.float, [1, 3], memory: 1, offset: 64),  // 3: y
            .int(1),  // 4
            .int(-7),  // 5
            .intList([4, 5]),  // 6
            .bool(true),  // 7
            .double(2.5),  // 8
            .string("mean"),  // 9
            .doubleList([1.5, -0.25]),  // 10
            .boolList([true, false, true]),  // 11
            .tensorList([0, 3]),  // 12
            .null,  // 13
            .optionalTensorList([0, -1, 13]),  // 14
            .tensor(state),  // 15
            .tensor(bf16),  // 16
            .tensor(external),  // 17
            .tensor(dynamic),  // 18
            .bool(false),  // 19
            .tensor(onDevice),  // 20
            .int(0),  // 21
            .double(-0.0),  // 22
            tensor(.float, [], memory: 1, offset: 240),  // 23: a scalar tensor
        ]
        let instructions: [PTE.Instruction] = [
            .kernelCall(opIndex: 0, args: [2, 0, 1, 4, 4, 3]),
            .delegateCall(delegateIndex: 0, args: [3, 3]),
            .delegateCall(delegateIndex: 1, args: [0, 3]),
            .moveCall(moveFrom: 3, moveTo: 0),
            .jumpFalseCall(condValueIndex: 19, destinationInstruction: 6),
            .freeCall(valueIndex: 12),
            .kernelCall(opIndex: 1, args: []),
        ]
        let stacktrace = instructions.indices.map { i in
            PTE.FrameList(items: i == 2 ? [] : [
                PTE.Frame(filename: "model.py", lineno: Int32(10 + i), name: "forward", context: "y = f(x)"),
                PTE.Frame(filename: nil, lineno: 0, name: "helper \(i)", context: nil),
            ])
        }
        let forward = PTE.ExecutionPlan(
            name: "forward",
            containerMetaType: PTE.ContainerMetadata(encodedInpStr: "[1, {\"type\": \"tuple\"}]", encodedOutStr: "[1]"),
            values: values, inputs: [0], outputs: [3],
            chains: [PTE.Chain(inputs: [0], outputs: [3], instructions: instructions, stacktrace: stacktrace)],
            operators: [PTE.Operator(name: "aten::addmm", overload: "out"), PTE.Operator(name: "aten::relu", overload: "out")],
            delegates: [
                PTE.BackendDelegate(id: "XnnpackBackend", processed: PTE.BackendDelegateDataReference(location: .segment, index: 1),
                                    compileSpecs: [PTE.CompileSpec(key: "threads", value: [4, 0, 0, 0]),
                                                   PTE.CompileSpec(key: "mode", value: [])]),
                PTE.BackendDelegate(id: "NpuBackend", processed: PTE.BackendDelegateDataReference(location: .inline, index: 0)),
            ],
            nonConstBufferSizes: [0, 256, (1 << 32) + 64],
            nonConstBufferDevice: [PTE.NonConstBufferDevice(bufferIdx: 1),
                                   PTE.NonConstBufferDevice(bufferIdx: 2, deviceType: .cuda, deviceIndex: 1)])
        let program = PTE.Program(
            version: 0,
            executionPlan: [forward, PTE.ExecutionPlan(name: "init_ünïcode")],
            backendDelegateData: [PTE.BackendDelegateInlineData(data: inlineDelegate)],
            constantSegment: PTE.SubsegmentOffsets(segmentIndex: 0, offsets: [0, 0, 64]),
            mutableDataSegments: [PTE.SubsegmentOffsets(segmentIndex: 3, offsets: [0, 0])],
            namedData: [PTE.NamedData(key: "shared_weights", segmentIndex: 2)])
        var file = PTEFile(program: program, segments: [constants, delegateBlob, namedBlob, mutableInitial])
        try! file.layOutSegments()
        return file
    }

    static func bytes() throws -> [UInt8] { try file().serialized() }
}

/// A one-method program with one planned tensor and one kernel call: small enough to truncate
/// at every length.
enum SmallProgram {
    static func file() -> PTEFile {
        let plan = PTE.ExecutionPlan(
            name: "forward",
            values: [RichProgram.tensor(.float, [2], memory: 1), .int(3), RichProgram.tensor(.float, [2], data: 1)],
            inputs: [0], outputs: [0],
            chains: [PTE.Chain(inputs: [0], outputs: [0], instructions: [.kernelCall(opIndex: 0, args: [0, 1, 2, 0])])],
            operators: [PTE.Operator(name: "aten::add", overload: "out")],
            nonConstBufferSizes: [0, 8])
        var file = PTEFile(program: PTE.Program(executionPlan: [plan],
                                                constantSegment: PTE.SubsegmentOffsets(segmentIndex: 0, offsets: [0, 0])),
                           segments: [[1, 2, 3, 4, 5, 6, 7, 8]])
        try! file.layOutSegments()
        return file
    }
}

/// Decodes `bytes`, returning the error (nil when the file decodes).
func decodeError(_ bytes: [UInt8]) -> PTEError? {
    do {
        _ = try PTEFile(decoding: bytes, path: "test.pte")
        return nil
    } catch {
        return error
    }
}

/// Expects decoding `bytes` to fail with `kind`, the message containing `phrase` and the
/// location (when given) equal to `location`.
func expectDecodeError(_ bytes: [UInt8], _ kind: PTEError.Kind, _ phrase: String, location: String? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error = decodeError(bytes) else {
        Issue.record("expected a \(kind) error containing \"\(phrase)\", but the file decoded", sourceLocation: sourceLocation)
        return
    }
    #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
    #expect(error.message.contains(phrase), "\(error)", sourceLocation: sourceLocation)
    #expect(error.path == "test.pte", "\(error)", sourceLocation: sourceLocation)
    if let location {
        #expect(error.location == location, "\(error)", sourceLocation: sourceLocation)
    }
}

/// Expects `file` to serialize and then fail to decode as ``expectDecodeError``.
func expectRejected(_ file: PTEFile, _ kind: PTEError.Kind, _ phrase: String, location: String? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    expectDecodeError(try file.serialized(), kind, phrase, location: location, sourceLocation: sourceLocation)
}

enum Fixtures {
    static func url(_ name: String) throws -> URL {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return folder.appendingPathComponent(name)
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(name)))
    }
}

/// Runs `executable` with `arguments`; returns its exit status and combined output.
func runProcess(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

/// A fresh temporary folder, removed by `body`'s end.
func withTemporaryFolder<T>(_ body: (URL) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-pte-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

extension Array where Element == UInt8 {
    func uint32(at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(self[offset + $1]) << (8 * $1) }
    }

    mutating func setUInt32(_ value: UInt32, at offset: Int) {
        for i in 0..<4 { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }

    func uint64(at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(self[offset + $1]) << (8 * $1) }
    }

    mutating func setUInt64(_ value: UInt64, at offset: Int) {
        for i in 0..<8 { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}
