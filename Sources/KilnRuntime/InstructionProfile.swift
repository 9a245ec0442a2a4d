#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-instruction counts and times of a profiled method, indexed like ``Method/instructions``.
/// Recording writes into arrays allocated with the method, so profiling does not allocate.
///
/// ```swift
/// method.isProfiling = true
/// for _ in 0..<100 { try method.execute() }
/// for info in method.instructions { print(info, method.profile.nanoseconds[info.index] / 100) }
/// ```
public struct InstructionProfile: Sendable {
    /// Times each instruction ran.
    public private(set) var counts: [Int]
    /// Total monotonic-clock nanoseconds spent in each instruction.
    public private(set) var nanoseconds: [UInt64]
    /// Profiled ``Method/execute()`` calls that ran to the end.
    public private(set) var executions: Int = 0

    init(instructionCount: Int) {
        counts = [Int](repeating: 0, count: instructionCount)
        nanoseconds = [UInt64](repeating: 0, count: instructionCount)
    }

    /// Nanoseconds over all instructions.
    public var totalNanoseconds: UInt64 { nanoseconds.reduce(0, &+) }

    /// Sets every count and time back to zero.
    public mutating func reset() {
        for i in counts.indices {
            counts[i] = 0
            nanoseconds[i] = 0
        }
        executions = 0
    }

    @inline(__always)
    mutating func record(_ instruction: Int, _ elapsed: UInt64) {
        counts[instruction] &+= 1
        nanoseconds[instruction] &+= elapsed
    }

    @inline(__always)
    mutating func finishExecution() {
        executions &+= 1
    }
}

