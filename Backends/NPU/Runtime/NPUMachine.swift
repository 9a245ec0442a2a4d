/// The simulated NPU: the fixed figures of the machine model (Backends/NPU/README.md) that the
/// compiler tiles against, the runtime enforces, and the cost model prices.
///
/// ```swift
/// NPUMachine.sramBytes                       // 8 MiB of on-chip memory
/// NPUMachine.macsPerCycle(activation: .int8, weightBits: 8)   // 2048
/// ```
public enum NPUMachine {
    /// On-chip memory (SRAM): every tile's operands must fit in it.
    public static let sramBytes = 8 << 20
    /// Clock in Hz: one cycle is one nanosecond.
    public static let clockHz = 1_000_000_000
    /// Bytes one DMA engine moves per cycle between main memory and on-chip memory.
    public static let dmaBytesPerCycle = 32
    /// Fixed cycles to start one DMA transfer (descriptor fetch, address setup).
    public static let dmaSetupCycles = 32
    /// Elements the vector unit processes per cycle (elementwise ops, pooling windows, lookups).
    public static let vectorElementsPerCycle = 64
    /// Fixed cycles per delegate call (command submission and completion), 50 µs.
    public static let callOverheadCycles = 50_000

    /// Multiply-accumulates per cycle of the matrix unit: 2048 for 8-bit activations, 512 for
    /// 16-bit ones (with 8- or 4-bit weights).
    public static func macsPerCycle(activation: NPUDType, weightBits: Int) -> Int {
        activation == .int16 ? 512 : 2048
    }

    /// Energy of one multiply-accumulate in picojoules.
    public static func picojoulesPerMAC(activation: NPUDType) -> Double {
        activation == .int16 ? 1.0 : 0.25
    }

    /// Energy of moving one byte between main memory and on-chip memory, in picojoules.
    public static let picojoulesPerDMAByte = 10.0
    /// Energy of one vector-unit element operation, in picojoules.
    public static let picojoulesPerVectorElement = 0.5

    /// Largest right shift a requantization may use.
    public static let maxShift = 62
}

/// The machine's one rounding rule: `(acc * multiplier + 2^(shift-1)) >> shift` in exact
/// (128-bit) arithmetic with an arithmetic right shift, i.e. round half toward +infinity; with
/// `shift == 0` the product itself. The result saturates to ±2^62, far beyond any output range,
/// so adding a (checked, 16-bit) zero point before the final clamp cannot overflow.
@inline(__always)
public func npuRequantize(_ acc: Int64, multiplier: Int32, shift: Int) -> Int64 {
    let product = Int128(acc) * Int128(multiplier)
    let limit = Int128(1) << 62
    let v = shift > 0 ? (product + (Int128(1) << (shift - 1))) >> shift : product
    return Int64(min(max(v, -limit), limit))
}

/// Products and sums of untrusted payload values, saturating instead of trapping, so a bound
/// check on the result rejects rather than crashes.
enum Saturating {
    static func product(_ values: Int...) -> Int {
        var result = 1
        for v in values {
            let (p, overflow) = result.multipliedReportingOverflow(by: v)
            if overflow { return Int.max / 4 }
            result = p
        }
        return result
    }

    static func sum(_ values: Int...) -> Int {
        var result = 0
        for v in values {
            let (s, overflow) = result.addingReportingOverflow(v)
            if overflow { return Int.max / 4 }
            result = s
        }
        return result
    }
}
