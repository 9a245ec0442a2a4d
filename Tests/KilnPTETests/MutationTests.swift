import KilnPTE
import KilnTensor
import Testing

/// Seeded random damage to a valid file: byte flips, interesting values, insertions, deletions,
/// truncations. Every result must decode or throw a PTEError, with the FlatBuffers verifier in
/// front and without it (Kiln's reader and semantic checks alone).
@Suite struct MutationTests {
    static let interesting: [UInt32] = [0, 1, 4, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFC]

    /// Applies one random edit, mostly inside the first `hot` bytes (the flatbuffer).
    static func mutate(_ bytes: inout [UInt8], hot: Int, _ rng: inout SeededGenerator) {
        guard !bytes.isEmpty else { bytes = [UInt8.random(in: 0...255, using: &rng)]; return }
        let limit = Int.random(in: 0..<8, using: &rng) == 0 ? bytes.count : min(hot, bytes.count)
        let at = Int.random(in: 0..<limit, using: &rng)
        switch Int.random(in: 0..<8, using: &rng) {
        case 0, 1:  // flip bits of one byte
            bytes[at] ^= UInt8.random(in: 1...255, using: &rng)
        case 2:  // an interesting byte
            bytes[at] = [0, 1, 0x7F, 0x80, 0xFF, 12, 6].randomElement(using: &rng)!
        case 3:  // an interesting 32-bit value (offsets, counts, soffsets)
            let value = interesting.randomElement(using: &rng)!
            for i in 0..<min(4, bytes.count - at) { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        case 4:  // insert a few bytes
            bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) },
                         at: at)
        case 5:  // delete a few bytes
            bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &rng)))
        case 6:  // truncate
            bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &rng)...)
        default:  // a small change to a 32-bit little-endian value
            let delta = UInt32(bitPattern: Int32.random(in: -16...16, using: &rng))
            var value: UInt32 = 0
            for i in 0..<min(4, bytes.count - at) { value |= UInt32(bytes[at + i]) << (8 * i) }
            value &+= delta
            for i in 0..<min(4, bytes.count - at) { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
    }

    /// Opens `bytes` without the FlatBuffers verifier and walks everything: the semantic checks
    /// and a full decode. Returns the error, nil when everything read.
    static func walkUnverified(_ bytes: [UInt8]) -> PTEError? {
        bytes.withUnsafeBytes { raw in
            do throws(PTEError) {
                let view = try PTEProgramView(file: raw, path: "m.pte", verify: false)
                try SemanticChecks.check(view)
                _ = try PTEFile(view)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test func tenThousandMutatedFilesDecodeOrFailCleanly() throws {
        let original = try RichProgram.bytes()
        let programSize = Int(original.uint64(at: 16))
        var rng = SeededGenerator(seed: 0x5054_4531)
        var decoded = 0, rejected = 0
        var kinds: [PTEError.Kind: Int] = [:]
        for _ in 0..<10_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) { Self.mutate(&bytes, hot: programSize, &rng) }
            do {
                let file = try PTEFile(decoding: bytes, path: "m.pte")
                decoded += 1
                // Whatever decodes writes back out and reads back as the same program (with
                // Kiln's segment layout; compared as bytes, so NaN payloads compare too).
                let rewritten = try file.serialized()
                #expect(try PTEFile(decoding: rewritten).serialized() == rewritten)
            } catch {
                rejected += 1
                kinds[error.kind, default: 0] += 1
                #expect(error.path == "m.pte")
                #expect(!error.message.isEmpty)
            }
            _ = Self.walkUnverified(bytes)
        }
        #expect(decoded + rejected == 10_000)
        #expect(rejected > 5_000, "only \(rejected) of 10,000 mutated files were rejected")
        for kind in [PTEError.Kind.truncated, .identifier, .header, .flatbuffer, .index] {
            #expect(kinds[kind, default: 0] > 0, "no \(kind) errors among \(kinds)")
        }
    }

    /// Without the verifier, Kiln's reader alone meets every malformed offset.
    @Test func readerAloneSurvivesMutations() throws {
        let original = try RichProgram.bytes()
        let programSize = Int(original.uint64(at: 16))
        var rng = SeededGenerator(seed: 0x4B49_4C4E)
        var kinds = Set<PTEError.Kind>()
        for _ in 0..<5_000 {
            var bytes = original
            Self.mutate(&bytes, hot: programSize, &rng)
            if let error = Self.walkUnverified(bytes) { kinds.insert(error.kind) }
        }
        #expect(kinds.contains(.outOfRange))
        #expect(kinds.contains(.flatbuffer))
    }
}
