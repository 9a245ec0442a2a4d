import Foundation
import KilnIR
import KilnPasses
import KilnTensor
import Testing
@testable import KilnCapture

@Suite struct ONNXImporterTests {
    typealias M = ONNXModel

    /// y = relu(x @ w + b), with w from raw_data and b from float_data.
    @Test func importsInitializersFromRawAndTypedFields() throws {
        let model = M.model(nodes: [M.node("MatMul", ["x", "w"], ["h"], name: "mm"),
                                    M.node("Add", ["h", "b"], ["a"], name: "add"),
                                    M.node("Relu", ["a"], ["y"], name: "relu")],
                            inputs: [M.input("x", 1, [1, 2])], outputs: ["y"],
                            initializers: [M.tensor("w", [1, 2, 3, 4, 5, 6], [2, 3]), M.tensor("b", [0.5, -100, 0], [3], raw: false)])
        let graph = try ONNXImporter.import(path: try M.write(model))
        #expect(graph.nodes.map(\.op.name) == ["matmul", "add.Tensor", "relu"])
        #expect(graph.nodes[0].location?.text == "mm")
        let x = try Tensor([Float(1), 2], shape: [1, 2])
        var decomposed = graph
        try Decompose().run(&decomposed)
        let y = try GraphEvaluator(decomposed).run([x]).outputs[0]
        #expect(y.shape == [1, 3])
        #expect(y.floatValues() == [9.5, 0, 15])   // [1*1+2*4, 1*2+2*5, 1*3+2*6] + b, then relu
    }

    @Test func mapsExternalDataFromTheModelsFolder() throws {
        var w = M.tensor("w", [], [2, 2])
        w.clearRawData()
        w.dataLocation = .external
        for (k, v) in [("location", "weights.bin"), ("offset", "8"), ("length", "16")] {
            var e = Onnx_StringStringEntryProto()
            e.key = k
            e.value = v
            w.externalData.append(e)
        }
        let floats: [Float] = [0, 0, 1, 2, 3, 4]
        let bytes = floats.withUnsafeBytes { [UInt8]($0) }
        let model = M.model(nodes: [M.node("Mul", ["x", "w"], ["y"])], inputs: [M.input("x", 1, [2, 2])], outputs: ["y"],
                            initializers: [w])
        let graph = try ONNXImporter.import(path: try M.write(model, extraFiles: ["weights.bin": bytes]))
        let constant = try #require(graph.constants.first.flatMap { graph[$0].constantData })
        #expect(constant.floatValues() == [1, 2, 3, 4])
        #expect(constant.isBorrowed, "external data is mapped, not copied")

        // A length that does not match the dims is an error naming the tensor.
        w.externalData[2].value = "12"
        let bad = M.model(nodes: [M.node("Mul", ["x", "w"], ["y"])], inputs: [M.input("x", 1, [2, 2])], outputs: ["y"],
                          initializers: [w])
        let error = try expectError { try ONNXImporter.import(path: try M.write(bad, extraFiles: ["weights.bin": bytes])) }
        #expect(error.kind == .tensorSize)
        #expect(error.message.contains("'w'"))
    }

    /// Shape → Gather → Concat → Reshape folds into one reshape with a constant shape.
    @Test func foldsShapeSubgraphs() throws {
        let model = M.model(nodes: [M.node("Shape", ["x"], ["s"]),
                                    M.node("Gather", ["s", "zero"], ["batch"], int: ["axis": 0]),
                                    M.node("Unsqueeze", ["batch", "axes"], ["b1"]),
                                    M.node("Concat", ["b1", "minus1"], ["shape"], int: ["axis": 0]),
                                    M.node("Reshape", ["x", "shape"], ["y"], name: "flatten")],
                            inputs: [M.input("x", 1, [2, 3, 4])], outputs: ["y"],
                            initializers: [scalarInt64("zero", 0), M.int64s("axes", [0]), M.int64s("minus1", [-1])])
        let graph = try ONNXImporter.import(path: try M.write(model))
        #expect(graph.nodes.map(\.op.name) == ["reshape"])
        #expect(graph.type(of: graph.outputs[0]).staticShape == [2, 12])
    }

    /// Unsqueeze's axes are an attribute before opset 13 and an input from 13.
    @Test func readsAttributesThatBecameInputs() throws {
        let old = M.model(nodes: [M.node("Unsqueeze", ["x"], ["y"], ints: ["axes": [0, 3]])],
                          inputs: [M.input("x", 1, [2, 3])], outputs: ["y"], opset: 11)
        let new = M.model(nodes: [M.node("Unsqueeze", ["x", "axes"], ["y"])],
                          inputs: [M.input("x", 1, [2, 3])], outputs: ["y"], initializers: [M.int64s("axes", [0, 3])], opset: 13)
        for model in [old, new] {
            let graph = try ONNXImporter.import(path: try M.write(model))
            #expect(graph.type(of: graph.outputs[0]).staticShape == [1, 2, 3, 1])
        }
    }

    @Test func freeDimsNeedAnInputShape() throws {
        let model = M.model(nodes: [M.node("Relu", ["x"], ["y"])], inputs: [M.input("x", 1, [nil, 4], params: ["batch"])],
                            outputs: ["y"])
        let path = try M.write(model)
        let error = try expectError { try ONNXImporter.import(path: path) }
        #expect(error.kind == .inputShape)
        #expect(error.message.contains("input 'x' dim 0 ('batch') is free"))
        let fixed = try ONNXImporter.import(path: path, inputShapes: ["x": [.fixed(3), .fixed(4)]])
        #expect(fixed.type(of: fixed.inputs[0]).staticShape == [3, 4])
        let bounded = try ONNXImporter.import(path: path, inputShapes: ["x": [.range(1...8), .fixed(4)]])
        #expect(bounded.symbols.map(\.name) == ["batch"])
        #expect(bounded.symbols.first?.range == 1...8)
        let wrong = try expectError { try ONNXImporter.import(path: path, inputShapes: ["x": [.fixed(3), .fixed(5)]]) }
        #expect(wrong.message.contains("dim 1 is 4 in the model"))
        // A shape for a name that is no input is reported as such, not as the real input being free.
        let misnamed = try expectError { try ONNXImporter.import(path: path, inputShapes: ["X": [.fixed(3), .fixed(4)]]) }
        #expect(misnamed.kind == .inputShape)
        #expect(misnamed.message.contains("--input-shape names 'X', which is not an input of the model (inputs: x)"))
    }

    @Test func listsEveryUnsupportedOpOnce() throws {
        let model = M.model(nodes: [M.node("Relu", ["x"], ["a"]), M.node("Foo", ["a"], ["b"], name: "foo1"),
                                    M.node("Bar", ["b"], ["c"], name: "bar1"), M.node("Foo", ["c"], ["y"], name: "foo2")],
                            inputs: [M.input("x", 1, [2])], outputs: ["y"])
        let error = try expectError { try ONNXImporter.import(path: try M.write(model)) }
        #expect(error.kind == .unsupportedOps)
        #expect(error.message == "unsupported op types: Bar ('bar1'); Foo ('foo1', 'foo2')")
    }

    @Test func rejectsMalformedFiles() throws {
        let good = M.model(nodes: [M.node("Relu", ["x"], ["y"])], inputs: [M.input("x", 1, [2])], outputs: ["y"])
        let bytes = [UInt8](try good.serializedBytes() as [UInt8])
        let truncated = try expectError { try ONNXImporter.import(path: try M.write(bytes: Array(bytes.dropLast(3)))) }
        #expect(truncated.kind == .invalidProtobuf)
        #expect(truncated.file?.hasSuffix("model.onnx") == true)

        let dangling = M.model(nodes: [M.node("Add", ["x", "missing"], ["y"], name: "add")],
                               inputs: [M.input("x", 1, [2])], outputs: ["y"])
        let e1 = try expectError { try ONNXImporter.import(path: try M.write(dangling)) }
        #expect(e1.kind == .danglingInput)
        #expect(e1.description.contains("node 'add' (Add): input 'missing'"))

        let cyclic = M.model(nodes: [M.node("Add", ["x", "b"], ["a"], name: "n1"), M.node("Relu", ["a"], ["b"], name: "n2")],
                             inputs: [M.input("x", 1, [2])], outputs: ["b"])
        let e2 = try expectError { try ONNXImporter.import(path: try M.write(cyclic)) }
        #expect(e2.kind == .cyclicGraph)
        #expect(e2.message.contains("'n1' (Add)"))

        let short = M.model(nodes: [M.node("Add", ["x", "w"], ["y"])], inputs: [M.input("x", 1, [2])], outputs: ["y"],
                            initializers: [M.tensor("w", [1], [2])])
        let e3 = try expectError { try ONNXImporter.import(path: try M.write(short)) }
        #expect(e3.kind == .tensorSize)
        #expect(e3.message.contains("initializer 'w': raw_data holds 4 bytes, but f32[2] needs 8 bytes"))

        var double = M.tensor("w", [], [1])
        double.dataType = 11
        double.rawData = Data(count: 8)
        let e4 = try expectError {
            try ONNXImporter.import(path: try M.write(M.model(nodes: [M.node("Add", ["x", "w"], ["y"])],
                                                              inputs: [M.input("x", 1, [1])], outputs: ["y"], initializers: [double])))
        }
        #expect(e4.kind == .unsupportedDType)
        #expect(e4.message.contains("double"))
    }

    @Test func namesTheNodeWhenAShapeIsNotConstant() throws {
        let model = M.model(nodes: [M.node("Reshape", ["x", "s"], ["y"], name: "r")],
                            inputs: [M.input("x", 1, [4]), M.input("s", 7, [1])], outputs: ["y"])
        let error = try expectError { try ONNXImporter.import(path: try M.write(model)) }
        #expect(error.kind == .unsupportedUse)
        #expect(error.node == "'r' (Reshape)")
        #expect(error.constantNeeded == "s")
    }

    /// The erf form of GELU imports as one gelu, unless an intermediate is used elsewhere.
    @Test func fusesTheErfFormOfGelu() throws {
        func model(exposeErf: Bool) -> Onnx_ModelProto {
            M.model(nodes: [M.node("Div", ["x", "sqrt2"], ["d"]), M.node("Erf", ["d"], ["e"]), M.node("Add", ["e", "one"], ["a"]),
                            M.node("Mul", ["x", "a"], ["m"]), M.node("Mul", ["m", "half"], ["y"], name: "gelu_out")],
                    inputs: [M.input("x", 1, [4])], outputs: exposeErf ? ["y", "e"] : ["y"],
                    initializers: [M.tensor("sqrt2", [Float(2).squareRoot()], []), M.tensor("one", [1], []),
                                   M.tensor("half", [0.5], [])])
        }
        let fused = try ONNXImporter.import(path: try M.write(model(exposeErf: false)))
        #expect(fused.nodes.map(\.op.name) == ["gelu"])
        #expect(fused.nodes[0].location?.text == "gelu_out")
        let kept = try ONNXImporter.import(path: try M.write(model(exposeErf: true)))
        #expect(kept.nodes.map(\.op.name) == ["div.Tensor", "erf", "add.Tensor", "mul.Tensor", "mul.Tensor"])
        let x = try Tensor([Float(-2), -0.5, 0.5, 3], shape: [4])
        var a = fused
        var b = kept
        try Decompose().run(&a)
        try Decompose().run(&b)
        let ya = try GraphEvaluator(a).run([x]).outputs[0].floatValues()
        let yb = try GraphEvaluator(b).run([x]).outputs[0].floatValues()
        for (p, q) in zip(ya, yb) { #expect(abs(p - q) <= 1e-6) }
    }

    /// LayerNorm as exporters write it before opset 17 imports as one layer_norm.
    @Test func fusesTheDecomposedLayerNorm() throws {
        func model(exposeMean: Bool) -> Onnx_ModelProto {
            M.model(nodes: [M.node("ReduceMean", ["x"], ["mean"], ints: ["axes": [-1]]), M.node("Sub", ["x", "mean"], ["d"]),
                            M.node("Pow", ["d", "two"], ["sq"]), M.node("ReduceMean", ["sq"], ["var"], ints: ["axes": [-1]]),
                            M.node("Add", ["var", "eps"], ["ve"]), M.node("Sqrt", ["ve"], ["std"]), M.node("Div", ["d", "std"], ["n"]),
                            M.node("Mul", ["n", "w"], ["nw"]), M.node("Add", ["nw", "b"], ["y"], name: "ln")],
                    inputs: [M.input("x", 1, [2, 3])], outputs: exposeMean ? ["y", "mean"] : ["y"],
                    initializers: [M.tensor("two", [2], []), M.tensor("eps", [1e-5], []), M.tensor("w", [1, 2, 3], [3]),
                                   M.tensor("b", [0, 0.5, -1], [3])], opset: 13)
        }
        let fused = try ONNXImporter.import(path: try M.write(model(exposeMean: false)))
        #expect(fused.nodes.map(\.op.name) == ["layer_norm"])
        let kept = try ONNXImporter.import(path: try M.write(model(exposeMean: true)))
        #expect(kept.nodes.count == 9)
        let x = try Tensor([Float(1), 2, 4, -3, 0, 3], shape: [2, 3])
        var a = fused
        var b = kept
        try Decompose().run(&a)
        try Decompose().run(&b)
        let ya = try GraphEvaluator(a).run([x]).outputs[0].floatValues()
        let yb = try GraphEvaluator(b).run([x]).outputs[0].floatValues()
        for (p, q) in zip(ya, yb) { #expect(abs(p - q) <= 1e-5) }
    }

    /// Untrusted bytes give an error, never a crash: every truncation and seeded byte changes
    /// of a conv + pool + reshape model.
    @Test func survivesCorruptedModels() throws {
        let model = M.model(nodes: [M.node("Conv", ["x", "w", "b"], ["c"], name: "conv",
                                           ints: ["kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1]]),
                                    M.node("MaxPool", ["c"], ["p"], ints: ["kernel_shape": [2, 2], "strides": [2, 2]]),
                                    M.node("Reshape", ["p", "shape"], ["y"])],
                            inputs: [M.input("x", 1, [1, 1, 4, 4])], outputs: ["y"],
                            initializers: [M.tensor("w", [Float](repeating: 0.5, count: 18), [2, 1, 3, 3]),
                                           M.tensor("b", [1, 2], [2], raw: false), M.int64s("shape", [1, -1])])
        let bytes = [UInt8](try model.serializedBytes() as [UInt8])
        let path = try M.write(bytes: bytes)
        _ = try ONNXImporter.import(path: path)
        var outcomes = (imported: 0, rejected: 0)
        func attempt(_ variant: [UInt8]) throws {
            try FileIO.writeAtomically(variant, to: path)
            do {
                _ = try ONNXImporter.import(path: path)
                outcomes.imported += 1
            } catch {
                outcomes.rejected += 1
            }
        }
        for n in stride(from: 0, to: bytes.count, by: 3) { try attempt(Array(bytes.prefix(n))) }
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<300 {
            var variant = bytes
            for _ in 0..<3 { variant[Int.random(in: 0..<variant.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            try attempt(variant)
        }
        #expect(outcomes.rejected > 0)
    }

    func scalarInt64(_ name: String, _ v: Int64) -> Onnx_TensorProto {
        var t = M.int64s(name, [v])
        t.dims = []
        return t
    }

    func expectError(_ body: () throws -> Any) throws -> ONNXError {
        do {
            _ = try body()
        } catch let e as ONNXError {
            return e
        }
        Issue.record("expected an ONNXError")
        return ONNXError(.io, "none")
    }
}

@Suite struct ONNXResizeRuleTests {
    /// ONNX's nearest mappings, worked by hand from the Resize spec's formulas.
    @Test func nearestSourceIndices() throws {
        let node = ONNXNode(proto: Onnx_NodeProto(), import: GraphImport(graph: Onnx_GraphProto(), opset: 19, directory: ""))
        // 4 -> 8, half_pixel: x_orig = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, ...; round_prefer_floor.
        #expect(try ONNXOps.nearestSources(input: 4, output: 8, scale: 2, transform: "half_pixel",
                                           rounding: "round_prefer_floor", node) == [0, 0, 1, 1, 2, 2, 3, 3])
        // 4 -> 3, align_corners: x * 3 / 2 = 0, 1.5, 3; round_prefer_ceil takes 1.5 up.
        #expect(try ONNXOps.nearestSources(input: 4, output: 3, scale: 0.75, transform: "align_corners",
                                           rounding: "round_prefer_ceil", node) == [0, 2, 3])
        // 2 -> 5, asymmetric ceil: x / 2.5 = 0, 0.4, 0.8, 1.2, 1.6 -> ceil, clamped to 1.
        #expect(try ONNXOps.nearestSources(input: 2, output: 5, scale: 2.5, transform: "asymmetric",
                                           rounding: "ceil", node) == [0, 1, 1, 1, 1])
        #expect(throws: ONNXError.self) {
            try ONNXOps.nearestSources(input: 2, output: 4, scale: 2, transform: "tf_crop_and_resize", rounding: "floor", node)
        }
    }
}
