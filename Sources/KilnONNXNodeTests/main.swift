// Runs ONNX's own node tests (onnx/backend/test/data/node in an installed onnx wheel) through
// Kiln: import each model.onnx, compile it to a .pte and run it in the runtime (or, when it
// cannot compile, in the graph evaluator), and compare with test_data_set_0's outputs.
//
//   KilnONNXNodeTests NODE_DIR [--verbose] [--corrupt N] [--require-rate PERCENT]
//
// Prints `N passed, N failed, N skipped`, the skips grouped by reason and by op, and the
// failures. With --corrupt N, also imports N seeded corruptions (truncations, changed bytes)
// of every model: each must import or be rejected with an error. A crash on any case fails
// the run (the process does not finish); with --require-rate, so does a pass rate on the
// denominator below PERCENT.
import Foundation
import KilnCapture
import KilnEmit
import KilnIR
import KilnPasses
import KilnRuntime
import KilnTensor

let arguments = CommandLine.arguments.dropFirst()
let verbose = arguments.contains("--verbose")
var requiredRate: Double?
if let i = arguments.firstIndex(of: "--require-rate"), arguments.index(after: i) < arguments.endIndex {
    requiredRate = Double(arguments[arguments.index(after: i)])
}
var corruptions = 0
if let i = arguments.firstIndex(of: "--corrupt"), arguments.index(after: i) < arguments.endIndex {
    corruptions = Int(arguments[arguments.index(after: i)]) ?? 0
}
guard let root = arguments.first(where: { !$0.hasPrefix("--") && Double($0) == nil }) else {
    print("usage: KilnONNXNodeTests NODE_DIR [--verbose] [--corrupt N] [--require-rate PERCENT]")
    exit(2)
}

let fm = FileManager.default
let cases = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("test_") }.sorted()
let supported = ONNXImporter.supportedOpTypes
let temp = NSTemporaryDirectory() + "kiln-onnx-node-\(getpid())"
try? fm.createDirectory(atPath: temp, withIntermediateDirectories: true)
defer { try? fm.removeItem(atPath: temp) }

nonisolated(unsafe) var boundCases = 0

enum Outcome { case passed(String), failed(String), skipped(String) }

func tensors(_ folder: String, _ prefix: String) throws -> [Tensor] {
    let files = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix(prefix) && $0.hasSuffix(".pb") }
    let sorted = files.sorted { Int($0.dropFirst(prefix.count).dropLast(3)) ?? 0 < Int($1.dropFirst(prefix.count).dropLast(3)) ?? 0 }
    return try sorted.map { try ONNXImporter.readTensor(path: folder + "/" + $0) }
}

func difference(_ got: Tensor, _ want: Tensor) -> String? {
    guard got.dtype == want.dtype else { return "dtype \(got.dtype), expected \(want.dtype)" }
    guard got.shape == want.shape else { return "shape \(got.shape), expected \(want.shape)" }
    if want.dtype.isFloatingPoint {
        for (i, (a, b)) in zip(got.floatValues(), want.floatValues()).enumerated() {
            if a.isNaN && b.isNaN { continue }
            if a == b { continue }
            if abs(a - b) > 1e-5 + 1e-3 * abs(b) || a.isNaN != b.isNaN { return "element \(i) is \(a), expected \(b)" }
        }
        return nil
    }
    let same = got.withUnsafeRawBytes { g in want.withUnsafeRawBytes { w in g.elementsEqual(w) } }
    return same ? nil : "values differ (exact comparison)"
}

func run(_ name: String) -> (Outcome, inDenominator: Bool, ops: [String]) {
    let dir = root + "/" + name
    let model = dir + "/model.onnx"
    let ops: [String]
    do { ops = try ONNXImporter.opTypes(path: model) } catch { return (.skipped("model unreadable"), false, []) }
    let unmapped = Set(ops).subtracting(supported)
    let expectedOutputs: [Tensor]
    let inputs: [Tensor]
    do {
        inputs = try tensors(dir + "/test_data_set_0", "input_")
        expectedOutputs = try tensors(dir + "/test_data_set_0", "output_")
    } catch let e as ONNXError where e.kind == .unsupportedDType {
        return (.skipped(unmapped.isEmpty ? "dtype" : "op not mapped"), false, ops)
    } catch {
        return (.skipped("other: test data unreadable"), false, ops)
    }
    if !unmapped.isEmpty { return (.skipped("op not mapped"), false, ops) }
    // ONNX's tests pass shapes, axes and pads as graph inputs; Kiln needs them known at import
    // time, so an input the importer asks for is bound to its test value and the import retried.
    guard let names = try? ONNXImporter.inputNames(path: model), names.count == inputs.count else {
        return (.skipped("other: inputs do not match the test data"), false, ops)
    }
    var constants: [String: Tensor] = [:]
    var graph: Graph?
    while graph == nil {
        do {
            graph = try ONNXImporter.import(path: model, constantInputs: constants)
        } catch {
            if let name = error.constantNeeded, let i = names.firstIndex(of: name), constants[name] == nil {
                constants[name] = inputs[i]
                continue
            }
            if error.kind == .unsupportedDType { return (.skipped("dtype"), false, ops) }
            return (.failed("import: \(error.message)\(error.node.map { " (node \($0))" } ?? "")"), true, ops)
        }
    }
    guard let graph else { return (.failed("import"), true, ops) }
    if !constants.isEmpty { boundCases += 1 }
    let runtimeInputs = zip(names, inputs).filter { constants[$0.0] == nil }.map(\.1)
    var outputs: [Tensor]
    var how = "runtime"
    do {
        let compiled = try KilnCompiler.compile(graph)
        let path = temp + "/\(name).pte"
        try FileIO.writeAtomically(compiled.bytes, to: path)
        defer { try? fm.removeItem(atPath: path) }
        outputs = try Program.load(path: path).method()(runtimeInputs)
    } catch let compileError {
        how = "evaluator"
        do {
            var g = graph
            try Decompose(allowPartial: true).run(&g)
            outputs = try GraphEvaluator(g).run(runtimeInputs).outputs
        } catch {
            return (.failed("compile: \(compileError); evaluate: \(error)"), true, ops)
        }
    }
    guard outputs.count == expectedOutputs.count else {
        return (.failed("\(how): \(outputs.count) outputs, expected \(expectedOutputs.count)"), true, ops)
    }
    for (i, (got, want)) in zip(outputs, expectedOutputs).enumerated() {
        if let d = difference(got, want) { return (.failed("\(how): output \(i): \(d)"), true, ops) }
    }
    return (.passed(how), true, ops)
}

var passed = 0, failed = 0, skipped = 0, denominator = 0, passedInDenominator = 0
var viaEvaluator = 0
var skipReasons: [String: Int] = [:]
var skipOps: [String: Int] = [:]
var failures: [String] = []
for name in cases {
    let (outcome, inDenominator, ops) = run(name)
    if inDenominator { denominator += 1 }
    switch outcome {
    case .passed(let how):
        passed += 1
        if inDenominator { passedInDenominator += 1 }
        if how == "evaluator" { viaEvaluator += 1 }
    case .failed(let why):
        failed += 1
        failures.append("\(name): \(why)")
    case .skipped(let why):
        skipped += 1
        skipReasons[why, default: 0] += 1
        if why == "op not mapped" { for op in Set(ops).subtracting(supported) { skipOps[op, default: 0] += 1 } }
    }
    if verbose { print(name, outcome) }
}
print("onnx node tests: \(passed) passed, \(failed) failed, \(skipped) skipped (of \(cases.count); "
      + "\(viaEvaluator) of the passes ran in the evaluator because they did not compile)")
print("\(boundCases) cases had shape/axes inputs bound to their test values at import")
let rate = denominator == 0 ? 0 : 100 * Double(passedInDenominator) / Double(denominator)
print(String(format: "denominator (every op mapped, every dtype Kiln has): %d cases, %d passed (%.1f%%); overall %.1f%%",
             denominator, passedInDenominator, rate, cases.isEmpty ? 0 : 100 * Double(passed) / Double(cases.count)))
print("skipped by reason: " + skipReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
print("skipped by unmapped op (cases): " + skipOps.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
print("failures:")
for f in failures { print("  " + f) }
if corruptions > 0 {
    var rng = SeededGenerator(seed: 2026)
    var imported = 0, rejected = 0
    let path = temp + "/corrupt.onnx"
    for name in cases {
        guard let bytes = try? FileIO.read(path: root + "/" + name + "/model.onnx"), !bytes.isEmpty else { continue }
        for k in 0..<corruptions {
            var variant = bytes
            if k % 2 == 0 {
                variant = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            } else {
                for _ in 0..<4 {
                    variant[Int.random(in: 0..<variant.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            try? FileIO.writeAtomically(variant, to: path)
            do {
                _ = try ONNXImporter.import(path: path)
                imported += 1
            } catch {
                rejected += 1
            }
        }
    }
    print("corrupted models: \(imported + rejected) imported or rejected without a crash (\(rejected) rejected)")
}
if let requiredRate, rate < requiredRate {
    print("fewer than \(requiredRate)% of the denominator pass")
    exit(1)
}
