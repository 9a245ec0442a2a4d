#if canImport(Glibc)
import Glibc
#endif
import KilnTensor

/// A verified NPU program bound to its simulated machine: on-chip memory of the program's
/// size, a main-memory arena for intermediates, and the static cost of each op.
///
/// ```swift
/// let exe = try NPUExecutable(payload: bytes)
/// try exe.run(inputs: [x], outputs: [y])       // integer simulation, bit-exact
/// exe.opCycles                                   // simulated cycles per op
/// ```
public final class NPUExecutable: @unchecked Sendable {
    public let program: NPUProgram
    /// Simulated cycles of each op (DMA in, compute and DMA out of its tiles, one after another).
    public let opCycles: [Int]
    /// Simulated energy of each op in picojoules.
    public let opEnergyPicojoules: [Double]
    /// All ops plus the call overhead.
    public let totalCycles: Int
    public let inputCount: Int
    public let outputCount: Int

    let geometries: [NPUOpGeometry]
    /// On-chip bytes any tile operand or transfer reaches (what a run clears).
    let sramUsed: Int
    let sram: UnsafeMutableRawPointer
    let arena: UnsafeMutableRawPointer
    let constants: UnsafeMutableRawPointer
    /// Each tensor's main-memory base for the current run (inputs and outputs bound per call).
    let bases: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Tensor ids of the inputs and outputs by position.
    let inputTensors: [Int]
    let outputTensors: [Int]

    /// Decodes and verifies `payload` and allocates the machine's memories.
    /// - Throws: ``NPUError`` for a malformed program.
    public init(payload: UnsafeRawBufferPointer) throws(NPUError) {
        let (program, verified) = try NPUProgram.decodeVerified(payload)
        self.program = program
        let geometries = verified.geometries
        self.geometries = geometries
        sramUsed = verified.sramUsed
        var cycles: [Int] = [], energy: [Double] = []
        for (op, g) in zip(program.ops, geometries) {
            let cost = NPUCost.of(op, g, program.tensors)
            cycles.append(cost.cycles)
            energy.append(cost.picojoules)
        }
        opCycles = cycles
        opEnergyPicojoules = energy
        totalCycles = cycles.reduce(NPUMachine.callOverheadCycles) { Saturating.sum($0, $1) }
        // calloc: pages are zeroed lazily, and a size the machine cannot give is an error, not a trap.
        guard let arena = calloc(max(program.arenaBytes, 1), 1) else {
            throw NPUError("cannot allocate the program's \(program.arenaBytes)-byte main-memory arena")
        }
        self.arena = arena
        sram = .allocate(byteCount: max(program.sramBytes, 1), alignment: 64)
        let constants = UnsafeMutableRawPointer.allocate(byteCount: max(program.constantData.count, 1), alignment: 64)
        program.constantData.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { constants.copyMemory(from: base, byteCount: bytes.count) }
        }
        self.constants = constants
        bases = .allocate(capacity: max(program.tensors.count, 1))
        var ins: [(Int, Int)] = [], outs: [(Int, Int)] = []
        for (id, t) in program.tensors.enumerated() {
            switch t.role {
            case .constant: bases[id] = constants + t.offset
            case .scratch: bases[id] = arena + t.offset
            case .input: bases[id] = nil; ins.append((t.index, id))
            case .output: bases[id] = nil; outs.append((t.index, id))
            }
        }
        inputTensors = ins.sorted { $0.0 < $1.0 }.map(\.1)
        outputTensors = outs.sorted { $0.0 < $1.0 }.map(\.1)
        inputCount = inputTensors.count
        outputCount = outputTensors.count
    }

    deinit {
        sram.deallocate()
        free(arena)
        constants.deallocate()
        bases.deallocate()
    }

    /// Runs the program on `inputs`, writing `outputs` (byte sizes must match the program's).
    /// - Throws: ``NPUError`` naming the argument whose size or count is wrong.
    public func run(inputs: [Tensor], outputs: [Tensor]) throws(NPUError) {
        guard inputs.count == inputCount, outputs.count == outputCount else {
            throw NPUError("expected \(inputCount) inputs and \(outputCount) outputs, got \(inputs.count) and \(outputs.count)")
        }
        for (i, t) in inputs.enumerated() { try bind(argument: i, t) }
        for (i, t) in outputs.enumerated() { try bind(argument: inputCount + i, t) }
        runBound()
    }

    /// Binds delegate argument `index` (inputs, then outputs) to `tensor`'s bytes.
    /// - Throws: ``NPUError`` when its byte size differs from the program's tensor.
    func bind(argument index: Int, _ tensor: Tensor) throws(NPUError) {
        let id = index < inputCount ? inputTensors[index] : outputTensors[index - inputCount]
        let expected = program.tensors[id]
        guard tensor.byteCount == expected.byteCount else {
            throw NPUError("argument \(index) has \(tensor.byteCount) bytes (\(tensor)), the program expects \(expected.byteCount) (\(expected.dtype)\(expected.shape))")
        }
        bases[id] = tensor.unsafeMutableRawBytes.baseAddress
    }

    /// Runs every op's tiles with the bound arguments: loads, compute on on-chip memory, stores.
    /// On-chip memory starts zeroed on every run (the bytes any tile or transfer reaches).
    func runBound() {
        memset(sram, 0, sramUsed)
        for i in program.ops.indices {
            let op = program.ops[i]
            let g = geometries[i]
            for tile in op.tiles {
                for d in tile.loads { transfer(d, load: true) }
                NPUKernels.compute(op, g, tile, sram: sram)
                for d in tile.stores { transfer(d, load: false) }
            }
        }
    }

    @inline(__always)
    private func transfer(_ d: NPUTransfer, load: Bool) {
        guard let base = bases[d.tensor], d.rowBytes > 0 else { return }
        for r in 0..<d.rows {
            let main = base + d.mainOffset + r * d.mainStride
            let chip = sram + d.sramOffset + r * d.sramStride
            if load { chip.copyMemory(from: main, byteCount: d.rowBytes) } else { main.copyMemory(from: chip, byteCount: d.rowBytes) }
        }
    }
}

/// The cost model: cycles and energy of one op from its tiles (Backends/NPU/README.md).
enum NPUCost {
    static func of(_ op: NPUOp, _ g: NPUOpGeometry, _ tensors: [NPUTensor]) -> (cycles: Int, picojoules: Double) {
        var cycles = 0, joules = 0.0
        let act = g.inTypes.first ?? .int8
        for tile in op.tiles {
            for d in tile.loads + tile.stores {
                cycles = Saturating.sum(cycles, NPUMachine.dmaSetupCycles, (d.bytes + NPUMachine.dmaBytesPerCycle - 1) / NPUMachine.dmaBytesPerCycle)
                joules += Double(d.bytes) * NPUMachine.picojoulesPerDMAByte
            }
            let r = tile.region, p = g.p
            var macs = 0, vector = 0
            switch op.kind {
            case .conv2d: macs = Saturating.product(r[1], p[4], r[5], p[6], p[7], p[2] / p[14])
            case .fullyConnected: macs = Saturating.product(r[0], p[0], r[2])
            case .pool2d: vector = Saturating.product(r[1], p[4], p[2], p[5], p[6])
            case .transpose: vector = Saturating.product(r[1], g.inCounts[0] / max(p[p[4]], 1))
            case .copy: vector = 0
            default: vector = r[0]
            }
            if macs > 0 {
                let weightBits = g.inTypes.count > 1 && g.inTypes[1] == .int4 ? 4 : 8
                let rate = NPUMachine.macsPerCycle(activation: act, weightBits: weightBits)
                cycles = Saturating.sum(cycles, (macs + rate - 1) / rate)
                joules += Double(macs) * NPUMachine.picojoulesPerMAC(activation: act)
            }
            cycles = Saturating.sum(cycles, (vector + NPUMachine.vectorElementsPerCycle - 1) / NPUMachine.vectorElementsPerCycle)
            joules += Double(vector) * NPUMachine.picojoulesPerVectorElement
        }
        return (cycles, joules)
    }
}
