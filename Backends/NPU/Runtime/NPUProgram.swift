/// An NPU program: what `NPUCompiler` writes and `NPURuntime` runs (schema `Schemas/npu.fbs`).
/// Tensors live in main memory; each op is a list of tiles, and each tile loads its operands
/// into on-chip memory by DMA, computes there, and stores its results by DMA.
///
/// ```swift
/// let program = try NPUProgram.decode(bytes)      // verified
/// let bytes = program.encoded()
/// ```
public struct NPUProgram: Sendable, Equatable {
    /// Payload format version.
    public static let version: UInt32 = 1

    /// On-chip memory the program was tiled for (at most ``NPUMachine/sramBytes``).
    public var sramBytes: Int
    /// Main-memory scratch the program's intermediate tensors need.
    public var arenaBytes: Int
    public var tensors: [NPUTensor]
    public var ops: [NPUOp]
    /// The constants' bytes (weights, biases, lookup tables); ``NPUTensor/offset`` points here.
    public var constantData: [UInt8]

    public init(sramBytes: Int, arenaBytes: Int, tensors: [NPUTensor], ops: [NPUOp], constantData: [UInt8]) {
        self.sramBytes = sramBytes
        self.arenaBytes = arenaBytes
        self.tensors = tensors
        self.ops = ops
        self.constantData = constantData
    }
}

/// Element types of NPU tensors. `int4` is packed two per byte (low nibble first), each row
/// (the last dim) starting on a byte.
public enum NPUDType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case int8 = 0, int16 = 1, int32 = 2, float32 = 3, int4 = 4

    /// Bytes of one element (int4: 1, for its packed rows' purposes use ``byteCount(shape:)``).
    public var byteSize: Int {
        switch self {
        case .int8, .int4: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        }
    }

    /// Bytes a tensor of `shape` takes in this dtype.
    public func byteCount(shape: [Int]) -> Int {
        guard self == .int4 else { return shape.reduce(1, *) * byteSize }
        let rowLength = shape.last ?? 1
        return shape.dropLast().reduce(1, *) * ((rowLength + 1) / 2)
    }

    public var description: String { "\(Self.names[Int(rawValue)])" }
    private static let names = ["int8", "int16", "int32", "float32", "int4"]
}

/// One tensor in main memory.
public struct NPUTensor: Sendable, Equatable {
    /// Where the tensor's bytes are.
    public enum Role: UInt8, Sendable {
        /// The delegate's argument ``NPUTensor/index`` (inputs first).
        case input = 0
        /// The delegate's output ``NPUTensor/index`` (argument `inputCount + index`).
        case output = 1
        /// ``NPUProgram/constantData`` at ``NPUTensor/offset``.
        case constant = 2
        /// The main-memory arena at ``NPUTensor/offset``.
        case scratch = 3
    }

    public var dtype: NPUDType
    /// Dims in storage order (4-D activations are NHWC inside a program).
    public var shape: [Int]
    public var role: Role
    /// Input or output position (0 for others).
    public var index: Int
    /// Byte offset in the constant data or the arena.
    public var offset: Int

    public init(dtype: NPUDType, shape: [Int], role: Role, index: Int = 0, offset: Int = 0) {
        self.dtype = dtype
        self.shape = shape
        self.role = role
        self.index = index
        self.offset = offset
    }

    /// Bytes the tensor takes.
    public var byteCount: Int { dtype.byteCount(shape: shape) }
}

/// A two-dimensional DMA transfer: `rows` rows of `rowBytes` bytes between a tensor in main
/// memory (from `mainOffset`, rows `mainStride` apart) and on-chip memory (from `sramOffset`,
/// rows `sramStride` apart).
public struct NPUTransfer: Sendable, Equatable {
    public var tensor: Int
    public var mainOffset: Int
    public var sramOffset: Int
    public var rows: Int
    public var rowBytes: Int
    public var mainStride: Int
    public var sramStride: Int

    public init(tensor: Int, mainOffset: Int, sramOffset: Int, rows: Int = 1, rowBytes: Int,
                mainStride: Int = 0, sramStride: Int = 0) {
        self.tensor = tensor
        self.mainOffset = mainOffset
        self.sramOffset = sramOffset
        self.rows = rows
        self.rowBytes = rowBytes
        self.mainStride = rows > 1 ? mainStride : 0
        self.sramStride = rows > 1 ? sramStride : 0
    }

    /// Bytes moved.
    public var bytes: Int { rows * rowBytes }
}

/// One tile of an op: its loads, the compute on on-chip memory, its stores.
public struct NPUTile: Sendable, Equatable {
    /// Transfers into on-chip memory, done before the compute.
    public var loads: [NPUTransfer]
    /// Transfers out of on-chip memory, done after the compute.
    public var stores: [NPUTransfer]
    /// On-chip addresses of the compute's operands, in the order the op kind states.
    public var sram: [Int]
    /// The part of the op's iteration space this tile computes, as the op kind states.
    public var region: [Int]

    public init(loads: [NPUTransfer], stores: [NPUTransfer], sram: [Int], region: [Int]) {
        self.loads = loads
        self.stores = stores
        self.sram = sram
        self.region = region
    }
}

/// What an op computes; each kind's `params`, `sram` and `region` layouts are listed in
/// Backends/NPU/README.md and checked by ``NPUProgram/decode(_:)``.
public enum NPUOpKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case quantize = 0, dequantize, requantize, copy, transpose, conv2d, fullyConnected, add, mul, lookup, pool2d

    public var description: String { Self.names[Int(rawValue)] }
    private static let names = ["quantize", "dequantize", "requantize", "copy", "transpose", "conv2d",
                                "fully_connected", "add", "mul", "lookup", "pool2d"]

    /// How many integer params the kind takes.
    public var paramCount: Int {
        switch self {
        case .quantize: return 3
        case .dequantize: return 1
        case .requantize: return 4
        case .copy: return 0
        case .transpose: return 8
        case .conv2d: return 19
        case .fullyConnected: return 6
        case .add, .mul: return 5
        case .lookup: return 1
        case .pool2d: return 16
        }
    }

    /// How many on-chip operand addresses a tile gives.
    public var sramCount: Int {
        switch self {
        case .copy: return 1
        case .quantize, .dequantize, .requantize, .transpose, .pool2d: return 2
        case .add, .mul, .lookup: return 3
        case .conv2d, .fullyConnected: return 4
        }
    }

    /// How many region values a tile gives.
    public var regionCount: Int {
        switch self {
        case .quantize, .dequantize, .requantize, .copy, .add, .mul, .lookup: return 1
        case .transpose: return 2
        case .fullyConnected: return 3
        case .pool2d: return 4
        case .conv2d: return 6
        }
    }

    /// How many input tensors the op reads.
    public var inputCount: Int {
        switch self {
        case .quantize, .dequantize, .requantize, .copy, .transpose, .pool2d: return 1
        case .add, .mul, .lookup: return 2
        case .conv2d, .fullyConnected: return 3
        }
    }
}

/// One op: a kind, its tensors, integer parameters (fixed-point multipliers and shifts folded
/// from the scales), float scales only for the edge quantize/dequantize, and its tiles.
public struct NPUOp: Sendable, Equatable {
    public var kind: NPUOpKind
    /// The KilnIR node it came from, for profiles and messages.
    public var name: String
    public var inputs: [Int]
    public var outputs: [Int]
    public var params: [Int]
    public var multipliers: [Int32]
    public var shifts: [Int]
    /// Quantize: `[1 / scale]`; dequantize: `[scale]`; empty otherwise.
    public var scales: [Double]
    public var tiles: [NPUTile]

    public init(kind: NPUOpKind, name: String, inputs: [Int], outputs: [Int], params: [Int],
                multipliers: [Int32] = [], shifts: [Int] = [], scales: [Double] = [], tiles: [NPUTile] = []) {
        self.kind = kind
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.params = params
        self.multipliers = multipliers
        self.shifts = shifts
        self.scales = scales
        self.tiles = tiles
    }
}

/// What went wrong loading or running an NPU program: a message naming the op, tile, transfer
/// or field at fault.
public struct NPUError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "npu: \(message)" }
}
