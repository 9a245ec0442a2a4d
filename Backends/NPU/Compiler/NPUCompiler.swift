import KilnBackendDescriptors
import KilnIR
import KilnPartition
import KilnQuant
import NPURuntime

/// The NPU backend's compiler: lowers a quantized partition (`dequantize → op → quantize`
/// patterns with int8/int16 activations and int8/int4 constant weights) to an NPU program:
/// scales folded into int32 multipliers and shifts, 4-D activations in NHWC, every op tiled to
/// fit on-chip memory, every operand moved by explicit DMA (Backends/NPU/README.md).
///
/// ```swift
/// BackendCatalog.shared.register(NPUCompiler())
/// let payload = try NPUCompiler().preprocess(partition, compileSpecs: [])
/// ```
public struct NPUCompiler: BackendCompiler {
    /// The descriptor embedded from Backends/NPU/descriptor.json.
    public let descriptor: BackendDescriptor
    /// On-chip memory to tile for (the machine's by default; smaller values force more tiles).
    public var sramBytes: Int

    /// - Parameter sramBytes: on-chip bytes to tile for, at most ``NPUMachine/sramBytes``.
    public init(sramBytes: Int = NPUMachine.sramBytes) {
        let path = "Backends/NPU/descriptor.json"
        descriptor = .embedded(EmbeddedDescriptors.json(at: path), file: path)
        self.sramBytes = min(max(sramBytes, 256), NPUMachine.sramBytes)
    }

    /// Lowers `partition` to an NPU program payload.
    /// - Throws: ``NPUCompileError`` naming the node and why it cannot be lowered.
    public func preprocess(_ partition: Partition, compileSpecs: [LoweredDelegate.CompileSpec]) throws -> DelegatePayload {
        DelegatePayload(bytes: try program(for: partition.graph).encoded())
    }

    /// The NPU's presets: `int8` and `8a8w` (int8 per-tensor affine activations, int8 symmetric
    /// per-channel weights) and `16a8w` (int16 activations); `16a4w` is not built yet (the
    /// compiler lowers 4-bit per-channel weights, but no quantizer emits them).
    public func quantizer(for scheme: String) -> (any Quantizer)? {
        switch scheme {
        // Every op requantizes on the NPU, so activations are patterns of their own.
        case "int8", "8a8w": return XNNPACKQuantizer(activation: .int8Activation(), fusesActivations: false)
        case "16a8w":
            return XNNPACKQuantizer(activation: QuantizationSpec(dtype: .int16, symmetric: false, granularity: .perTensor),
                                    fusesActivations: false)
        default: return nil
        }
    }

    /// Adds `8a8w` and `16a8w` to the quantization schemes `--quantize` accepts (`int8` is built in).
    public static func registerSchemes() {
        for (name, summary) in [("8a8w", "NPU: int8 activations per tensor, int8 per-channel weights"),
                                ("16a8w", "NPU: int16 activations per tensor, int8 per-channel weights")] {
            QuantizationSchemes.register(name, summary: summary) { argument throws(QuantError) in
                guard argument == nil else { throw QuantError(.unknownScheme, "\(name) takes no argument") }
                return QuantizationScheme(name: name, summary: summary,
                                          quantizers: [NPUCompiler().quantizer(for: name)!], needsCalibration: true)
            }
        }
    }

    /// The NPU program for a partition's graph.
    /// - Throws: ``NPUCompileError`` naming the node and why it cannot be lowered.
    public func program(for graph: Graph) throws(NPUCompileError) -> NPUProgram {
        var lowering = NPULowering(graph: graph, sramBytes: sramBytes)
        return try lowering.lower()
    }
}

/// Why a partition cannot be lowered to the NPU: the node (`%y = convolution (#3, loc("conv1"))`)
/// and the reason.
public struct NPUCompileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "npu: \(message)" }
}

/// Real multipliers as the machine's fixed point: `real ≈ multiplier * 2^-shift`.
public enum NPUFixedPoint {
    /// The int32 multiplier in [2^30, 2^31) and right shift in 0...62 closest to `real`
    /// (multipliers below 2^-32 lose bits to keep the shift at 62; zero gives (0, 0)).
    /// - Throws: ``NPUCompileError`` when `real` is negative, not finite, or at least 2^31.
    public static func fold(_ real: Double) throws(NPUCompileError) -> (multiplier: Int32, shift: Int) {
        guard real.isFinite, real >= 0 else { throw NPUCompileError("scale ratio \(real) is not a finite non-negative number") }
        guard real > 0 else { return (0, 0) }
        let folded = try shared([real])
        return (folded.multipliers[0], folded.shift)
    }

    /// Multipliers for several reals with one shift, chosen for the largest.
    public static func shared(_ reals: [Double]) throws(NPUCompileError) -> (multipliers: [Int32], shift: Int) {
        guard let largest = reals.max(), largest > 0, largest.isFinite, reals.allSatisfy({ $0 >= 0 }) else {
            throw NPUCompileError("scale ratios \(reals) are not finite and positive")
        }
        var shift = 30 - Int(largest.exponent)
        if (largest * pow2(shift)).rounded(.toNearestOrEven) >= 2147483648 { shift -= 1 }
        shift = min(shift, NPUMachine.maxShift)
        guard shift >= 0 else { throw NPUCompileError("scale ratio \(largest) is too large for an int32 multiplier") }
        let ms = reals.map { Int32(min(($0 * pow2(shift)).rounded(.toNearestOrEven), 2147483647)) }
        return (ms, shift)
    }

    private static func pow2(_ e: Int) -> Double { Double(sign: .plus, exponent: e, significand: 1) }
}
