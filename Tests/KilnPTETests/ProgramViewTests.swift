import KilnPTE
import Testing

/// The runtime's zero-copy views: what they read, and that their byte ranges point into the file.
@Suite struct ProgramViewTests {
    func withView<T>(_ body: (PTEProgramView, UnsafeRawBufferPointer) throws -> T) throws -> T {
        let bytes = try RichProgram.bytes()
        return try bytes.withUnsafeBytes { raw in try body(try PTEProgramView(file: raw, path: "rich.pte"), raw) }
    }

    /// True when `inner` lies inside `outer` (a view, not a copy).
    func isInside(_ inner: UnsafeRawBufferPointer, _ outer: UnsafeRawBufferPointer) -> Bool {
        guard let i = inner.baseAddress, let o = outer.baseAddress else { return inner.isEmpty }
        return i >= o && i + inner.count <= o + outer.count
    }

    @Test func methodsAndValues() throws {
        try withView { program, _ in
            #expect(program.executionPlans.count == 2)
            let plan = try #require(try program.method(named: "forward"))
            #expect(try program.method(named: "missing") == nil)
            #expect(plan.path == "execution_plan[0]")
            #expect(Array(plan.inputs) == [0] && Array(plan.outputs) == [3])
            #expect(Array(plan.nonConstBufferSizes) == [0, 256, (1 << 32) + 64])
            guard case .tensor(let bf16) = try plan.values.element(at: 16) else { Issue.record("value 16"); return }
            #expect(bf16.scalarType == .bfloat16)
            #expect(Array(bf16.sizes) == [2, 3, 4] && Array(bf16.dimOrder) == [0, 2, 1])
            #expect(bf16.allocationInfo?.offset == 1 << 32)
            #expect(bf16.byteCount == 48)
            guard case .intList(let items) = try plan.values.element(at: 6) else { Issue.record("value 6"); return }
            #expect(Array(items) == [4, 5])
            guard case .string(let s) = try plan.values.element(at: 9) else { Issue.record("value 9"); return }
            #expect(s == "mean")
            #expect(try plan.operators.element(at: 1) == PTE.Operator(name: "aten::relu", overload: "out"))
        }
    }

    @Test func instructions() throws {
        try withView { program, _ in
            let chain = try program.executionPlans.element(at: 0).chains.element(at: 0)
            #expect(chain.path == "execution_plan[0].chains[0]")
            guard case let .kernelCall(op, args) = try chain.instructions.element(at: 0) else { Issue.record("0"); return }
            #expect(op == 0 && Array(args) == [2, 0, 1, 4, 4, 3])
            guard case let .jumpFalseCall(cond, destination) = try chain.instructions.element(at: 4) else { Issue.record("4"); return }
            #expect(cond == 19 && destination == 6)
            #expect(try chain.instructions.element(at: 6).kindName == "KernelCall")
            #expect(try chain.stacktrace.element(at: 0).items.first?.filename == "model.py")
        }
    }

    @Test func constantsAndSegmentsPointIntoTheFile() throws {
        try withView { program, file in
            let weight = try program.constantData(bufferIndex: 1, byteCount: 24)
            #expect(Array(weight) == Array(RichProgram.constants[0..<24]))
            #expect(isInside(weight, file))
            let bias = try program.constantData(bufferIndex: 2, byteCount: 12)
            #expect(Array(bias) == Array(RichProgram.constants[64..<76]))
            #expect(try program.segmentBytes(RichProgram.delegateSegment).count == 300)
            #expect(isInside(try program.segmentBytes(1), file))
            for index in 0..<program.segments.count {
                let range = try program.segmentRange(index)
                #expect(range.lowerBound % 128 == 0)
            }
            let state = try program.mutableData(segmentsIndex: 0, bufferIndex: 1, byteCount: 8)
            #expect(Array(state) == RichProgram.mutableInitial)
        }
    }

    @Test func delegatesAndNamedData() throws {
        try withView { program, file in
            let plan = try program.executionPlans.element(at: 0)
            let xnnpack = try plan.delegates.element(at: 0)
            #expect(xnnpack.id == "XnnpackBackend")
            #expect(Array(try program.delegatePayload(xnnpack.processed)) == RichProgram.delegateBlob)
            let spec = try xnnpack.compileSpecs.element(at: 0)
            #expect(spec.key == "threads" && Array(spec.value) == [4, 0, 0, 0])
            #expect(isInside(spec.value, file))
            let npu = try plan.delegates.element(at: 1)
            let inline = try program.delegatePayload(npu.processed)
            #expect(Array(inline) == RichProgram.inlineDelegate)
            #expect(isInside(inline, file))
            // force_align 16 keeps inline data aligned in the file.
            #expect((inline.baseAddress! - file.baseAddress!) % 16 == 0)
            #expect(Array(try #require(try program.namedData(key: "shared_weights"))) == RichProgram.namedBlob)
            #expect(try program.namedData(key: "nope") == nil)
        }
    }

    @Test func badRequestsAreErrors() throws {
        try withView { program, _ in
            #expect(throws: PTEError.self) { try program.constantData(bufferIndex: 3, byteCount: 1) }
            #expect(throws: PTEError.self) { try program.constantData(bufferIndex: 2, byteCount: 13) }
            #expect(throws: PTEError.self) { try program.constantData(bufferIndex: 1, byteCount: -1) }
            #expect(throws: PTEError.self) { try program.segmentBytes(4) }
            #expect(throws: PTEError.self) { try program.executionPlans.element(at: -1) }
            do {
                _ = try program.executionPlans.element(at: 0).values.element(at: 24)
                Issue.record("expected an error")
            } catch {
                #expect("\(error)" == "execution_plan[0].values: index 24 is out of range 0..<24")
            }
            do {
                _ = try program.constantData(bufferIndex: 2, byteCount: 13)
            } catch {
                #expect("\(error)" == "rich.pte: constant_segment.offsets[2]: 13 bytes at offset 64 do not fit segment 0 (76 bytes)")
            }
        }
    }

    @Test func fileRoundTripsThroughDisk() throws {
        try withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("model.pte").path
            let file = RichProgram.file()
            try file.write(to: path)
            #expect(try PTEFile(contentsOf: path) == file)
            do throws(PTEError) {
                _ = try PTEFile(contentsOf: folder.appendingPathComponent("missing.pte").path)
                Issue.record("expected an error")
            } catch {
                #expect(error.kind == .io)
                #expect(error.path?.hasSuffix("missing.pte") == true)
                #expect("\(error)".components(separatedBy: "missing.pte").count == 2, "\(error)")
            }
        }
    }
}
