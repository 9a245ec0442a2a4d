import KilnKernels
import KilnOps
import Testing

/// Every kernel against torch/numpy results (`scripts/fixtures/make_kernel_fixtures.py`).
@Suite struct FixtureTests {
    @Test(arguments: FixtureCase.all)
    func matchesReference(_ c: FixtureCase) throws {
        try c.check()
    }

    /// Every op has a kernel and at least one numerical case.
    @Test(arguments: OpTable.all.map(\.name))
    func everyOpHasAKernelAndAFixture(_ op: String) {
        #expect(KernelRegistry.entry(for: op) != nil, "no kernel for \(op)")
        #expect(FixtureCase.all.contains { $0.op == op }, "no fixture case for \(op)")
    }
}
