import KilnIR
import KilnPartition
import KilnPTE
import KilnRuntime
import KilnTensor

/// A backend that exists only in the tests: it takes float32 relu, neg, add and mul on tensors of
/// one shape, its compiler writes a small program of its own (slot-addressed instructions), and
/// its runtime executes that program with its own loops: plan → preprocess → `.pte` → load →
/// execute without any production backend.
///
/// Payload: `"ETB1"`, then UInt32 little-endian words: element count, input count, slot count,
/// output count, the output slots, instruction count, then per instruction (opcode, a, b, out).
/// Slots 0..<inputs are the inputs; the others are scratch the runtime allocates at initialize.
enum ElementwiseTestBackend {
    static let descriptorJSON = #"""
    {"id": "ElementwiseTest", "name": "elementwise", "kind": "cpu", "summary": "test-only elementwise backend",
     "cost": {"ops_per_second": {"float32": 1e10}, "bytes_per_second": 1e10, "call_overhead_us": 0.5},
     "limits": {"static_shapes": true},
     "ops": [{"op": "relu", "dtypes": ["float32"]}, {"op": "neg", "dtypes": ["float32"]},
             {"op": "add.Tensor", "dtypes": ["float32"]}, {"op": "mul.Tensor", "dtypes": ["float32"]},
             {"op": "view_copy", "dtypes": ["float32"]}]}
    """#

    static let opcodes: [String: UInt32] = ["relu": 0, "neg": 1, "add.Tensor": 2, "mul.Tensor": 3]

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Compiler: BackendCompiler {
        let descriptor = try! BackendDescriptor.parse(ElementwiseTestBackend.descriptorJSON, file: "elementwise.json")

        func preprocess(_ partition: KilnPartition.Partition, compileSpecs: [LoweredDelegate.CompileSpec]) throws -> DelegatePayload {
            let g = partition.graph
            guard let shape = g.inputs.first.flatMap({ g.type(of: $0).staticShape }) else {
                throw Failure(description: "needs a static input")
            }
            var slot: [ValueID: UInt32] = [:]
            for (i, id) in g.inputs.enumerated() { slot[id] = UInt32(i) }
            var words: [UInt32] = []
            var next = UInt32(g.inputs.count)
            var code: [UInt32] = []
            for node in g.nodes {
                guard let opcode = ElementwiseTestBackend.opcodes[node.op.name] else {
                    throw Failure(description: "\(node.op.name) cannot be lowered: not an elementwise op of this backend")
                }
                let ins = node.operands
                guard ins.allSatisfy({ g.type(of: $0).staticShape == shape }) else {
                    throw Failure(description: "\(node.op.name): operands must all have shape \(shape) (no broadcasting)")
                }
                if case .float(let alpha) = node.arguments.last, alpha != 1 {
                    throw Failure(description: "\(node.op.name): alpha \(alpha) is not supported")
                }
                slot[node.results[0]] = next
                code += [opcode, slot[ins[0]]!, slot[ins.count > 1 ? ins[1] : ins[0]]!, next]
                next += 1
            }
            words += [UInt32(shape.reduce(1, *)), UInt32(g.inputs.count), next, UInt32(g.outputs.count)]
            words += g.outputs.map { slot[$0]! }
            words += [UInt32(code.count / 4)] + code
            var bytes = Array("ETB1".utf8)
            for w in words { withUnsafeBytes(of: w.littleEndian) { bytes += $0 } }
            return DelegatePayload(bytes: bytes)
        }
    }

    final class Runtime: BackendRuntime, @unchecked Sendable {
        let id = "ElementwiseTest"
        let isAvailable = true
        var executions = 0

        final class Program {
            var count = 0, inputs = 0
            var outputs: [Int] = []
            var code: [(op: UInt32, a: Int, b: Int, out: Int)] = []
            var scratch: [[Float]] = []
        }

        func initialize(payload: UnsafeRawBufferPointer, compileSpecs: [PTE.CompileSpec],
                        context: BackendInitContext) throws -> BackendHandle {
            guard payload.count >= 20, Array(payload.prefix(4)) == Array("ETB1".utf8) else { throw Failure(description: "bad magic") }
            var at = 4
            func word() throws -> Int {
                guard at + 4 <= payload.count else { throw Failure(description: "payload ends at byte \(at)") }
                defer { at += 4 }
                return Int(payload.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
            }
            let p = Program()
            p.count = try word()
            p.inputs = try word()
            let slots = try word()
            let outputCount = try word()
            for _ in 0..<outputCount { p.outputs.append(try word()) }
            for _ in 0..<(try word()) { p.code.append((UInt32(try word()), try word(), try word(), try word())) }
            guard (p.code.flatMap { [$0.a, $0.b, $0.out] } + p.outputs).allSatisfy({ $0 < slots }) else {
                throw Failure(description: "slot out of range")
            }
            p.scratch = Array(repeating: [Float](repeating: 0, count: p.count), count: slots)
            return p
        }

        func execute(_ handle: BackendHandle, arguments: BackendArguments, context: BackendExecuteContext) throws {
            let p = handle as! Program
            executions += 1
            for i in 0..<p.inputs {
                guard let t = arguments[i].tensor else { throw Failure(description: "argument \(i) is not a tensor") }
                t.withUnsafeRawBytes { raw in
                    let f = raw.bindMemory(to: Float.self)
                    for k in 0..<p.count { p.scratch[i][k] = f[k] }
                }
            }
            for (op, a, b, out) in p.code {
                for k in 0..<p.count {
                    let x = p.scratch[a][k], y = p.scratch[b][k]
                    p.scratch[out][k] = op == 0 ? max(0, x) : op == 1 ? -x : op == 2 ? x + y : x * y
                }
            }
            for (j, s) in p.outputs.enumerated() {
                guard let t = arguments[p.inputs + j].tensor else { throw Failure(description: "output \(j) is not a tensor") }
                let f = t.unsafeMutableRawBytes.bindMemory(to: Float.self)
                for k in 0..<p.count { f[k] = p.scratch[s][k] }
            }
        }

        func destroy(_ handle: BackendHandle) {}
    }
}
