import KilnTensor

/// A small, fully specified pseudo-random generator (SplitMix64) so that the example models'
/// weights are the same bytes on every run and every machine.
///
/// Each tensor draws from its own stream, derived from the seed and the tensor's name, so adding
/// or reordering a layer never changes the weights of the others.
///
/// ```swift
/// var rng = SeededRandom(seed: 2024, stream: "fc1.weight")
/// let w = rng.uniform(count: 512 * 256, in: -0.0625 ... 0.0625)
/// ```
struct SeededRandom {
    private var generator: SeededGenerator

    /// A generator for `stream` (any name) under `seed`.
    init(seed: UInt64, stream: String) {
        generator = SeededGenerator(seed: seed ^ Self.fnv1a(stream))
        // Discard one output so that nearby seeds and names start far apart.
        _ = next()
    }

    /// The next 64 random bits (KilnTensor's SplitMix64).
    mutating func next() -> UInt64 { generator.next() }

    /// A double uniform in [0, 1), from the top 53 bits.
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// `count` floats uniform in `range` (PyTorch's `uniform_(low, high)`).
    mutating func uniform(count: Int, in range: ClosedRange<Double>) -> [Float] {
        let width = range.upperBound - range.lowerBound
        return (0..<count).map { _ in Float(range.lowerBound + width * unit()) }
    }

    /// `count` floats with mean 0 and variance 1, normal-ish: the Irwin-Hall sum of twelve
    /// uniforms minus 6. Plain arithmetic, no `log` or `cos`, so the bits do not depend on the
    /// platform's math library.
    mutating func normal(count: Int) -> [Float] {
        (0..<count).map { _ in
            var sum = 0.0
            for _ in 0..<12 { sum += unit() }
            return Float(sum - 6)
        }
    }

    /// 64-bit FNV-1a of the UTF-8 bytes of `text`.
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }
}
