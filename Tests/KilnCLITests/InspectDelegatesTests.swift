import Foundation
import KilnEmit
import KilnIR
import KilnOps
import KilnTensor
import Testing

/// `kiln inspect` on a program with a delegate: its payload size, the instruction calling it,
/// its compile specs and named data.
@Suite struct InspectDelegatesTests {
    @Test func inspectShowsDelegatesPayloadsAndCallers() throws {
        // The subgraph: relu(x); the delegate's payload is opaque bytes (inspect never runs it).
        var sb = GraphBuilder(name: "sub")
        let sx = try sb.input("x", TensorType(.float32, static: [4]))
        sb.output(try sb.call("relu", [sx])[0])
        let sub = try sb.finish()

        var b = GraphBuilder(name: "net")
        let x = try b.input("x", TensorType(.float32, static: [4]))
        let d = b.addDelegate(LoweredDelegate(backendID: "Fake", payload: Array(repeating: 7, count: 300),
                                              compileSpecs: [.init(key: "mode", value: [1, 2])],
                                              namedData: [.init(key: "weights0", bytes: Array(repeating: 1, count: 64))],
                                              subgraph: sub))
        let y = try b.append(.delegateCall(results: [TensorType(.float32, static: [4])]),
                             arguments: [.tensorList([x]), .int(d)], resultNames: ["y"], resultTypes: nil,
                             debugHandle: nil, location: SourceLocation("fake partition 0"))[0]
        b.output(try b.call("neg", [y])[0])
        let compiled = try KilnCompiler.compile(try b.finish())
        let url = try KilnCommand.temporaryDirectory().appendingPathComponent("delegated.pte")
        try Data(compiled.bytes).write(to: url)

        let r = try KilnCommand.run(["inspect", url.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("[0] delegate Fake(%0, %1)"))
        #expect(r.stdout.contains("delegates (1):"))
        #expect(r.stdout.contains("[0] Fake: payload 300 bytes in segment 1, called by instruction 0; compile specs: mode (2 bytes)"))
        #expect(r.stdout.contains("named data: weights0 (64 bytes)"))
        let json = try KilnCommand.run(["inspect", url.path, "--json"])
        #expect(json.stdout.contains("\"payload_bytes\":300"))
    }
}
