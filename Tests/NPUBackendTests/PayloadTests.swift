import KilnIR
import KilnOps
import KilnTensor
import NPUCompiler
@testable import NPURuntime
import Testing

/// Untrusted payloads: each malformation is rejected when the program is initialized, with a
/// message naming what is wrong; and data reaches the compute units only through the DMA
/// transfers the payload lists.
struct PayloadTests {
    /// A conv → relu graph, its program tiled for 512 bytes of on-chip memory, and an input.
    static func sample() throws -> (NPUProgram, Tensor, Graph) {
        var r = Numbers(99)
        let qx = QGraph.q(0.05, 2), qo = QGraph.q(0.1, -4)
        var g = QGraph()
        let x = try g.input("x", [1, 4, 8, 8])
        let w = try g.weight("w", r.ints(4 * 4 * 9, -127...127), [4, 4, 3, 3], scales: r.scales(4, 0.002...0.01))
        let y = try g.b.call("convolution", [try g.dq(x, qx), w, nil], ["padding": .intList([1, 1])])[0]
        let z = try g.b.call("relu", [try g.dq(try g.q(y, qo), qo)])[0]
        let graph = try g.finish(try g.q(z, qo))
        let program = try NPUCompiler(sramBytes: 512).program(for: graph)
        return (program, try NPU.tensor(r.ints(256, -128...127), [1, 4, 8, 8]), graph)
    }

    func rejection(_ program: NPUProgram) -> String? {
        do {
            _ = try program.encoded().withUnsafeBytes { try NPUExecutable(payload: $0) }
            return nil
        } catch {
            return "\(error)"
        }
    }

    func run(_ program: NPUProgram, _ x: Tensor) throws -> [Int] {
        let exe = try program.encoded().withUnsafeBytes { try NPUExecutable(payload: $0) }
        let out = try Tensor(zeros: .int8, shape: [1, 4, 8, 8])
        try exe.run(inputs: [x], outputs: [out])
        return NPU.ints(out)
    }

    @Test func theSampleIsValidAndTiled() throws {
        let (program, x, _) = try Self.sample()
        #expect(rejection(program) == nil)
        #expect(program.ops.first { $0.kind == .conv2d }!.tiles.count > 1)
        #expect(try run(program, x).count == 256)
    }

    @Test func aTileLargerThanOnChipMemoryIsRejected() throws {
        var (program, _, _) = try Self.sample()
        let conv = program.ops.firstIndex { $0.kind == .conv2d }!
        program.ops[conv].tiles[0].loads[0].sramOffset = program.sramBytes - 10
        let message = rejection(program) ?? "accepted"
        #expect(message.contains("larger than on-chip memory (512 bytes)"), "\(message)")
        (program, _, _) = try Self.sample()
        program.ops[conv].tiles[0].sram[3] = 500      // the output operand runs past the end
        #expect(rejection(program)?.contains("larger than on-chip memory") == true)
        (program, _, _) = try Self.sample()
        program.sramBytes = NPUMachine.sramBytes + 1
        #expect(rejection(program)?.contains("the machine's on-chip memory") == true)
    }

    @Test func aTensorIDOutOfRangeIsRejected() throws {
        var (program, _, _) = try Self.sample()
        program.ops[1].inputs[0] = 57
        #expect(rejection(program)?.contains("op 1 (conv2d") == true)
        #expect(rejection(program)?.contains("tensor id 57 is out of range") == true)
        (program, _, _) = try Self.sample()
        program.ops[1].tiles[0].stores[0].tensor = -1
        #expect(rejection(program)?.contains("tile 0 store 0: tensor id -1 is out of range") == true)
    }

    @Test func aBadShiftIsRejected() throws {
        var (program, _, _) = try Self.sample()
        let conv = program.ops.firstIndex { $0.kind == .conv2d }!
        program.ops[conv].shifts[2] = 63
        #expect(rejection(program)?.contains("shift 2 is 63, outside 0...62") == true)
        program.ops[conv].shifts[2] = -1
        #expect(rejection(program)?.contains("shift 2 is -1") == true)
    }

    @Test func otherMalformationsAreRejected() throws {
        var (program, _, _) = try Self.sample()
        let conv = program.ops.firstIndex { $0.kind == .conv2d }!
        program.ops[conv].tiles[0].loads[0].mainOffset = 1 << 20
        #expect(rejection(program)?.contains("pass the end of tensor") == true)
        (program, _, _) = try Self.sample()
        program.ops[conv].params[6] = 5           // kernel height disagrees with the weight
        #expect(rejection(program)?.contains("weight has shape") == true)
        (program, _, _) = try Self.sample()
        program.ops[conv].tiles[0].region[3] = 0  // loads no input rows but reads them
        #expect(rejection(program)?.contains("windows read rows") == true)
        (program, _, _) = try Self.sample()
        program.tensors[program.ops[conv].inputs[1]].offset = program.constantData.count
        #expect(rejection(program)?.contains("constant bytes") == true)
        let garbage: [UInt8] = Array("not a program at all".utf8)
        #expect(throws: NPUError.self) { _ = try garbage.withUnsafeBytes { try NPUExecutable(payload: $0) } }
    }

    @Test func paramsOutsideTheirRangesAreRejected() throws {
        var (program, _, _) = try Self.sample()
        let conv = program.ops.firstIndex { $0.kind == .conv2d }!
        program.ops[conv].params[0] = Int.min
        #expect(rejection(program)?.contains("outside the 32-bit range") == true)
        (program, _, _) = try Self.sample()
        program.ops[conv].params[15] = -(1 << 31)      // input zero point
        #expect(rejection(program)?.contains("input zero point -2147483648 does not fit int8") == true)
        (program, _, _) = try Self.sample()
        program.ops[conv].params[16] = 128              // output zero point
        #expect(rejection(program)?.contains("output zero point 128 does not fit int8") == true)
    }

    @Test func aRunClearsOnlyTheOnChipBytesTheProgramReaches() throws {
        let (program, x, _) = try Self.sample()
        let exe = try program.encoded().withUnsafeBytes { try NPUExecutable(payload: $0) }
        #expect(exe.sramUsed > 0 && exe.sramUsed <= program.sramBytes)
        let out = try Tensor(zeros: .int8, shape: [1, 4, 8, 8])
        try exe.run(inputs: [x], outputs: [out])
        #expect(NPU.ints(out) == (try run(program, x)))
    }

    @Test func corruptedBytesNeverCrash() throws {
        let (program, x, _) = try Self.sample()
        let bytes = program.encoded()
        var r = Numbers(7)
        var rejected = 0
        for _ in 0..<300 {
            var copy = bytes
            let at = Int(r.next() % UInt64(copy.count))
            copy[at] ^= UInt8(truncatingIfNeeded: r.next() | 1)
            do {
                let exe = try copy.withUnsafeBytes { try NPUExecutable(payload: $0) }
                let out = try Tensor(zeros: .int8, shape: [1, 4, 8, 8])
                try? exe.run(inputs: [x], outputs: [out])
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 0)
    }

    @Test func droppingOrRedirectingOneDMAChangesTheOutput() throws {
        let (program, x, _) = try Self.sample()
        let good = try run(program, x)
        let conv = program.ops.firstIndex { $0.kind == .conv2d }!
        // Drop the second tile's input rows: it computes on whatever the first tile left on chip.
        var dropped = program
        dropped.ops[conv].tiles[1].loads.removeFirst()
        #expect(rejection(dropped) == nil)
        #expect(try run(dropped, x) != good)
        // Drop the weights: the conv computes with zeroed on-chip memory.
        var noWeights = program
        noWeights.ops[conv].tiles[0].loads.remove(at: 1)
        #expect(try run(noWeights, x) != good)
        // Point one load at other rows of the input.
        var moved = program
        moved.ops[conv].tiles[0].loads[0].mainOffset += 32
        #expect(try run(moved, x) != good)
        // Drop one store: part of the output is never written.
        var lost = program
        lost.ops[lost.ops.count - 1].tiles[0].stores.removeAll()
        #expect(try run(lost, x) != good)
    }
}
