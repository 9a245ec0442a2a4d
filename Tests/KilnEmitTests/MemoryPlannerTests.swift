import KilnEmit
import KilnExamples
import KilnIR
import KilnPasses
import Testing

@Suite struct MemoryPlannerTests {
    /// x -> relu -> relu -> relu -> relu, each f32[256] (1 KiB).
    static let chain = """
        graph @g(%x: f32[256]) {
          %a = relu(%x)
          %b = relu(%a)
          %c = relu(%b)
          %d = relu(%c)
          return %d
        }
        """

    @Test func lifetimesRunFromDefinitionToLastUse() throws {
        let g = try parse(Self.chain)
        let lifetimes = MemoryPlanner.lifetimes(of: g)
        #expect(lifetimes[try value(g, "x")] == Lifetime(first: 0, last: 0))
        #expect(lifetimes[try value(g, "a")] == Lifetime(first: 0, last: 1))
        #expect(lifetimes[try value(g, "c")] == Lifetime(first: 2, last: 3))
        #expect(lifetimes[try value(g, "d")] == Lifetime(first: 3, last: 3))
    }

    @Test func chainReusesMemoryDownToTheLowerBound() throws {
        let g = try parse(Self.chain)
        let plan = try MemoryPlanner().plan(g)
        try plan.check(g)
        // At most two 1 KiB tensors are live at once: the planner reuses memory to reach that.
        #expect(plan.lowerBound == 2048)
        #expect(plan.arenaSize == 2048)
        let offsets = try ["x", "a", "b", "c", "d"].map { try #require(plan.offsets[try value(g, $0)]) }
        #expect(Set(offsets).count == 2)
        #expect(offsets[0] != offsets[1] && offsets[1] != offsets[2])
        #expect(offsets[0] == offsets[2])
    }

    @Test func inputsLiveFromTheStartAndOutputsToTheEnd() throws {
        // %y is an output computed first: nothing after it may take its bytes; %x is read last.
        let g = try parse("""
            graph @g(%x: f32[64]) {
              %y = relu(%x)
              %a = neg(%y)
              %b = neg(%a)
              %c = add.Tensor(%b, %x)
              return %y, %c
            }
            """)
        let lifetimes = MemoryPlanner.lifetimes(of: g)
        #expect(lifetimes[try value(g, "x")] == Lifetime(first: 0, last: 3))
        #expect(lifetimes[try value(g, "y")] == Lifetime(first: 0, last: 3))
        let plan = try MemoryPlanner().plan(g)
        try plan.check(g)
        let (x, y) = (plan.offsets[try value(g, "x")]!, plan.offsets[try value(g, "y")]!)
        for name in ["a", "b", "c"] {
            let offset = plan.offsets[try value(g, name)]!
            #expect(offset != x && offset != y, "%\(name) reuses a live input or output")
        }
    }

    @Test func checkerCatchesAnOverlap() throws {
        let g = try parse(Self.chain)
        var plan = try MemoryPlanner().plan(g)
        // %a and %b are both live at step 1; put them on the same bytes.
        plan.offsets[try value(g, "b")] = plan.offsets[try value(g, "a")]
        expectEmitError(.invalidPlan, "%a", "%b", "share memory while both are live at step 1") {
            try plan.check(g)
        }
    }

    @Test func checkerCatchesPartialOverlapMisalignmentAndMissingOffsets() throws {
        let g = try parse(Self.chain)
        let plan = try MemoryPlanner().plan(g)
        var partial = plan
        partial.arenaSize = 4096
        for (name, offset) in [("x", 3072), ("a", 0), ("b", 1008), ("c", 2048), ("d", 3072)] {
            partial.offsets[try value(g, name)] = offset
        }
        expectEmitError(.invalidPlan, "%a (bytes 0..<1024", "%b (bytes 1008..<2032") { try partial.check(g) }

        var misaligned = plan
        misaligned.offsets[try value(g, "c")] = 8
        expectEmitError(.invalidPlan, "%c", "offset 8 is not a non-negative multiple of 16") { try misaligned.check(g) }

        var missing = plan
        missing.offsets[try value(g, "d")] = nil
        expectEmitError(.invalidPlan, "%d", "no offset") { try missing.check(g) }

        var outside = plan
        outside.offsets[try value(g, "d")] = plan.arenaSize
        expectEmitError(.invalidPlan, "%d", "past the arena") { try outside.check(g) }
    }

    @Test func symbolicDimsArePlannedAtTheirBound() throws {
        let g = try parse("""
            symbol seq in 1...64
            graph @g(%x: f32[seq, 4]) {
              %y = relu(%x)
              return %y
            }
            """)
        let plan = try MemoryPlanner().plan(g)
        #expect(plan.sizes[try value(g, "x")] == 64 * 4 * 4)
        #expect(plan.sizes[try value(g, "y")] == 64 * 4 * 4)
        #expect(plan.arenaSize == 2 * 64 * 4 * 4)
        try plan.check(g)
    }

    @Test func alignmentIsAParameter() throws {
        // 3-byte tensors: each is rounded up to the alignment.
        let g = try parse("""
            graph @g(%x: i8[3]) {
              %a = neg(%x)
              %b = neg(%a)
              return %b
            }
            """)
        for alignment in [1, 16, 64] {
            let plan = try MemoryPlanner(alignment: alignment).plan(g)
            try plan.check(g)
            #expect(plan.alignment == alignment)
            #expect(plan.offsets.values.allSatisfy { $0 % alignment == 0 })
            #expect(plan.arenaSize == 2 * max(3, alignment))
            #expect(plan.lowerBound == plan.arenaSize)
        }
    }

    @Test func resultsOfOneNodeNeverShareMemory() throws {
        let g = try parse("""
            graph @g(%x: f32[2, 4, 3, 3], %m: f32[4], %v: f32[4]) {
              %y, %mean, %invstd = _native_batch_norm_legit_no_training(%x, none, none, %m, %v, momentum=0.1, eps=1e-05)
              %z = relu(%y)
              return %z
            }
            """)
        let plan = try MemoryPlanner().plan(g)
        try plan.check(g)
        let node = g.nodes[0]
        let spans = node.results.map { (plan.offsets[$0]!, plan.offsets[$0]! + plan.sizes[$0]!) }
        for i in spans.indices {
            for j in spans.indices where i < j && spans[i].0 < spans[i].1 && spans[j].0 < spans[j].1 {
                #expect(spans[i].1 <= spans[j].0 || spans[j].1 <= spans[i].0)
            }
        }
    }

    @Test(arguments: ExampleModels.Name.allCases)
    func examplesPlanWithinTheirLowerBound(_ name: ExampleModels.Name) throws {
        var g = try ExampleModels.build(name).graph
        try PassManager(CompileOptions.standardPasses, verifyEachPass: true).run(&g)
        let plan = try MemoryPlanner().plan(g)
        try plan.check(g)
        #expect(plan.lowerBound > 0)
        #expect(plan.lowerBound <= plan.arenaSize)
        // Reuse: the arena is smaller than every tensor side by side.
        #expect(plan.arenaSize < plan.sizes.values.reduce(0, +))
    }

    @Test func samePlanEveryTime() throws {
        var g = try ExampleModels.build(.decoderBlock).graph
        try PassManager(CompileOptions.standardPasses).run(&g)
        #expect(try MemoryPlanner().plan(g) == MemoryPlanner().plan(g))
    }
}
