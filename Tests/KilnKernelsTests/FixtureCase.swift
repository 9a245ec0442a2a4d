import Foundation
import KilnKernels
import KilnOps
import KilnTensor
import Testing

/// One numerical case: an op, its inputs and non-tensor arguments, and the outputs torch/numpy
/// computed, read from `Fixtures/<group>.json` (written by `scripts/fixtures/make_kernel_fixtures.py`).
///
/// JSON: `{"name", "op", "inputs": [npy...], "args": {param: value}, "outputs": [npy...], "rtol", "atol"}`;
/// a value is `{"tensor": i}`, `{"tensors": [i...]}`, `{"int": v}`, `{"float": v}`, `{"bool": v}`,
/// `{"ints": [...]}`, `{"floats": [...]}`, `{"dtype": "f32"}`, `{"str": "tanh"}` or `{"none": true}`; parameters
/// left out take their defaults.
struct FixtureCase: CustomTestStringConvertible, Sendable {
    let group: String
    let name: String
    let op: String
    let inputs: [String]
    let args: [String: [String: JSONValue]]
    let outputs: [String]
    let rtol: Double
    let atol: Double

    var testDescription: String { "\(group)/\(name) (\(op))" }

    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    /// Every case of `group`, or an empty list when the group has no file yet.
    static func load(_ group: String) -> [FixtureCase] {
        let url = fixtures.appendingPathComponent("\(group).json")
        guard let data = try? Data(contentsOf: url),
              let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return list.map { c in
            FixtureCase(group: group, name: c["name"] as? String ?? "?", op: c["op"] as? String ?? "?",
                        inputs: c["inputs"] as? [String] ?? [],
                        args: (c["args"] as? [String: [String: Any]] ?? [:]).mapValues { $0.mapValues(JSONValue.init) },
                        outputs: c["outputs"] as? [String] ?? [],
                        rtol: c["rtol"] as? Double ?? 1e-6, atol: c["atol"] as? Double ?? 1e-6)
        }
    }

    /// Every group's cases.
    static var all: [FixtureCase] {
        ["elementwise", "reduction", "layout", "linear_algebra", "spatial", "normalization", "quantization",
         "math", "shaping", "sampling"]
            .flatMap(load)
    }

    func tensor(_ file: String) throws -> Tensor {
        try Npy.read(path: Self.fixtures.appendingPathComponent(group).appendingPathComponent(file).path)
    }

    /// Builds the call, runs the registered kernel, and compares every output: once as a direct
    /// call (no scratch: kernels allocate their own) and once with the scratch the entry asks for,
    /// filled with 0xFF bytes (NaNs), as the runtime passes it. Then once more as a loaded method
    /// runs it on 3 threads with every input the entry prepacks packed (as if constant): the
    /// outputs must be the direct call's, bit for bit.
    func check() throws {
        let direct = try check(withScratch: false)
        _ = try check(withScratch: true)
        let entry = try #require(KernelRegistry.entry(for: op))
        let threaded = try runKernel(entry, try call(), threads: 3, prepackEverything: true)
        for (i, (got, want)) in zip(threaded, direct).enumerated() {
            let (a, b) = (got.withUnsafeRawBytes { Array($0) }, want.withUnsafeRawBytes { Array($0) })
            #expect(a == b, "\(name) output \(i): 3 threads and prepacked inputs change the bits")
        }
    }

    /// The case's call, outputs allocated, no scratch.
    func call() throws -> KernelCall {
        let schema = try #require(OpTable.schema(named: op), "unknown op \(op)")
        let inputTensors = try inputs.map(tensor)
        var values: [Argument<Int>] = []
        for p in schema.parameters {
            if let v = args[p.name] {
                values.append(try v.argument(for: p))
            } else {
                let d = try #require(p.defaultValue, "\(name): argument \(p.name) is required")
                values.append(d.widened())
            }
        }
        let arguments = try OpArguments.validated(schema, values)
        return KernelCall(arguments: arguments, inputs: inputTensors,
                          outputs: try KernelCall.allocateOutputs(arguments, inputs: inputTensors))
    }

    @discardableResult
    private func check(withScratch: Bool) throws -> [Tensor] {
        let schema = try #require(OpTable.schema(named: op), "unknown op \(op)")
        let entry = try #require(KernelRegistry.entry(for: op), "no kernel for \(op)")
        let inputTensors = try inputs.map(tensor)
        var values: [Argument<Int>] = []
        for p in schema.parameters {
            if let v = args[p.name] {
                values.append(try v.argument(for: p))
            } else {
                let d = try #require(p.defaultValue, "\(name): argument \(p.name) is required")
                values.append(d.widened())
            }
        }
        let arguments = try OpArguments.validated(schema, values)
        let outs = try KernelCall.allocateOutputs(arguments, inputs: inputTensors)
        var call = KernelCall(arguments: arguments, inputs: inputTensors, outputs: outs)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: withScratch ? entry.scratchBytes(call) : 0,
                                                             alignment: 64)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 0xFF)
        if withScratch { call = KernelCall(arguments: arguments, inputs: inputTensors, outputs: outs, scratch: scratch) }
        try entry.kernel(call)
        let name = withScratch ? "\(self.name) (with scratch)" : self.name
        #expect(outs.count == outputs.count, "\(name): \(outs.count) outputs, fixture has \(outputs.count)")
        for (i, (got, file)) in zip(outs, outputs).enumerated() {
            let want = try tensor(file)
            #expect(got.dtype == want.dtype, "\(name) output \(i): dtype \(got.dtype), expected \(want.dtype)")
            #expect(got.shape == want.shape, "\(name) output \(i): shape \(got.shape), expected \(want.shape)")
            guard got.dtype == want.dtype, got.shape == want.shape else { continue }
            if got.dtype.isInteger || got.dtype == .bool {
                // Integers compare exactly, bit for bit (Float would hide differences above 2^24).
                let (a, b) = (got.withUnsafeRawBytes { Array($0) }, want.withUnsafeRawBytes { Array($0) })
                let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                #expect(first == nil, "\(name) output \(i): differs at byte \(first ?? 0) (element \((first ?? 0) / got.dtype.byteSize))")
                continue
            }
            let (a, b) = (got.floatValues(), want.floatValues())
            var worst = (index: -1, error: 0.0)
            for j in 0..<a.count {
                let (x, y) = (Double(a[j]), Double(b[j]))
                if x.isNaN && y.isNaN { continue }
                if x == y { continue }
                let err = abs(x - y)
                if !(err <= atol + rtol * abs(y)) && (worst.index < 0 || err > worst.error) { worst = (j, err) }
            }
            #expect(worst.index < 0,
                    "\(name) output \(i): element \(worst.index) is \(worst.index >= 0 ? a[worst.index] : 0), expected \(worst.index >= 0 ? b[worst.index] : 0) (rtol \(rtol), atol \(atol))")
        }
        return outs
    }
}

/// A JSON argument value, kept Sendable.
enum JSONValue: Sendable {
    case number(Double, isInteger: Bool)
    case bool(Bool)
    case string(String)
    case list([JSONValue])
    case null

    init(_ any: Any) {
        switch any {
        case let n as NSNumber where String(cString: n.objCType) == "c": self = .bool(n.boolValue)
        case let n as NSNumber: self = .number(n.doubleValue, isInteger: !String(describing: n).contains(where: { ".eE".contains($0) }))
        case let b as Bool: self = .bool(b)
        case let s as String: self = .string(s)
        case let l as [Any]: self = .list(l.map(JSONValue.init))
        default: self = .null
        }
    }

    var int: Int? { if case .number(let v, _) = self { return Int(exactly: v) }; return nil }
    var double: Double? { if case .number(let v, _) = self { return v }; return nil }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// The argument this `{"kind": value}` object describes.
    func argument(for p: Parameter) throws -> Argument<Int> {
        guard let (kind, v) = first else { throw KernelError(op: p.name, "empty argument object") }
        switch (kind, v) {
        case ("tensor", _): if let i = v.int { return .tensor(i) }
        case ("tensors", .list(let l)): return .tensorList(l.compactMap(\.int))
        case ("int", _): if let i = v.int { return .int(i) }
        case ("float", _): if let d = v.double { return .float(d) }
        case ("bool", .bool(let b)): return .bool(b)
        case ("ints", .list(let l)): return .intList(l.compactMap(\.int))
        case ("floats", .list(let l)): return .floatList(l.compactMap(\.double))
        case ("dtype", .string(let s)): if let d = DType(textName: s) { return .dtype(d) }
        case ("str", .string(let s)): return .string(s)
        case ("none", _): return .none
        default: break
        }
        throw KernelError(op: p.name, "cannot read argument \(kind): \(v)")
    }
}
