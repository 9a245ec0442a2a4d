import KilnIR
import KilnOps
import KilnTensor
import NPUCompiler
import NPURuntime

/// Builds hand-quantized `dq → op → q` graphs the way PT2E's convert writes them, and runs
/// them through the NPU compiler and simulator.
struct QGraph {
    var b = GraphBuilder(name: "npu_test")

    static func range(_ dt: DType) -> (Int, Int) { dt == .int16 ? (-32768, 32767) : (-128, 127) }

    /// Activation parameters over the whole range of `dt` (scales rounded to float32, as a
    /// calibrated graph stores them).
    static func q(_ scale: Double, _ zp: Int, _ dt: DType = .int8) -> Ref.Q {
        let (lo, hi) = range(dt)
        return Ref.Q(scale: Double(Float(scale)), zp: zp, lo: lo, hi: hi)
    }

    mutating func input(_ name: String, _ shape: [Int], _ dt: DType = .int8) throws -> ValueID {
        try b.input(name, TensorType(dt, static: shape))
    }

    mutating func dq(_ v: ValueID, _ q: Ref.Q, _ dt: DType = .int8) throws -> ValueID {
        let (lo, hi) = Self.range(dt)
        return try b.call("quantized_decomposed.dequantize_per_tensor", [v],
                          ["scale": .float(q.scale), "zero_point": .int(q.zp), "quant_min": .int(lo), "quant_max": .int(hi),
                           "dtype": .dtype(dt)])[0]
    }

    mutating func q(_ v: ValueID, _ q: Ref.Q, _ dt: DType = .int8) throws -> ValueID {
        let (lo, hi) = Self.range(dt)
        return try b.call("quantized_decomposed.quantize_per_tensor", [v],
                          ["scale": .float(q.scale), "zero_point": .int(q.zp), "quant_min": .int(lo), "quant_max": .int(hi),
                           "dtype": .dtype(dt)])[0]
    }

    /// An int8 constant (4-bit values when `bits` is 4) dequantized per channel along `axis`.
    mutating func weight(_ name: String, _ values: [Int], _ shape: [Int], scales: [Double], axis: Int = 0,
                         bits: Int = 8) throws -> ValueID {
        let c = try b.constant(name, Tensor(values.map { Int8($0) }, shape: shape))
        let s = try b.constant("\(name).scales", Tensor(scales.map { Float($0) }, shape: [scales.count]))
        let (lo, hi) = bits == 4 ? (-8, 7) : (-128, 127)
        return try b.call("quantized_decomposed.dequantize_per_channel", [c, s, nil],
                          ["axis": .int(axis), "quant_min": .int(lo), "quant_max": .int(hi), "dtype": .dtype(.int8)])[0]
    }

    mutating func constant(_ name: String, _ values: [Float]) throws -> ValueID {
        try b.constant(name, Tensor(values, shape: [values.count]))
    }

    mutating func finish(_ outputs: ValueID...) throws -> Graph {
        b.output(outputs)
        return try b.finish()
    }
}

/// A small deterministic generator for test data.
struct Numbers {
    var state: UInt64

    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    mutating func ints(_ count: Int, _ range: ClosedRange<Int>) -> [Int] {
        (0..<count).map { _ in range.lowerBound + Int(next() % UInt64(range.count)) }
    }

    mutating func floats(_ count: Int, _ range: ClosedRange<Float>) -> [Float] {
        (0..<count).map { _ in range.lowerBound + Float(next() % 10000) / 10000 * (range.upperBound - range.lowerBound) }
    }

    /// Scales in `range` rounded to float32.
    mutating func scales(_ count: Int, _ range: ClosedRange<Double>) -> [Double] {
        floats(count, Float(range.lowerBound)...Float(range.upperBound)).map(Double.init)
    }
}

enum NPU {
    /// Compiles `graph` for an on-chip memory of `sram` bytes and runs it on integer inputs.
    static func run(_ graph: Graph, _ inputs: [Tensor], sram: Int = NPUMachine.sramBytes) throws -> (outputs: [Tensor], exe: NPUExecutable) {
        let program = try NPUCompiler(sramBytes: sram).program(for: graph)
        let exe = try program.encoded().withUnsafeBytes { try NPUExecutable(payload: $0) }
        let outputs = try graph.outputs.map { v in
            try Tensor(zeros: graph.type(of: v).dtype, shape: graph.type(of: v).staticShape!)
        }
        try exe.run(inputs: inputs, outputs: outputs)
        return (outputs, exe)
    }

    static func ints(_ t: Tensor) -> [Int] {
        t.dtype == .int16 ? t.scalars(as: Int16.self).map(Int.init) : t.scalars(as: Int8.self).map(Int.init)
    }

    static func tensor(_ values: [Int], _ shape: [Int], _ dt: DType = .int8) throws -> Tensor {
        dt == .int16 ? try Tensor(values.map { Int16($0) }, shape: shape) : try Tensor(values.map { Int8($0) }, shape: shape)
    }
}
