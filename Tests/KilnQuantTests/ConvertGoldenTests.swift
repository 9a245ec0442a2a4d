import Foundation
import KilnIR
import KilnQuant
import KilnTensor
import Testing

/// Text in, text out: `Golden/<case>.input.kir` quantized with the int8 quantizer (min-max
/// observers) on fixed samples must print exactly as `Golden/<case>.expected.kir`; the expected
/// text parses back to the same graph and passes the verifier.
@Suite struct ConvertGoldenTests {
    static let samples: [[Tensor]] = [
        [try! Tensor([Float(-1), 0.5, 2, -0.25], shape: [1, 4])],
        [try! Tensor([Float(0.5), 1, -2, 1.5], shape: [1, 4])],
    ]

    @Test func convertInt8() throws {
        let input = try String(contentsOf: goldenFolder.appendingPathComponent("convert-int8.input.kir"), encoding: .utf8)
        let expected = try String(contentsOf: goldenFolder.appendingPathComponent("convert-int8.expected.kir"), encoding: .utf8)
        let graph = try KIRParser.parse(input)
        let quantizer = XNNPACKQuantizer(activation: .int8Activation(observer: .minMax))
        let (converted, _) = try quantize(graph, quantizer: quantizer, name: "int8", calibration: Self.samples)
        let printed = KIRPrinter.print(converted)
        #expect(printed == expected, "got:\n\(printed)")
        let reparsed = try KIRParser.parse(expected)
        #expect(reparsed == converted)
    }

    @Test func aGraphWithNothingToQuantizeIsUnchanged() throws {
        let text = """
            kir 1

            graph @forward(%x: f32[1, 4]) {
              %y = neg(%x) : f32[1, 4] #0 loc("negate")
              return %y
            }

            """
        let graph = try KIRParser.parse(text)
        let (converted, report) = try quantize(graph, quantizer: XNNPACKQuantizer(), name: "int8", calibration: Self.samples)
        #expect(KIRPrinter.print(converted) == text)
        #expect(report.tensors.isEmpty)
    }
}
