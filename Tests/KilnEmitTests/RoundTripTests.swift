import KilnEmit
import KilnExamples
import KilnIR
import KilnPTE
import Testing

/// What the emitter builds survives serialization: decoding the bytes (which verifies them)
/// gives back the same program, field for field.
@Suite struct RoundTripTests {
    @Test(arguments: ExampleModels.Name.allCases)
    func examplesDecodeToWhatWasEmitted(_ name: ExampleModels.Name) throws {
        let result = try KilnCompiler.compile(try ExampleModels.build(name).graph)
        let decoded = try PTEFile(decoding: result.bytes, path: "\(name).pte")
        #expect(decoded.program == result.file.program)
        #expect(decoded.segments == result.file.segments)
        #expect(decoded == result.file)
        #expect(result.report.fileBytes == result.bytes.count)
    }

    @Test func tinyGraphDecodesToWhatWasEmitted() throws {
        let file = try PTEEmitter().emit(try parse(EmitterTests.tiny))
        let bytes = try file.serialized()
        #expect(try PTEFile(decoding: bytes, path: "tiny.pte") == file)
        // And serializing again gives the same bytes.
        #expect(try PTEFile(decoding: bytes).serialized() == bytes)
    }

    @Test func symbolicGraphDecodesToWhatWasEmitted() throws {
        let g = try parse("""
            symbol seq in 1...64
            graph @forward(%x: f32[1, seq, 8]) {
              %w = constant f32[4, 8] dense [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8]
              %y = linear(%x, %w) loc("fc")
              %z = _softmax(%y, dim=-1, half_to_float=false)
              return %z
            }
            """)
        let result = try KilnCompiler.compile(g)
        #expect(try PTEFile(decoding: result.bytes) == result.file)
    }
}
