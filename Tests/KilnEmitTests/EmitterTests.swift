import KilnEmit
import KilnIR
import KilnPTE
import KilnTensor
import Testing

@Suite struct EmitterTests {
    /// Every kind of argument: an int list, defaulted Scalars, a none, a dtype, floats, a tensor
    /// list, and an op with three results.
    static let tiny = """
        graph @forward(%x: f32[2, 3]) {
          %w = constant f32[4, 3] dense [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
          %b = constant f32[4] dense [0.5, -0.5, 1.5, -1.5]
          %rv = constant f32[4] dense [1, 2, 3, 4]
          %wt = permute_copy(%w, dims=[1, 0]) loc("fc")
          %y = addmm(%b, %x, %wt) loc("fc")
          %m = mean.dim(%y, dim=none, dtype=f32) loc("pool")
          %n, %mean, %invstd = _native_batch_norm_legit_no_training(%y, none, none, %b, %rv, momentum=0.1, eps=1e-05) loc("bn")
          %c = cat([%y, %n], dim=0)
          return %c, %m
        }
        """

    @Test func tinyGraphValueByValue() throws {
        let g = try parse(Self.tiny)
        let plan = try MemoryPlanner().plan(g)
        let file = try PTEEmitter().emit(g, plan: plan)
        let program = file.program
        #expect(program.executionPlan.count == 1)
        let ep = program.executionPlan[0]
        #expect(ep.name == "forward")

        func tensor(_ name: String, _ sizes: [Int32]) throws -> PTE.EValue {
            let offset = try #require(plan.offsets[try value(g, name)])
            return .tensor(PTE.Tensor(scalarType: .float, sizes: sizes, dimOrder: Array(0..<UInt8(sizes.count)),
                                      allocationInfo: PTE.AllocationDetails(memoryID: 1, offset: UInt64(offset))))
        }
        func constant(_ entry: UInt32, _ sizes: [Int32]) -> PTE.EValue {
            .tensor(PTE.Tensor(scalarType: .float, sizes: sizes, dimOrder: Array(0..<UInt8(sizes.count)),
                               dataBufferIdx: entry))
        }
        let expected: [PTE.EValue] = [
            try tensor("x", [2, 3]),                       // 0: input
            constant(1, [4, 3]), constant(2, [4]), constant(3, [4]),  // 1-3: %w %b %rv
            // permute_copy(%w, dims=[1, 0]): boxed int list
            .int(1), .int(0), .intList([4, 5]),            // 4-6
            try tensor("wt", [3, 4]),                      // 7
            // addmm(%b, %x, %wt, beta=1, alpha=1)
            .int(1), .int(1),                              // 8-9
            try tensor("y", [2, 4]),                       // 10
            // mean.dim(%y, dim=none, keepdim=false, dtype=f32)
            .null, .bool(false), .int(6),                  // 11-13
            try tensor("m", []),                           // 14
            // _native_batch_norm_legit_no_training(%y, none, none, %b, %rv, 0.1, 1e-5)
            .null, .null, .double(0.1), .double(1e-05),    // 15-18
            try tensor("n", [2, 4]), try tensor("mean", [0]), try tensor("invstd", [0]),  // 19-21
            .tensorList([19, 20, 21]),                     // 22: the return value
            // cat([%y, %n], dim=0)
            .tensorList([10, 19]), .int(0),                // 23-24
            try tensor("c", [4, 4]),                       // 25
        ]
        #expect(ep.values.count == expected.count)
        for (i, (actual, wanted)) in zip(ep.values, expected).enumerated() {
            #expect(actual == wanted, "values[\(i)]")
        }

        #expect(ep.inputs == [0])
        #expect(ep.outputs == [25, 14])
        #expect(ep.operators == [
            PTE.Operator(name: "aten::permute_copy", overload: "out"),
            PTE.Operator(name: "aten::addmm", overload: "out"),
            PTE.Operator(name: "aten::mean", overload: "out"),
            PTE.Operator(name: "aten::_native_batch_norm_legit_no_training", overload: "out"),
            PTE.Operator(name: "aten::cat", overload: "out"),
        ])
        #expect(ep.chains.count == 1)
        let chain = ep.chains[0]
        #expect(chain.inputs == ep.inputs && chain.outputs == ep.outputs)
        // Parameters in schema order, then the outs, then the return value.
        #expect(chain.instructions == [
            .kernelCall(opIndex: 0, args: [1, 6, 7, 7]),
            .kernelCall(opIndex: 1, args: [2, 0, 7, 8, 9, 10, 10]),
            .kernelCall(opIndex: 2, args: [10, 11, 12, 13, 14, 14]),
            .kernelCall(opIndex: 3, args: [10, 15, 16, 2, 3, 17, 18, 19, 20, 21, 22]),
            .kernelCall(opIndex: 4, args: [23, 24, 25, 25]),
        ])
        #expect(chain.stacktrace == [
            PTE.FrameList(items: [PTE.Frame(lineno: 0, name: "permute_copy", context: "fc")]),
            PTE.FrameList(items: [PTE.Frame(lineno: 1, name: "addmm", context: "fc")]),
            PTE.FrameList(items: [PTE.Frame(lineno: 2, name: "mean.dim", context: "pool")]),
            PTE.FrameList(items: [PTE.Frame(lineno: 3, name: "_native_batch_norm_legit_no_training", context: "bn")]),
            PTE.FrameList(items: [PTE.Frame(lineno: 4, name: "cat", context: nil)]),
        ])
        #expect(ep.nonConstBufferSizes == [0, Int64(plan.arenaSize)])
        #expect(ep.delegates.isEmpty)
    }

    @Test func constantSegmentReservesEntryZeroAndAlignsTo64() throws {
        let file = try PTEEmitter().emit(try parse(Self.tiny))
        let program = file.program
        // %w: 48 bytes at 0; %b: 16 bytes at 64; %rv: 16 bytes at 128; no padding after the last.
        #expect(program.constantSegment == PTE.SubsegmentOffsets(segmentIndex: 0, offsets: [0, 0, 64, 128]))
        #expect(PTEFile.constantTensorAlignment == 64)
        #expect(file.segments.count == 1)
        let segment = file.segments[0]
        #expect(segment.count == 144)
        #expect(program.segments == [PTE.DataSegment(offset: 0, size: 144)])
        #expect(program.constantBuffer.isEmpty)
        let w = try Tensor([Float](stride(from: 1, through: 12, by: 1)), shape: [4, 3])
        #expect(Array(segment[0..<48]) == w.withUnsafeRawBytes { Array($0) })
        #expect(segment[48..<64].allSatisfy { $0 == 0 })
        let b = try Tensor([Float(0.5), -0.5, 1.5, -1.5], shape: [4])
        #expect(Array(segment[64..<80]) == b.withUnsafeRawBytes { Array($0) })
    }

    @Test func identicalConstantsShareOneEntry() throws {
        let g = try parse("""
            graph @g(%x: f32[4]) {
              %a = constant f32[4] dense [1, 2, 3, 4]
              %b = constant f32[4] dense [1, 2, 3, 4]
              %c = constant i32[4] dense [5, 6, 7, 8]
              %y = add.Tensor(%x, %a)
              %z = mul.Tensor(%y, %b)
              %w = add.Tensor(%z, %c)
              return %w
            }
            """)
        let file = try PTEEmitter().emit(g)
        #expect(file.program.constantSegment?.offsets == [0, 0, 64])
        let values = file.program.executionPlan[0].values
        guard case .tensor(let a) = values[1], case .tensor(let b) = values[2], case .tensor(let c) = values[3] else {
            Issue.record("constants are not tensors: \(values[1...3])")
            return
        }
        #expect(a.dataBufferIdx == 1 && b.dataBufferIdx == 1 && c.dataBufferIdx == 2)
        #expect(c.scalarType == .int)
        #expect(file.segments[0].count == 80)
    }

    @Test func graphWithoutConstantsStillHasTheReservedEntry() throws {
        let file = try PTEEmitter().emit(try parse(MemoryPlannerTests.chain))
        #expect(file.program.constantSegment == PTE.SubsegmentOffsets(segmentIndex: 0, offsets: [0]))
        #expect(file.segments == [[]])
    }

    @Test func symbolicDimsAreWrittenAtTheirBoundAsDynamicBound() throws {
        let g = try parse("""
            symbol seq in 1...64
            graph @g(%x: f32[1, seq, 4]) {
              %y = relu(%x)
              return %y
            }
            """)
        let values = try PTEEmitter().emit(g).program.executionPlan[0].values
        for v in values {
            guard case .tensor(let t) = v else { continue }
            #expect(t.sizes == [1, 64, 4])
            #expect(t.shapeDynamism == .dynamicBound)
            #expect(t.dimOrder == [0, 1, 2])
        }
    }

    @Test func dtypesMapToExecuTorchScalarTypes() throws {
        let g = try parse("""
            graph @g(%x: f32[4]) {
              %q = quantized_decomposed.quantize_per_tensor(%x, scale=0.1, zero_point=3, quant_min=-128, quant_max=127, dtype=i8)
              return %q
            }
            """)
        let values = try PTEEmitter().emit(g).program.executionPlan[0].values
        // input, scale, zero_point, quant_min, quant_max, dtype, result
        #expect(values[1] == .double(0.1))
        #expect(Array(values[2...4]) == [.int(3), .int(-128), .int(127)])
        #expect(values[5] == .int(Int64(PTE.ScalarType.char.rawValue)))
        guard case .tensor(let q) = values[6] else {
            Issue.record("values[6] is \(values[6])")
            return
        }
        #expect(q.scalarType == .char)
    }

    @Test func nodeWithoutPTEOperatorIsAnErrorSayingToDecompose() throws {
        let g = try parse("""
            graph @g(%x: f32[2, 3], %w: f32[4, 3]) {
              %y = linear(%x, %w) loc("fc")
              %z = reshape(%y, shape=[8])
              return %z
            }
            """)
        expectEmitError(.notDecomposed, "%y = linear (#0, loc(\"fc\"))", "linear has no .pte operator",
                        "and 1 other node", "run the decompose pass first") {
            _ = try PTEEmitter().emit(g)
        }
    }

    @Test func invalidPlanIsRejected() throws {
        let g = try parse(MemoryPlannerTests.chain)
        var plan = try MemoryPlanner().plan(g)
        plan.offsets[try value(g, "b")] = plan.offsets[try value(g, "a")]
        expectEmitError(.invalidPlan, "share memory") {
            _ = try PTEEmitter(checksPlan: true).emit(g, plan: plan)
        }
    }

    @Test func outputThatIsAnInputOrAConstant() throws {
        let g = try parse("""
            graph @g(%x: f32[4]) {
              %k = constant f32[4] dense [1, 2, 3, 4]
              return %x, %k
            }
            """)
        let ep = try PTEEmitter().emit(g).program.executionPlan[0]
        #expect(ep.inputs == [0])
        #expect(ep.outputs == [0, 1])
        #expect(ep.chains[0].instructions.isEmpty)
    }

    @Test func sameGraphSameFile() throws {
        let a = try PTEEmitter().emit(try parse(Self.tiny))
        let b = try PTEEmitter().emit(try parse(Self.tiny))
        #expect(a == b)
    }
}
