import KilnIR
import KilnOps
import Testing

/// Node annotations: kept by equality, printed after the location, parsed back exactly.
@Suite struct AnnotationTests {
    static let text = """
        kir 1

        graph @forward(%x: f32[2]) {
          %y = relu(%x) : f32[2] #0 loc("act") {bound = -inf, count = -3, fused = true, kind = "a \\"quoted\\" name", low = 0.5}
          %z = neg(%y) : f32[2] #1 {nan = nan}
          return %z
        }

        """

    @Test func annotationsRoundTripInSortedKeyOrder() throws {
        let graph = try parse(Self.text)
        #expect(graph.nodes[0].annotations == [
            "bound": .float(-.infinity), "count": .int(-3), "fused": .bool(true),
            "kind": .string("a \"quoted\" name"), "low": .float(0.5)])
        #expect(graph.nodes[1].annotations["nan"].map { if case .float(let v) = $0 { v.isNaN } else { false } } == true)
        #expect(KIRPrinter.print(graph) == Self.text)
        try expectRoundTrip(graph)
    }

    @Test func annotationsTakePartInEquality() throws {
        var graph = try parse(Self.text)
        let same = graph
        graph.nodes[0].annotations["fused"] = .bool(false)
        #expect(graph != same)
        graph.nodes[0].annotations["fused"] = .bool(true)
        #expect(graph == same)
    }

    @Test func badAnnotationsAreReportedWhereTheyAre() {
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) {a = 1, a = 2}\n  return %y\n}\n",
                         .duplicateName, line: 2, column: 25, "annotation 'a' is given twice")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) {a = [1]}\n  return %y\n}\n",
                         .expectedToken, line: 2, column: 22, "expected a string, number or bool as the value of annotation 'a'")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) {a 1}\n  return %y\n}\n",
                         .expectedToken, line: 2, column: 20, "expected '=' after annotation key 'a'")
        expectParseError("graph @f(%x: f32[2]) {\n  %y = relu(%x) {a = 1\n  return %y\n}\n",
                         .expectedToken, line: 3, column: 3, "expected '}' to close the annotations")
    }
}
