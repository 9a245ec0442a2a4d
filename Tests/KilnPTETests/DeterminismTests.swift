import KilnPTE
import Testing

/// The same program always gives the same bytes (DESIGN: "Deterministic output").
@Suite struct DeterminismTests {
    @Test func serializingTwiceGivesTheSameBytes() throws {
        let first = try RichProgram.bytes()
        for _ in 0..<3 {
            #expect(try RichProgram.bytes() == first)
        }
    }

    @Test func equalProgramsBuiltSeparatelyGiveTheSameBytes() throws {
        // Copies that share no storage with the original.
        var copy = RichProgram.file()
        copy.program.executionPlan[0].name = String("forward".reversed().reversed())
        copy.segments = copy.segments.map { Array($0) }
        #expect(try copy.serialized() == RichProgram.bytes())
    }

    @Test func layingOutSegmentsTwiceChangesNothing() throws {
        var file = RichProgram.file()
        let before = file
        try file.layOutSegments()
        #expect(file == before)
        #expect(try file.serialized() == before.serialized())
    }

    @Test func mismatchedSegmentCountIsASerializeError() {
        var file = RichProgram.file()
        file.segments.removeLast()
        #expect(throws: PTEError.self) { try file.serialized() }
        do {
            _ = try file.serialized()
        } catch {
            #expect(error.kind == .serialize)
            #expect(error.message == "the program lists 4 segments but the file has 3 payloads")
        }
    }
}
