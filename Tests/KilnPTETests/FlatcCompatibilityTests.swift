import Foundation
import KilnPTE
import Testing

/// Kiln's files read by an independent FlatBuffers implementation: Debian's `flatc` turns the
/// rich program into JSON with ExecuTorch's own schema (from the pip wheel) and with Kiln's copy
/// in Schemas/, and the JSON holds what Kiln wrote.
@Suite struct FlatcCompatibilityTests {
    static let flatc = "/usr/bin/flatc"
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// ExecuTorch's program.fbs from the installed wheel, or nil.
    static func wheelSchema() -> String? {
        for python in ["/usr/bin/python3", "/usr/local/bin/python3"] + pathCandidates("python3") {
            guard FileManager.default.isExecutableFile(atPath: python),
                  let (status, output) = try? runProcess(python, ["-c", "import site; print(site.getsitepackages()[0])"]),
                  status == 0 else { continue }
            let schema = output.trimmingCharacters(in: .whitespacesAndNewlines) + "/executorch/exir/_serialize/program.fbs"
            if FileManager.default.fileExists(atPath: schema) { return schema }
        }
        return nil
    }

    static func pathCandidates(_ name: String) -> [String] {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/\(name)" }
    }

    static func schemas() -> [String] {
        var found: [String] = []
        if let wheel = wheelSchema() { found.append(wheel) }
        let own = repositoryRoot.appendingPathComponent("Schemas/program.fbs").path
        if FileManager.default.fileExists(atPath: own) { found.append(own) }
        return found
    }

    /// The rich program as flatc's JSON, with `schema`.
    static func json(_ bytes: [UInt8], schema: String) throws -> [String: Any] {
        try withTemporaryFolder { folder in
            let pte = folder.appendingPathComponent("rich.pte")
            try Data(bytes).write(to: pte)
            let (status, output) = try runProcess(flatc, ["--json", "--strict-json", "--raw-binary", "-o", folder.path,
                                                   schema, "--", pte.path])
            #expect(status == 0, "flatc failed: \(output)")
            let data = try Data(contentsOf: folder.appendingPathComponent("rich.json"))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
    }

    @Test func flatcReadsTheRichProgram() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.flatc) else {
            print("SKIP: \(Self.flatc) not found (apt-get install flatbuffers-compiler); flatc compatibility not checked")
            return
        }
        let schemas = Self.schemas()
        if Self.wheelSchema() == nil {
            print("SKIP: ExecuTorch's wheel not installed; checking against Schemas/program.fbs only")
        }
        let file = RichProgram.file()
        let bytes = try file.serialized()
        for schema in schemas {
            try Self.check(try Self.json(bytes, schema: schema), file, schema: schema)
        }
    }

    static func check(_ json: [String: Any], _ file: PTEFile, schema: String) throws {
        let comment = Comment(rawValue: "schema \(schema)")
        let plans = try #require(json["execution_plan"] as? [[String: Any]], comment)
        #expect(plans.count == 2, comment)
        #expect(plans[1]["name"] as? String == "init_ünïcode", comment)
        let plan = plans[0]
        #expect(plan["name"] as? String == "forward", comment)
        let meta = try #require(plan["container_meta_type"] as? [String: Any], comment)
        #expect(meta["encoded_inp_str"] as? String == "[1, {\"type\": \"tuple\"}]", comment)

        let values = try #require(plan["values"] as? [[String: Any]], comment)
        #expect(values.count == 24, comment)
        let types = values.compactMap { $0["val_type"] as? String }
        #expect(Set(types) == ["Null", "Int", "Bool", "Double", "Tensor", "String", "IntList", "DoubleList", "BoolList",
                               "TensorList", "OptionalTensorList"], comment)
        let weight = try #require(values[1]["val"] as? [String: Any], comment)
        #expect(weight["scalar_type"] as? String == "FLOAT", comment)
        #expect(weight["sizes"] as? [Int] == [2, 3], comment)
        #expect(weight["dim_order"] as? [Int] == [0, 1], comment)
        #expect(weight["requires_grad"] as? Bool == true, comment)
        #expect(weight["data_buffer_idx"] as? Int == 1, comment)
        let bf16 = try #require(values[16]["val"] as? [String: Any], comment)
        #expect(bf16["scalar_type"] as? String == "BFLOAT16", comment)
        #expect(bf16["dim_order"] as? [Int] == [0, 2, 1], comment)
        let allocation = try #require(bf16["allocation_info"] as? [String: Any], comment)
        #expect(allocation["memory_id"] as? Int == 2 && allocation["memory_offset_high"] as? Int == 1, comment)
        #expect(allocation["memory_offset_low"] == nil, comment)  // 0: left out as flatc does
        let state = try #require(values[15]["val"] as? [String: Any], comment)
        let extra = try #require(state["extra_tensor_info"] as? [String: Any], comment)
        #expect(extra["fully_qualified_name"] as? String == "state", comment)
        let dynamic = try #require(values[18]["val"] as? [String: Any], comment)
        #expect(dynamic["shape_dynamism"] as? String == "DYNAMIC_BOUND", comment)
        #expect((values[5]["val"] as? [String: Any])?["int_val"] as? Int == -7, comment)
        #expect((values[8]["val"] as? [String: Any])?["double_val"] as? Double == 2.5, comment)
        #expect((values[9]["val"] as? [String: Any])?["string_val"] as? String == "mean", comment)
        #expect((values[6]["val"] as? [String: Any])?["items"] as? [Int] == [4, 5], comment)
        #expect((values[11]["val"] as? [String: Any])?["items"] as? [Bool] == [true, false, true], comment)
        #expect((values[14]["val"] as? [String: Any])?["items"] as? [Int] == [0, -1, 13], comment)

        #expect(plan["inputs"] as? [Int] == [0] && plan["outputs"] as? [Int] == [3], comment)
        #expect(plan["non_const_buffer_sizes"] as? [Int] == [0, 256, (1 << 32) + 64], comment)
        let devices = try #require(plan["non_const_buffer_device"] as? [[String: Any]], comment)
        #expect(devices[1]["device_type"] as? String == "CUDA", comment)
        let operators = try #require(plan["operators"] as? [[String: Any]], comment)
        #expect(operators.map { $0["name"] as? String } == ["aten::addmm", "aten::relu"], comment)
        #expect(operators.map { $0["overload"] as? String } == ["out", "out"], comment)

        let chain = try #require((plan["chains"] as? [[String: Any]])?.first, comment)
        let instructions = try #require(chain["instructions"] as? [[String: Any]], comment)
        #expect(instructions.compactMap { $0["instr_args_type"] as? String } ==
                ["KernelCall", "DelegateCall", "DelegateCall", "MoveCall", "JumpFalseCall", "FreeCall", "KernelCall"], comment)
        let kernel = try #require(instructions[0]["instr_args"] as? [String: Any], comment)
        #expect(kernel["args"] as? [Int] == [2, 0, 1, 4, 4, 3], comment)
        let jump = try #require(instructions[4]["instr_args"] as? [String: Any], comment)
        #expect(jump["cond_value_index"] as? Int == 19 && jump["destination_instruction"] as? Int == 6, comment)
        let stacktrace = try #require(chain["stacktrace"] as? [[String: Any]], comment)
        #expect(stacktrace.count == 7, comment)
        let frame = try #require((stacktrace[0]["items"] as? [[String: Any]])?.first, comment)
        #expect(frame["filename"] as? String == "model.py" && frame["lineno"] as? Int == 10, comment)

        let delegates = try #require(plan["delegates"] as? [[String: Any]], comment)
        #expect(delegates.map { $0["id"] as? String } == ["XnnpackBackend", "NpuBackend"], comment)
        let processed = try #require(delegates[0]["processed"] as? [String: Any], comment)
        #expect(processed["location"] as? String == "SEGMENT" && processed["index"] as? Int == 1, comment)
        let specs = try #require(delegates[0]["compile_specs"] as? [[String: Any]], comment)
        #expect(specs.first?["key"] as? String == "threads" && specs.first?["value"] as? [Int] == [4, 0, 0, 0], comment)

        let inline = try #require(json["backend_delegate_data"] as? [[String: Any]], comment)
        #expect(inline.first?["data"] as? [Int] == RichProgram.inlineDelegate.map(Int.init), comment)
        let segments = try #require(json["segments"] as? [[String: Any]], comment)
        #expect(segments.map { $0["offset"] as? Int ?? 0 } == file.program.segments.map { Int($0.offset) }, comment)
        #expect(segments.map { $0["size"] as? Int ?? 0 } == file.program.segments.map { Int($0.size) }, comment)
        let constants = try #require(json["constant_segment"] as? [String: Any], comment)
        #expect(constants["offsets"] as? [Int] == [0, 0, 64], comment)
        let mutable = try #require(json["mutable_data_segments"] as? [[String: Any]], comment)
        #expect(mutable.first?["segment_index"] as? Int == 3, comment)
        let named = try #require(json["named_data"] as? [[String: Any]], comment)
        #expect(named.first?["key"] as? String == "shared_weights" && named.first?["segment_index"] as? Int == 2, comment)
    }
}
