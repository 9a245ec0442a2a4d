import KilnIR
import KilnOps
import KilnPartition
import KilnTensor
import NPUCompiler
import NPURuntime
import Testing

/// The descriptor lists exactly what lowers and runs: every entry has a sample that the
/// partitioner gives to the NPU whole, that compiles and runs; and what the NPU cannot lower is
/// an error naming the op and why.
struct DescriptorCoverageTests {
    /// A one-op `dq → op → q` sample on int8 input [1, 4, 6, 6] for descriptor entry `op`.
    static func sample(_ op: String) throws -> Graph? {
        var g = QGraph()
        let q = QGraph.q(0.05, 1)
        let x = try g.input("x", [1, 4, 6, 6])
        let dx = try g.dq(x, q)
        var y: ValueID
        switch op {
        case "convolution":
            y = try g.b.call(op, [dx, try g.weight("w", [Int](repeating: 3, count: 72), [2, 4, 3, 3], scales: [0.01, 0.02]), nil])[0]
        case "linear":
            y = try g.b.call(op, [dx, try g.weight("w", [Int](repeating: -2, count: 18), [3, 6], scales: [0.01, 0.02, 0.03]), nil])[0]
        case "addmm":
            let flat = try g.dq(try g.q(try g.b.call("view_copy", [dx], ["size": .intList([24, 6])])[0], q), q)
            y = try g.b.call(op, [try g.constant("b", [0.1, 0.2, 0.3]), flat,
                                  try g.weight("w", [Int](repeating: 5, count: 18), [6, 3], scales: [0.01, 0.02, 0.03], axis: 1)])[0]
        case "add.Tensor", "mul.Tensor": y = try g.b.call(op, [dx, dx])[0]
        case "relu", "sigmoid", "tanh", "gelu", "silu": y = try g.b.call(op, [dx])[0]
        case "hardtanh": y = try g.b.call(op, [dx], ["min_val": .float(0), "max_val": .float(6)])[0]
        case "clamp": y = try g.b.call(op, [dx], ["min": .float(-1)])[0]
        case "avg_pool2d", "max_pool2d": y = try g.b.call(op, [dx], ["kernel_size": .intList([2, 2])])[0]
        case "_adaptive_avg_pool2d", "adaptive_avg_pool2d": y = try g.b.call(op, [dx], ["output_size": .intList([3, 3])])[0]
        case "view_copy": y = try g.b.call(op, [dx], ["size": .intList([4, 36])])[0]
        case "flatten.using_ints": y = try g.b.call(op, [dx], ["start_dim": .int(1)])[0]
        case "squeeze_copy.dims": y = try g.b.call(op, [dx], ["dim": .intList([0])])[0]
        case "unsqueeze_copy":
            let flat = try g.dq(try g.q(try g.b.call("view_copy", [dx], ["size": .intList([4, 6, 6])])[0], q), q)
            y = try g.b.call(op, [flat], ["dim": .int(1)])[0]
        case "permute_copy": y = try g.b.call(op, [dx], ["dims": .intList([3, 1, 0, 2])])[0]
        case "transpose.int": y = try g.b.call(op, [dx], ["dim0": .int(1), "dim1": .int(3)])[0]
        case "cat": y = try g.b.call(op, [], ["tensors": .tensorList([dx, dx]), "dim": .int(2)])[0]
        case "quantized_decomposed.quantize_per_tensor", "quantized_decomposed.dequantize_per_tensor":
            // float → q → dq → relu → q → dq → float: the edges around one op.
            var e = QGraph()
            let f = try e.b.input("f", TensorType(.float32, static: [2, 5]))
            let r = try e.b.call("relu", [try e.dq(try e.q(f, q), q)])[0]
            return try e.finish(try e.dq(try e.q(r, q), q))
        default: return nil
        }
        if Partitioner.shapeOps.contains(op) {
            // A group of shape ops alone stays portable (a delegate call costs more): add a relu.
            let qs = QGraph.q(0.05, 1)
            y = try g.b.call("relu", [try g.dq(try g.q(y, qs), qs)])[0]
        }
        return try g.finish(try g.q(y, QGraph.q(0.07, -2)))
    }

    @Test func everyDescriptorEntryIsClaimedLowersAndRuns() throws {
        let compiler = NPUCompiler()
        for entry in compiler.descriptor.ops {
            let graph = try #require(try Self.sample(entry.op), "no sample for descriptor entry \(entry.op)")
            let plan = Partitioner(backends: [compiler.descriptor]).plan(graph)
            #expect(plan.placements.allSatisfy { $0.backend == "npu" }, "\(entry.op): \(plan.placements.map { "\(plan.graph.nodes[$0.node].op.name) \($0.reasons)" })")
            #expect(plan.partitions.count == 1, "\(entry.op)")
            let payload = try compiler.preprocess(Partition(id: 0, backend: "npu", graph: graph), compileSpecs: [])
            let exe = try payload.bytes.withUnsafeBytes { try NPUExecutable(payload: $0) }
            let inputs = try graph.inputs.map { v in try Tensor(zeros: graph.type(of: v).dtype, shape: graph.type(of: v).staticShape!) }
            let outputs = try graph.outputs.map { v in try Tensor(zeros: graph.type(of: v).dtype, shape: graph.type(of: v).staticShape!) }
            try exe.run(inputs: inputs, outputs: outputs)
            #expect(exe.totalCycles > NPUMachine.callOverheadCycles, "\(entry.op)")
        }
    }

    @Test func theCostFiguresFollowTheMachineModel() {
        let cost = NPUCompiler().descriptor.cost
        let clock = Double(NPUMachine.clockHz)
        #expect(cost.opsPerSecond[.int8] == 2 * Double(NPUMachine.macsPerCycle(activation: .int8, weightBits: 8)) * clock)
        #expect(cost.opsPerSecond[.int16] == 2 * Double(NPUMachine.macsPerCycle(activation: .int16, weightBits: 8)) * clock)
        #expect(cost.bytesPerSecond == Double(NPUMachine.dmaBytesPerCycle) * clock)
        #expect((cost.callOverheadMicroseconds * 1000).rounded() == Double(NPUMachine.callOverheadCycles))   // 1 cycle = 1 ns
    }

    func error(_ graph: Graph) -> String {
        do {
            _ = try NPUCompiler().program(for: graph)
            return "lowered"
        } catch {
            return "\(error)"
        }
    }

    @Test func whatCannotBeLoweredNamesTheOpAndWhy() throws {
        let q = QGraph.q(0.05, 1)
        var g = QGraph()
        let x = try g.input("x", [2, 8])
        let y = try g.b.call("_softmax", [try g.dq(x, q)], ["dim": .int(1), "half_to_float": .bool(false)], location: "head")[0]
        let softmax = error(try g.finish(try g.q(y, q)))
        #expect(softmax.contains("cannot lower %") && softmax.contains("_softmax") && softmax.contains("head"))
        #expect(softmax.contains("the NPU has no kernel for _softmax"))

        g = QGraph()
        let a = try g.input("a", [2, 8]), b = try g.input("b", [1, 8])
        let sum = try g.b.call("add.Tensor", [try g.dq(a, q), try g.dq(b, q)])[0]
        #expect(error(try g.finish(try g.q(sum, q))).contains("add.Tensor (#2): operands [2, 8] and [1, 8] differ in shape"))

        g = QGraph()
        let f = try g.b.input("f", TensorType(.float32, static: [2, 8]))
        let r = try g.b.call("relu", [f])[0]
        #expect(error(try g.finish(try g.q(r, q))).contains("self %f is not a dequantize_per_tensor"))

        g = QGraph()
        let i = try g.input("i", [2, 8])
        let unq = try g.b.call("relu", [try g.dq(i, q)])[0]
        #expect(error(try g.finish(unq)).contains("its result is not quantized"))

        g = QGraph()
        let c = try g.input("c", [1, 2, 5, 5])
        let w = try g.b.constant("w", Tensor([Float](repeating: 0.1, count: 18), shape: [1, 2, 3, 3]))
        let conv = try g.b.call("convolution", [try g.dq(c, q), w, nil])[0]
        #expect(error(try g.finish(try g.q(conv, q))).contains("weight is not a dequantized constant"))
    }
}
