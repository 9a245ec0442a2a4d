import Testing
import XNNPACKCompiler
import XNNPACKRuntime
import XNNPACKSchema

/// The payload round-trips, and the decoder rejects each kind of malformed payload with a
/// message naming the field, node or value.
struct PayloadTests {
    static func sample() -> XNNPayload {
        var p = XNNPayload()
        let x = p.add(XNNValue(datatype: .fp32, dims: [1, 4, 4, 2], permutation: [0, 2, 3, 1]))
        let w = p.add(XNNValue(datatype: .qcint8, dims: [3, 1, 1, 2], channelScales: [0.5, 0.25, 0.125], dataKey: "w"))
        let y = p.add(XNNValue(datatype: .qint8, dims: [1, 4, 4, 3], scale: 0.1, zeroPoint: -3))
        p.nodes.append(XNNNode(kind: .convolution2d, inputs: [x, w, XNNPayload.absent], outputs: [y],
                               params: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 3], outputMin: 0, source: "%y = convolution"))
        p.inputs = [x]
        p.outputs = [y]
        return p
    }

    static func decode(_ p: XNNPayload) throws(XNNPACKError) -> XNNPayload {
        let bytes = p.encoded()
        let result = bytes.withUnsafeBytes { raw in Result { () throws(XNNPACKError) in try XNNPayload.decode(raw) } }
        return try result.get()
    }

    static func rejects(_ p: XNNPayload, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try decode(p)
            Issue.record("decoded; expected an error containing '\(message)'", sourceLocation: sourceLocation)
        } catch {
            #expect(error.kind == .payload, sourceLocation: sourceLocation)
            #expect(error.description.contains(message), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func roundTripsAndIsDeterministic() throws {
        #expect(try Self.decode(Self.sample()) == Self.sample())
        #expect(Self.sample().encoded() == Self.sample().encoded())
    }

    @Test func rejectsMalformedPayloads() {
        let bad: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(throws: XNNPACKError.self) { try bad.withUnsafeBytes { raw in try XNNPayload.decode(raw) } }

        var p = Self.sample()
        p.nodes[0].inputs[0] = 9
        Self.rejects(p, "node 0 (convolution2d, from %y = convolution): input 0 refers to value 9, out of range 0..<3")

        p = Self.sample()
        p.nodes[0].params.removeLast()
        Self.rejects(p, "12 params, expected 13")

        p = Self.sample()
        p.nodes[0].inputs = [0]
        Self.rejects(p, "1 inputs, expected 2...3")

        p = Self.sample()
        p.values[1].channelScales = [1]
        Self.rejects(p, "value 1: 1 channel scales for channel dim 0")

        p = Self.sample()
        p.values[0].permutation = [0, 1, 1, 3]
        Self.rejects(p, "value 0: permutation [0, 1, 1, 3] is not a permutation")

        p = Self.sample()
        p.values[2].scale = 0
        Self.rejects(p, "value 2: scale 0.0 is not a positive finite number")

        p = Self.sample()
        p.inputs = [1]
        Self.rejects(p, "input 0 refers to value 1, a constant")

        p = Self.sample()
        p.outputs = [0]
        Self.rejects(p, "output 0 refers to value 0, already an input or output")

        p = Self.sample()
        p.values[2].permutation = [0, 1, 2, 3]
        p.outputs = []
        Self.rejects(p, "value 2 has a permutation but is not an input or output")

        p = Self.sample()
        p.values[0].dims = [1, 2, 3, 4, 5, 6, 7]
        Self.rejects(p, "value 0: rank 7 is over XNNPACK's 6")

        p = Self.sample()
        p.nodes[0].outputMin = 1
        p.nodes[0].outputMax = 0
        Self.rejects(p, "output range 1.0...0.0 is empty")
    }

    @Test func runtimeIsAvailableAndNamedForTheDescriptor() {
        #expect(XNNPACKRuntime().isAvailable)
        #expect(XNNPACKRuntime().id == "KilnXNNPACK")
        #expect(XNNPACKCompiler().descriptor.id == XNNPACKRuntime.id)
    }
}
