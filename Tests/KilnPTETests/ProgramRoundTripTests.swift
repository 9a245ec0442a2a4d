import KilnPTE
import Testing

/// `PTEFile(decoding: file.serialized()) == file`, for Kiln's rich program and for files
/// ExecuTorch wrote.
@Suite struct ProgramRoundTripTests {
    @Test func richProgramRoundTrips() throws {
        let file = RichProgram.file()
        let bytes = try file.serialized()
        let decoded = try PTEFile(decoding: bytes, path: "rich.pte")
        #expect(decoded.program == file.program)
        #expect(decoded.segments == file.segments)
        #expect(decoded == file)
    }

    @Test func everyValueAndInstructionKindIsCovered() {
        let plan = RichProgram.file().program.executionPlan[0]
        #expect(Set(plan.values.map(\.unionTag)) == Set(1...11))
        #expect(Set(plan.chains[0].instructions.map(\.unionTag)) == Set(1...5))
    }

    @Test func emptyProgramRoundTrips() throws {
        let file = PTEFile(program: PTE.Program())
        #expect(try PTEFile(decoding: file.serialized()) == file)
    }

    @Test func legacyInlineConstantsRoundTrip() throws {
        let plan = PTE.ExecutionPlan(name: "forward", values: [RichProgram.tensor(.char, [3], data: 1)],
                                     outputs: [0], chains: [PTE.Chain(inputs: [], outputs: [0], instructions: [])])
        let file = PTEFile(program: PTE.Program(version: 3, executionPlan: [plan],
                                                constantBuffer: [PTE.Buffer(), PTE.Buffer(storage: [1, 2, 3])]))
        let bytes = try file.serialized()
        #expect(try PTEFile(decoding: bytes) == file)
        try bytes.withUnsafeBytes { raw in
            let view = try PTEProgramView(file: raw)
            #expect(Array(try view.constantData(bufferIndex: 1, byteCount: 3)) == [1, 2, 3])
            #expect(view.version == 3)
        }
    }

    @Test func reserializingADecodedFileGivesTheSameBytes() throws {
        let bytes = try RichProgram.bytes()
        #expect(try PTEFile(decoding: bytes).serialized() == bytes)
    }

    @Test(arguments: ["executorch/tiny_mlp.pte", "executorch/tiny_cnn.pte", "executorch/cnn.pte"])
    func executorchFileDecodesAndRoundTrips(_ name: String) throws {
        let original = try Fixtures.bytes(name)
        let file = try PTEFile(decoding: original, path: name)
        let plan = try #require(file.program.executionPlan.first)
        #expect(plan.name == "forward")
        #expect(!plan.values.isEmpty && !plan.operators.isEmpty)
        #expect(plan.chains.first?.instructions.isEmpty == false)
        #expect(file.program.constantSegment?.offsets.isEmpty == false)
        // Kiln's writing of ExecuTorch's program reads back as the same program and segments.
        let rewritten = try file.serialized()
        #expect(try PTEFile(decoding: rewritten) == file)
    }
}
