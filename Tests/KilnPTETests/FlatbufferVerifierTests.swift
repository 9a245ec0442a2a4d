import Foundation
import Testing
import KilnPTE

/// The structural verifier on a valid tiny program (Fixtures/tiny_program.bin, built by
/// scripts/pte/make_verifier_fixtures.sh) and on broken copies of it. Every verifier message
/// has a case that triggers it.
@Suite struct FlatbufferVerifierTests {
    static let prefix = "flatbuffer verification failed"

    static func fixture() throws -> [UInt8] {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return [UInt8](try Data(contentsOf: folder.appendingPathComponent("tiny_program.bin")))
    }

    static func verify(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { FlatbufferVerifier.verify($0) }
    }

    /// Verifies `bytes` expecting a failure whose message contains every one of `fragments`.
    static func expectFailure(_ bytes: [UInt8], _ fragments: String...,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        guard let message = verify(bytes) else {
            Issue.record("expected a verification failure", sourceLocation: sourceLocation)
            return
        }
        #expect(message.hasPrefix(prefix), "\(message)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(message.contains(fragment), "\(message)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Valid buffers

    @Test func validProgramPasses() throws {
        #expect(Self.verify(try Self.fixture()) == nil)
    }

    @Test func trailingBytesAreAllowed() throws {
        // A .pte file has segments after the flatbuffer.
        #expect(Self.verify(try Self.fixture() + [UInt8](repeating: 0xAB, count: 100)) == nil)
    }

    @Test func misalignedStartPasses() throws {
        let bytes = try Self.fixture()
        for shift in 1..<16 {
            let padded = [UInt8](repeating: 0, count: shift) + bytes
            let message = padded.withUnsafeBytes { raw in
                FlatbufferVerifier.verify(UnsafeRawBufferPointer(rebasing: raw[shift...]))
            }
            #expect(message == nil, "shifted by \(shift): \(message ?? "")")
        }
    }

    // MARK: Preconditions

    @Test func emptyBufferFails() {
        #expect(FlatbufferVerifier.verify(UnsafeRawBufferPointer(start: nil, count: 0))?.contains("too small") == true)
    }

    @Test func truncationAtEveryLengthFails() throws {
        let bytes = try Self.fixture()
        for length in 0..<bytes.count {
            let message = Self.verify(Array(bytes[..<length]))
            #expect(message?.hasPrefix(Self.prefix) == true, "truncated to \(length) bytes")
        }
        Self.expectFailure(Array(bytes[..<7]), "too small", "7 bytes")
    }

    @Test func wrongIdentifierFails() throws {
        var bytes = try Self.fixture()
        bytes.replaceSubrange(4..<8, with: Array("ET11".utf8))
        Self.expectFailure(bytes, #"file identifier is "ET11", expected "ET12""#)
        bytes.replaceSubrange(4..<8, with: [0, 1, 0x45, 0xFF])
        Self.expectFailure(bytes, #"file identifier is "\x00\x01E\xff""#)
    }

    @Test func rootOffsetOutsideFails() throws {
        var bytes = try Self.fixture()
        FlatbufferWalk.setUInt32(&bytes, at: 0, UInt32(bytes.count))
        Self.expectFailure(bytes, "root offset \(bytes.count) is not inside")
        FlatbufferWalk.setUInt32(&bytes, at: 0, 4)
        Self.expectFailure(bytes, "root offset 4 is not inside")
    }

    // MARK: Structure

    @Test func programFieldOffsetOutsideFails() throws {
        var bytes = try Self.fixture()
        let walk = FlatbufferWalk(bytes)
        let field = try #require(walk.field(of: walk.root, slot: FixtureSlot.programExecutionPlan))
        FlatbufferWalk.setUInt32(&bytes, at: field, 0x7FFF_0000)
        Self.expectFailure(bytes, "at Program.execution_plan:", "out of bounds")
    }

    @Test func vectorElementOffsetOutsideFails() throws {
        var bytes = try Self.fixture()
        let walk = FlatbufferWalk(bytes)
        let plan = try walk.element(walk.root, slot: FixtureSlot.programExecutionPlan, index: 0)
        let values = try #require(walk.field(of: plan, slot: FixtureSlot.planValues))
        let vector = walk.follow(values)
        FlatbufferWalk.setUInt32(&bytes, at: vector + 4 + 4 * 2, UInt32(bytes.count))
        Self.expectFailure(bytes, "at Program.execution_plan[0].values[2]:")
    }

    @Test func stringWithoutTerminatorFails() throws {
        var bytes = try Self.fixture()
        let walk = FlatbufferWalk(bytes)
        let plan = try walk.element(walk.root, slot: FixtureSlot.programExecutionPlan, index: 0)
        let name = walk.follow(try #require(walk.field(of: plan, slot: FixtureSlot.planName)))
        #expect(String(decoding: bytes[(name + 4)..<(name + 11)], as: UTF8.self) == "forward")
        bytes[name + 4 + 7] = UInt8(ascii: "!")  // the NUL after "forward"
        Self.expectFailure(bytes, "at Program.execution_plan[0].name:", "NUL")
    }

    @Test func misalignedTableFails() throws {
        var bytes = try Self.fixture()
        FlatbufferWalk.setUInt32(&bytes, at: 0, FlatbufferWalk(bytes).uint32(at: 0) + 1)
        Self.expectFailure(bytes, "misaligned")
    }

    // MARK: Union tags

    @Test func unknownKernelTypesTagFails() throws {
        var bytes = try Self.fixture()
        let walk = FlatbufferWalk(bytes)
        let plan = try walk.element(walk.root, slot: FixtureSlot.programExecutionPlan, index: 0)
        let value = try walk.element(plan, slot: FixtureSlot.planValues, index: 3)
        let tag = try #require(walk.field(of: value, slot: FixtureSlot.evalueValType))
        #expect(bytes[tag] == 2)  // Int
        bytes[tag] = 99
        Self.expectFailure(bytes, "at Program.execution_plan[0].values[3].val: KernelTypes tag 99 is not in the schema")
        bytes[tag] = 12  // one past OptionalTensorList
        Self.expectFailure(bytes, "KernelTypes tag 12")
    }

    @Test func unknownInstructionTagFails() throws {
        var bytes = try Self.fixture()
        let walk = FlatbufferWalk(bytes)
        let plan = try walk.element(walk.root, slot: FixtureSlot.programExecutionPlan, index: 0)
        let chain = try walk.element(plan, slot: FixtureSlot.planChains, index: 0)
        let instruction = try walk.element(chain, slot: FixtureSlot.chainInstructions, index: 1)
        let tag = try #require(walk.field(of: instruction, slot: FixtureSlot.instructionArgsType))
        #expect(bytes[tag] == 5)  // FreeCall
        bytes[tag] = 6
        Self.expectFailure(bytes, "chains[0].instructions[1].instr_args: InstructionArguments tag 6 is not in the schema")
    }

    // MARK: Never crashes

    /// Deterministic byte mutations of the fixture: each is accepted or rejected with a message.
    @Test func mutatedBuffersNeverCrash() throws {
        let original = try Self.fixture()
        var random = SplitMix64(seed: 0x6B69_6C6E)
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let at = 8 + Int(random.next() % UInt64(bytes.count - 8))
                bytes[at] = UInt8(truncatingIfNeeded: random.next())
            }
            if let message = Self.verify(bytes) {
                #expect(message.hasPrefix(Self.prefix), "\(message)")
            }
        }
    }
}

/// Field slots (vtable entry numbers, in schema order) used by the tests above.
enum FixtureSlot {
    static let programExecutionPlan = 1
    static let planName = 0
    static let planValues = 2
    static let planChains = 5
    static let evalueValType = 0
    static let chainInstructions = 2
    static let instructionArgsType = 0
}

/// Just enough FlatBuffers reading to find a field's bytes in a valid buffer and break them.
struct FlatbufferWalk {
    struct Missing: Error {}
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func uint32(at position: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[position + $1]) << (8 * $1) }
    }

    func uint16(at position: Int) -> Int {
        Int(bytes[position]) | Int(bytes[position + 1]) << 8
    }

    /// Position of the root table.
    var root: Int { Int(uint32(at: 0)) }

    /// The position an offset field at `position` points to.
    func follow(_ position: Int) -> Int { position + Int(uint32(at: position)) }

    /// Position of field number `slot` of the table at `table`, or nil when absent.
    func field(of table: Int, slot: Int) -> Int? {
        let vtable = table - Int(Int32(bitPattern: uint32(at: table)))
        let entry = 4 + 2 * slot
        guard entry < uint16(at: vtable) else { return nil }
        let offset = uint16(at: vtable + entry)
        return offset == 0 ? nil : table + offset
    }

    /// Position of table `index` of the vector of tables in field `slot` of `table`.
    func element(_ table: Int, slot: Int, index: Int) throws -> Int {
        guard let position = field(of: table, slot: slot) else { throw Missing() }
        let vector = follow(position)
        guard index < Int(uint32(at: vector)) else { throw Missing() }
        return follow(vector + 4 + 4 * index)
    }

    static func setUInt32(_ bytes: inout [UInt8], at position: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[position + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}

/// A small deterministic random generator, so mutation tests fail the same way every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
