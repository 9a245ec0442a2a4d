import Foundation
import KilnEmit
import KilnIR
import KilnOps
import KilnPasses
import KilnRuntime
import KilnTensor
import Testing

/// Every numerical case of the kernel fixtures (`Tests/KilnKernelsTests/Fixtures/*.json`, read
/// in place) as a one-node graph whose tensors are all graph inputs, compiled without constant
/// folding and run by the runtime: the outputs equal the graph evaluator's bit for bit.
///
/// The subset: cases the compiler cannot lower to ATen core ops are not programs and are skipped
/// (none today: every case lowers to ATen core ops). Only a decompose error is skipped; any other
/// failure fails the case. Ops with no tensor input (`full`, `arange.start_step`) make graphs with
/// no inputs.
@Suite struct KernelFixtureTests {
    @Test(arguments: KernelCase.all)
    func runsBitwiseLikeTheEvaluator(_ c: KernelCase) throws {
        let (graph, inputs) = try c.graph()
        guard let compiled = try Self.compile(graph) else {
            print("skipped \(c.testDescription): no program expresses it")
            return
        }
        let emitted = try afterPasses(graph, passesWithoutFolding)
        let reference = try GraphEvaluator(emitted).run(inputs).outputs
        try withTemporaryFolder { folder in
            let outputs = try load(compiled.bytes, in: folder).method()(inputs)
            #expect(outputs.count == reference.count)
            for (i, (got, want)) in zip(outputs, reference).enumerated() {
                #expect(bitwiseDifference(got, want) == nil, "output \(i): \(bitwiseDifference(got, want) ?? "")")
            }
        }
    }

    /// The program of `graph`, or nil when the compiler cannot lower it to core ops.
    static func compile(_ graph: Graph) throws -> Compilation? {
        do {
            return try KilnCompiler.compile(graph, options: CompileOptions(passes: passesWithoutFolding))
        } catch where error.description.contains("cannot decompose into core ops") {
            print(error)
            return nil
        }
    }

    @Test func everyCaseIsRead() {
        #expect(KernelCase.all.count > 100, "only \(KernelCase.all.count) cases found under \(KernelCase.folder.path)")
    }
}

/// One case of a kernel fixture file: the op, its input tensors and its other arguments.
/// (The expected outputs in the files are torch's; these tests compare with the evaluator.)
struct KernelCase: CustomTestStringConvertible, Sendable {
    static let folder = testsFolder.appendingPathComponent("KilnKernelsTests/Fixtures")
    static let groups = ["elementwise", "reduction", "layout", "linear_algebra", "spatial", "normalization", "quantization",
         "math", "shaping", "sampling"]

    let group: String
    let name: String
    let op: String
    let inputs: [String]
    /// Parameter name → `{"kind": value}` as written.
    let args: [String: Value]

    /// A JSON argument value, kept Sendable.
    enum Value: Sendable {
        case tensor(Int)
        case tensors([Int])
        case int(Int)
        case float(Double)
        case bool(Bool)
        case ints([Int])
        case floats([Double])
        case dtype(String)
        case string(String)
        case none
    }

    var testDescription: String { "\(group)/\(name) (\(op))" }

    static let all: [KernelCase] = groups.flatMap(load)

    static func load(_ group: String) -> [KernelCase] {
        let url = folder.appendingPathComponent("\(group).json")
        guard let data = try? Data(contentsOf: url),
              let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return list.map { entry in
            var args: [String: Value] = [:]
            for (parameter, object) in entry["args"] as? [String: [String: Any]] ?? [:] {
                guard let (kind, raw) = object.first else { continue }
                switch kind {
                case "tensor": args[parameter] = .tensor((raw as? NSNumber)?.intValue ?? -1)
                case "tensors": args[parameter] = .tensors((raw as? [NSNumber] ?? []).map(\.intValue))
                case "int": args[parameter] = .int((raw as? NSNumber)?.intValue ?? 0)
                case "float": args[parameter] = .float((raw as? NSNumber)?.doubleValue ?? .nan)
                case "bool": args[parameter] = .bool((raw as? NSNumber)?.boolValue ?? false)
                case "ints": args[parameter] = .ints((raw as? [NSNumber] ?? []).map(\.intValue))
                case "floats": args[parameter] = .floats((raw as? [NSNumber] ?? []).map(\.doubleValue))
                case "dtype": args[parameter] = .dtype(raw as? String ?? "?")
                case "str": args[parameter] = .string(raw as? String ?? "")
                default: args[parameter] = Value.none
                }
            }
            return KernelCase(group: group, name: entry["name"] as? String ?? "?", op: entry["op"] as? String ?? "?",
                              inputs: entry["inputs"] as? [String] ?? [], args: args)
        }
    }

    /// The case's input tensors.
    func tensors() throws -> [Tensor] {
        try inputs.map { try Npy.read(path: Self.folder.appendingPathComponent(group).appendingPathComponent($0).path) }
    }

    /// A graph with one input per input tensor and one node applying the op, whose results
    /// are the outputs; and the input tensors.
    func graph() throws -> (Graph, [Tensor]) {
        let schema = try #require(OpTable.schema(named: op), "unknown op \(op)")
        let tensors = try tensors()
        var builder = GraphBuilder(name: "forward")
        var ids: [ValueID] = []
        for (i, t) in tensors.enumerated() {
            ids.append(try builder.input("in\(i)", TensorType(t.dtype, static: t.shape)))
        }
        var arguments: [Argument<ValueID>] = []
        for parameter in schema.parameters {
            guard let value = args[parameter.name] else {
                let fallback = try #require(parameter.defaultValue, "\(name): argument \(parameter.name) is required")
                arguments.append(fallback.widened())
                continue
            }
            switch value {
            case .tensor(let i): arguments.append(.tensor(ids[i]))
            case .tensors(let list): arguments.append(.tensorList(list.map { ids[$0] }))
            case .int(let v): arguments.append(.int(v))
            case .float(let v): arguments.append(.float(v))
            case .bool(let v): arguments.append(.bool(v))
            case .ints(let v): arguments.append(.intList(v))
            case .floats(let v): arguments.append(.floatList(v))
            case .dtype(let text): arguments.append(.dtype(try #require(DType(textName: text), "dtype \(text)")))
            case .string(let text): arguments.append(.string(text))
            case .none: arguments.append(.none)
            }
        }
        let results = try builder.append(schema, arguments: arguments, resultNames: nil, resultTypes: nil,
                                         debugHandle: nil, location: SourceLocation(name))
        builder.output(results)
        return (try builder.finish(), tensors)
    }
}
