import Testing
@testable import KilnCapture

@Suite struct ONNXInputShapeTests {
    @Test func parsesFixedAndRangedDims() throws {
        let (name, dims) = try ONNXInputDim.parse("x=1x1..512x256")
        #expect(name == "x")
        #expect(dims == [.fixed(1), .range(1...512), .fixed(256)])
    }

    @Test func rejectsMalformedDims() {
        #expect(throws: ONNXError.self) { try ONNXInputDim.parse("x=1xfoo") }
        #expect(throws: ONNXError.self) { try ONNXInputDim.parse("1x2") }
        #expect(throws: ONNXError.self) { try ONNXInputDim.parse("x=5..2") }
    }
}
