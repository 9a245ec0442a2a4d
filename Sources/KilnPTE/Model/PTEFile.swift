/// A whole `.pte` file as values: the program plus the segments it refers to (constant data,
/// delegate payloads), written after the flatbuffer at `segmentAlignment`-aligned offsets.
///
/// ```swift
/// let bytes = try PTEFile(program: program, segments: [constants]).serialized()
/// let file = try PTEFile(decoding: bytes)      // verified first
/// ```
public struct PTEFile: Equatable, Sendable {
    public var program: PTE.Program
    /// Segment payloads, in `program.segments` order (their offsets and sizes are filled in on
    /// serialization).
    public var segments: [[UInt8]]

    /// Segments start at multiples of this many bytes, so they can be memory-mapped.
    public static let segmentAlignment = 128
    /// Kiln aligns each tensor inside the constant segment to this many bytes (ExecuTorch: 16).
    public static let constantTensorAlignment = 64

    public init(program: PTE.Program, segments: [[UInt8]] = []) {
        self.program = program
        self.segments = segments
    }
}
