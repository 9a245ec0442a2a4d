import KilnIR
import KilnTensor
import Testing
import XNNPACKSchema
@testable import XNNPACKCompiler

/// One-row fp32 fully-connected layers lowered split along K (grouped 1x1 convolution, then a
/// global average pooling over the slices), against the portable evaluator at the same 1e-4
/// relative tolerance as the other float lowerings.
struct SplitKLoweringTests {
    typealias Check = FloatLoweringTests

    /// The kinds of one split-K layer.
    static let splitLayer: [XNNNodeKind] = [.staticReshape, .convolution2d, .staticReshape, .globalAveragePooling2d,
                                            .staticReshape]

    @Test func groupCountKeepsSlicesOfAtLeast32() {
        let cases: [(rows: Int, k: Int, groups: Int)] = [
            (1, 512, 8), (1, 256, 8), (1, 128, 4), (1, 64, 2), (1, 100, 2), (1, 96, 2), (1, 48, 1), (1, 63, 1),
            (1, 4096, 8), (2, 512, 1), (7, 256, 1),
        ]
        for c in cases {
            #expect(XNNLowering.splitKGroups(rows: c.rows, k: c.k) == c.groups, "rows \(c.rows), k \(c.k)")
        }
    }

    @Test func oneRowLinearsSplitWithTheReluInThePooling() throws {
        let g = try Check.graph([1, 256]) { b, x in
            let w1 = try Check.constant(&b, "w1", [96, 256], seed: 31), b1 = try Check.constant(&b, "b1", [96], seed: 32)
            let h = try b.call("relu", [try b.call("linear", [x, w1, b1])[0]])[0]
            return try b.call("linear", [h, try Check.constant(&b, "w2", [10, 96], seed: 33), nil])[0]
        }
        let payload = try Check.check(g)
        #expect(payload.nodes.map(\.kind) == Self.splitLayer + Self.splitLayer)
        let convs = payload.nodes.filter { $0.kind == .convolution2d }
        // groups, input channels per group, output channels per group
        #expect(convs.map { Array($0.params.suffix(3)) } == [[8, 32, 96], [2, 48, 10]])
        let pools = payload.nodes.filter { $0.kind == .globalAveragePooling2d }
        #expect(pools.map(\.outputMin) == [0, -.infinity])
        #expect(convs.allSatisfy { $0.outputMin == -.infinity && $0.outputMax == .infinity })
    }

    @Test func oneRowAddmmAndMmSplitTheirTransposedWeights() throws {
        let g = try Check.graph([1, 1, 128]) { b, x in
            let w = try Check.constant(&b, "w", [128, 64], seed: 34), bias = try Check.constant(&b, "b", [64], seed: 35)
            let flat = try b.call("view_copy", [x], ["size": .intList([1, 128])])[0]
            let y = try b.call("addmm", [bias, flat, w])[0]
            return try b.call("mm", [y, try Check.constant(&b, "w2", [64, 5], seed: 36)])[0]
        }
        let payload = try Check.check(g)
        #expect(payload.nodes.map(\.kind) == [.staticReshape] + Self.splitLayer + Self.splitLayer)
    }

    @Test func severalRowsOrShortRowsStayOneFullyConnected() throws {
        let rows = try Check.graph([2, 256]) { b, x in
            try b.call("linear", [x, try Check.constant(&b, "w", [16, 256], seed: 37), nil])[0]
        }
        #expect(try Check.check(rows).nodes.map(\.kind) == [.fullyConnected])
        let short = try Check.graph([1, 48]) { b, x in
            try b.call("linear", [x, try Check.constant(&b, "w", [16, 48], seed: 38), nil])[0]
        }
        #expect(try Check.check(short).nodes.map(\.kind) == [.fullyConnected])
    }

    @Test func weightsThatWouldOverflowWhenScaledStayOneFullyConnected() throws {
        let g = try Check.graph([1, 64]) { b, x in
            var values = try XNNPACKHarness.random([4, 64], seed: 39).floatValues()
            values[5] = 3e38
            return try b.call("linear", [x, try b.constant("w", try Tensor(values, shape: [4, 64])), nil])[0]
        }
        let payload = try XNNPACKHarness.lower(g).bytes.withUnsafeBytes { try XNNPayload.decode($0) }
        #expect(payload.nodes.map(\.kind) == [.fullyConnected])
    }
}
