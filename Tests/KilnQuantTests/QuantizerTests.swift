import KilnExamples
import KilnIR
import KilnOps
import KilnPasses
import KilnQuant
import KilnTensor
import Testing

/// Takes every `relu` no one claimed: its output quantized per tensor.
private struct ReluQuantizer: Quantizer {
    let name = "test-relu"
    func annotate(_ a: inout QuantizationAnnotation) throws(QuantError) {
        for (i, node) in a.graph.nodes.enumerated() where node.op.name == "relu" && !a.isClaimed(i) {
            a.claim([i], NodeQuantization(quantizer: name, pattern: "relu",
                                          output: .spec(.int8Activation(observer: .minMax))))
        }
    }
}

/// Takes every `linear` and `relu` no one claimed, each on its own, weights per channel.
private struct EverythingQuantizer: Quantizer {
    let name = "test-everything"
    func annotate(_ a: inout QuantizationAnnotation) throws(QuantError) {
        for (i, node) in a.graph.nodes.enumerated() where ["linear", "relu"].contains(node.op.name) && !a.isClaimed(i) {
            let inputs: [Int: QuantizationSpec] = node.op.name == "linear"
                ? [0: .int8Activation(observer: .minMax), 1: .int8Weight()] : [:]
            a.claim([i], NodeQuantization(quantizer: name, pattern: node.op.name, inputs: inputs,
                                          output: .spec(.int8Activation(observer: .minMax))))
        }
    }
}

/// Composition, patterns, filters and schemes.
@Suite struct QuantizerTests {
    static func quantizers(of graph: Graph) -> [String: String] {
        var out: [String: String] = [:]
        for node in graph.nodes {
            if case .string(let q) = node.annotations["quantizer"], let loc = node.location { out[loc.text] = q }
        }
        return out
    }

    @Test func theFirstQuantizerTakesWhatItClaimsAndTheNextSeesTheRest() throws {
        let mlp = try ExampleModels.build(.mlp).graph
        var a = QuantizationAnnotation(mlp)
        try ComposedQuantizer([ReluQuantizer(), EverythingQuantizer()]).annotate(&a)
        let first = Self.quantizers(of: a.annotatedGraph)
        #expect(first["relu1"] == "test-relu" && first["relu2"] == "test-relu")
        #expect(first["fc1"] == "test-everything" && first["fc3"] == "test-everything")

        var b = QuantizationAnnotation(mlp)
        try ComposedQuantizer([EverythingQuantizer(), ReluQuantizer()]).annotate(&b)
        #expect(Self.quantizers(of: b.annotatedGraph)["relu1"] == "test-everything")
    }

    @Test func composedTestQuantizersConvertAndRun() throws {
        let model = try ExampleModels.build(.mlp)
        let samples = try Samples.make(model, split: "composition", count: 4)
        let (graph, report) = try quantize(model.graph, quantizer: ComposedQuantizer([ReluQuantizer(), EverythingQuantizer()]),
                                           name: "test", calibration: samples, heldOut: samples)
        // Three linears and two relus each quantize their output; the linears their input and weight.
        #expect(graph.nodes.filter { $0.op.name == "quantized_decomposed.quantize_per_tensor" }.count == 5 + 1)
        #expect(graph.nodes.filter { $0.op.name == "quantized_decomposed.dequantize_per_channel" }.count == 3)
        #expect((report.endToEndSQNR ?? 0) > 25)
        let run = try compileAndRun(graph, samples)
        let reference = try samples.map { try GraphEvaluator(model.graph).run($0).outputs }
        #expect(sqnr(reference, run.outputs) > 25)
    }

    @Test func fusedPatternsGetOneOutputQuantizer() throws {
        // Unfolded CNN: convolution → batch_norm → relu is one pattern; its output is the relu's.
        let cnn = try ExampleModels.build(.cnn).graph
        var a = QuantizationAnnotation(cnn)
        try XNNPACKQuantizer().annotate(&a)
        let g = a.annotatedGraph
        let conv = try #require(g.nodes.first { $0.location?.text == "blocks.0.conv" })
        let bn = try #require(g.nodes.first { $0.location?.text == "blocks.0.bn" })
        let relu = try #require(g.nodes.first { $0.location?.text == "blocks.0.relu" })
        for node in [conv, bn, relu] {
            #expect(node.annotations["quant_pattern"] == .string("convolution+batch_norm+relu"))
        }
        #expect(conv.annotations["quant_in0"] != nil && conv.annotations["quant_in1"] != nil)
        #expect(conv.annotations["quant_out"] == nil && bn.annotations["quant_out"] == nil)
        #expect(relu.annotations["quant_out"] == .string("i8[-128,127] affine per_tensor static minmax"))
        // Pooling and flatten share their input's qparams.
        let pool = try #require(g.nodes.first { $0.location?.text == "pool" })
        #expect(pool.annotations["quant_out"] == .string("shared(in0)"))
        // annotateOnly folds the batch norm first, as quantize does.
        let folded = try annotateOnly(cnn, scheme: try QuantizationSchemes.parse("int8"))
        #expect(folded.nodes.contains { $0.annotations["quant_pattern"] == .string("convolution+relu") })
    }

    @Test func aNodeNamePatternKeepsTheHeadInFloat() throws {
        let model = try ExampleModels.build(.mlp)
        let samples = try Samples.make(model, split: "filter", count: 2)
        let quantizer = XNNPACKQuantizer(filter: NodeFilter(excludingNames: ["fc3*", "lm_head"]))
        let (graph, _) = try quantize(model.graph, quantizer: quantizer, name: "filtered", calibration: samples)
        let head = try #require(graph.nodes.first { $0.location?.text == "fc3" })
        #expect(head.annotations["quantizer"] == nil)
        // fc3 still reads its f32 weight constant; fc1 and fc2 read dequantized int8 weights.
        #expect(graph.constants.contains { graph[$0].name == "fc3.weight" })
        #expect(!graph.constants.contains { graph[$0].name == "fc1.weight" })
        #expect(graph.constants.contains { graph[$0].name == "fc1.weight.int8" && graph.type(of: $0).dtype == .int8 })
        // By op type: only linears, so no relu is claimed on its own.
        let linearsOnly = NodeFilter(ops: ["linear"])
        #expect(linearsOnly.admits(model.graph.nodes[0], in: model.graph))
        #expect(!linearsOnly.admits(model.graph.nodes[1], in: model.graph))
    }

    @Test func aStaticSchemeNeedsCalibration() throws {
        let mlp = try ExampleModels.build(.mlp).graph
        let error = try #require(throws: QuantError.self) {
            _ = try quantize(mlp, scheme: try QuantizationSchemes.parse("int8"), calibration: [])
        }
        #expect(error.kind == .missingCalibration && error.description.contains("int8"))
        // Dynamic schemes do not; without held-out samples the report says what was skipped.
        let (_, report) = try quantize(mlp, scheme: try QuantizationSchemes.parse("8da4w:g32"), calibration: [])
        #expect(report.endToEnd.isEmpty && report.skipped?.contains("skipped") == true)
    }

    @Test func aSampleThatDoesNotFitIsNamed() throws {
        let mlp = try ExampleModels.build(.mlp).graph
        let bad = [[try Tensor(zeros: .float32, shape: [1, 3])]]
        let error = try #require(throws: QuantError.self) {
            _ = try quantize(mlp, scheme: try QuantizationSchemes.parse("int8"), calibration: bad)
        }
        #expect(error.kind == .badSample && error.description.contains("calibration sample 0"))
    }

    @Test func schemesParseAndPluginsAddPresets() throws {
        #expect(try QuantizationSchemes.parse("int8").needsCalibration)
        #expect(try !QuantizationSchemes.parse("int8-dynamic").needsCalibration)
        #expect(try QuantizationSchemes.parse("8da4w").name == "8da4w:g128")
        for g in [32, 64, 128] {
            let q = try #require(try QuantizationSchemes.parse("8da4w:g\(g)").quantizers.first as? Int8DynActInt4WeightQuantizer)
            #expect(q.groupSize == g)
        }
        for (text, phrase) in [("int9", "unknown quantization scheme 'int9'"), ("8da4w:g48", "expected g32, g64 or g128"),
                               ("int8:fast", "int8 takes no argument")] {
            let error = try #require(throws: QuantError.self) { _ = try QuantizationSchemes.parse(text) }
            #expect(error.kind == .unknownScheme && error.description.contains(phrase), "\(error)")
        }
        // A backend adds a preset without editing KilnQuant.
        QuantizationSchemes.register("test-16a8w", summary: "int16 activations, int8 weights") { argument throws(QuantError) in
            let activation = QuantizationSpec(dtype: .int16, symmetric: true, granularity: .perTensor, observer: .minMax)
            return QuantizationScheme(name: "test-16a8w", summary: "test", quantizers: [XNNPACKQuantizer(activation: activation)],
                                      needsCalibration: true)
        }
        #expect(QuantizationSchemes.all.contains { $0.name == "test-16a8w" })
        let preset = try QuantizationSchemes.parse("test-16a8w")
        let model = try ExampleModels.build(.mlp)
        let (graph, report) = try quantize(model.graph, scheme: preset, calibration: try Samples.make(model, split: "16a8w", count: 2))
        #expect(graph.nodes.contains { $0.op.name == "quantized_decomposed.quantize_per_tensor" && graph.type(of: $0.results[0]).dtype == .int16 })
        #expect(report.tensors.contains { $0.spec.hasPrefix("i16[-32768,32767] symmetric") })
    }

    @Test func globMatching() {
        let filter = NodeFilter(excludingNames: ["model.layers.*.attn.*", "lm_head"])
        var b = GraphBuilder(name: "g")
        let x = try! b.input("x", TensorType(.float32, static: [2]))
        _ = try! b.call("relu", [x], names: ["y"], location: "model.layers.3.attn.q")
        _ = try! b.call("relu", [x], names: ["lm_head"], location: "head")
        _ = try! b.call("relu", [x], names: ["z"], location: "model.layers.3.mlp")
        let g = b.graph
        #expect(!filter.admits(g.nodes[0], in: g))
        #expect(!filter.admits(g.nodes[1], in: g))
        #expect(filter.admits(g.nodes[2], in: g))
    }
}

/// An attention mask (-inf) must not pass through integers: the add reading it and softmax's
/// input stay float, softmax's output has the fixed [0, 1) qparams.
@Suite struct MaskTests {
    @Test func masksAndSoftmaxInputsStayFloat() throws {
        let g = try ExampleModels.build(.decoderBlock).graph
        var a = QuantizationAnnotation(g)
        try XNNPACKQuantizer().annotate(&a)
        let annotated = a.annotatedGraph
        let mask = try #require(annotated.nodes.first { $0.location?.text == "attn.mask" })
        #expect(mask.annotations["quantizer"] == nil)
        let softmax = try #require(annotated.nodes.first { $0.location?.text == "attn.softmax" })
        #expect(softmax.annotations["quant_in0"] == nil)
        #expect(softmax.annotations["quant_out"] == .string("fixed(i8, scale=0.00390625, zero_point=-128)"))
    }
}
