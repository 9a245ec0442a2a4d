import KilnPTE

/// The quantized weights of a `.pte` as stored: every dequantize KernelCall whose input is a
/// constant counts its constant operands (integer values, scales, zero points) as stored bytes,
/// and its output's elements at 4 bytes as the f32 weight it stands for (what the float program
/// stores for that weight).
///
/// ```swift
/// let sizes = PTEWeightSizes(try PTEFile(decoding: bytes))
/// sizes.reduction     // 0.74: the quantized weights take 26% of their f32 bytes, scales included
/// ```
public struct PTEWeightSizes: Sendable, Hashable {
    /// Bytes of the constants the dequantize calls read (values, scales and zero points).
    public var quantizedBytes: Int
    /// Bytes the same weights take as f32.
    public var floatBytes: Int
    /// Dequantize calls on constants.
    public var weights: Int

    /// 1 - quantized / float (0 when there are no quantized weights).
    public var reduction: Double { floatBytes == 0 ? 0 : 1 - Double(quantizedBytes) / Double(floatBytes) }

    /// The operators that dequantize folded weights.
    public static let dequantizeOperators: Set<String> = [
        "quantized_decomposed::dequantize_per_channel", "quantized_decomposed::dequantize_per_channel_group",
        "quantized_decomposed::dequantize_per_tensor", "kiln::dequantize_per_channel_group_int4",
    ]

    public init(_ file: PTEFile) {
        (quantizedBytes, floatBytes, weights) = (0, 0, 0)
        var counted: Set<Int32> = []
        for plan in file.program.executionPlan {
            func constantBytes(_ index: Int32) -> Int? {
                guard index >= 0, Int(index) < plan.values.count, case .tensor(let t) = plan.values[Int(index)],
                      t.dataBufferIdx > 0 else { return nil }
                return t.sizes.reduce(1) { $0 * Int($1) } * t.scalarType.elementSize
            }
            for chain in plan.chains {
                for instruction in chain.instructions {
                    guard case .kernelCall(let op, let args) = instruction, op >= 0, Int(op) < plan.operators.count,
                          Self.dequantizeOperators.contains(plan.operators[Int(op)].name),
                          let first = args.first, constantBytes(first) != nil, let out = args.last,
                          out >= 0, Int(out) < plan.values.count, case .tensor(let output) = plan.values[Int(out)] else { continue }
                    weights += 1
                    floatBytes += output.sizes.reduce(1) { $0 * Int($1) } * 4
                    for a in args.dropLast() where !counted.contains(a) {
                        guard let bytes = constantBytes(a) else { continue }
                        counted.insert(a)
                        quantizedBytes += bytes
                    }
                }
            }
        }
    }
}
