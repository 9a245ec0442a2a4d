import ArgumentParser
import KilnPTE
import KilnTensor

/// `kiln inspect`: what a `.pte` file holds.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a .pte file holds: header, segments, methods, operators and instructions.",
        discussion: """
            Reads and verifies FILE (any ExecuTorch-format .pte), then prints its extended \
            header, its segments, and for each method: its values by kind, its inputs and outputs \
            with their shapes, its operators (marking those that ExecuTorch's portable and quantized \
            kernel libraries lack), its instructions (`[3] aten::addmm.out(%2, %0, %7, 1, 1) \
            -> %10`: tensors as %value, other arguments as their values, the outputs after the \
            arrow) and its arenas. With --json, one JSON object with the same facts, its keys in a \
            fixed order. A file that fails verification is an error naming the file and the field \
            at fault (`execution_plan[0].values[12].tensor.sizes[1]`).
            """
    )

    @Argument(help: "The .pte file.")
    var file: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        try reportingErrors {
            let mapped = try MappedFile(path: file)
            let pte = try PTEFile(decoding: mapped.bytes, path: file)
            let header = try ExtendedHeader(parsing: mapped.bytes)
            let summary = PTESummary(path: file, size: mapped.byteCount, header: header, file: pte)
            print(json ? summary.json.rendered : summary.text, terminator: json ? "\n" : "")
        }
    }
}

/// The facts `kiln inspect` prints, gathered once and written as text or JSON.
struct PTESummary {
    var path: String
    var size: Int
    var header: ExtendedHeader?
    var file: PTEFile

    var program: PTE.Program { file.program }

    // MARK: Text

    var text: String {
        var out = "\(path): \(size) bytes, ET12, program version \(program.version)\n"
        if let header {
            out += "header: program \(header.programSize) bytes, segment base \(header.segmentBaseOffset), "
                + "segment data \(header.segmentDataSize) bytes\n"
        } else {
            out += "header: none\n"
        }
        out += "segments: \(program.segments.count)\n"
        for (i, s) in program.segments.enumerated() {
            var line = "  [\(i)] offset \(s.offset), \(s.size) bytes"
            if let c = program.constantSegment, c.segmentIndex == i {
                line += " (constants: \(max(c.offsets.count - 1, 0)) entries after the reserved one)"
            }
            out += line + "\n"
        }
        if !program.constantBuffer.isEmpty {
            out += "inline constant buffers: \(program.constantBuffer.count)\n"
        }
        for plan in program.executionPlan {
            out += PlanSummary(plan: plan, program: program).text
        }
        return out
    }

    // MARK: JSON

    var json: JSON {
        .object([
            ("file", .string(path)),
            ("bytes", .int(size)),
            ("version", .int(Int(program.version))),
            ("header", header.map { h in
                .object([("program_size", .int(Int(clamping: h.programSize))),
                         ("segment_base_offset", .int(Int(clamping: h.segmentBaseOffset))),
                         ("segment_data_size", .int(Int(clamping: h.segmentDataSize)))])
            } ?? .null),
            ("segments", .array(program.segments.map {
                .object([("offset", .int(Int(clamping: $0.offset))), ("size", .int(Int(clamping: $0.size)))])
            })),
            ("constant_segment", program.constantSegment.map {
                .object([("segment_index", .int(Int($0.segmentIndex))),
                         ("offsets", .array($0.offsets.map { .int(Int(clamping: $0)) }))])
            } ?? .null),
            ("inline_constant_buffers", .int(program.constantBuffer.count)),
            ("execution_plans", .array(program.executionPlan.map { PlanSummary(plan: $0, program: program).json })),
        ])
    }
}

/// One method of a `.pte`, as `kiln inspect` shows it.
struct PlanSummary {
    var plan: PTE.ExecutionPlan
    /// The program, for delegate payload sizes and named data.
    var program: PTE.Program

    var text: String {
        var out = "plan \"\(plan.name)\": \(plan.values.count) values ("
        out += kindCounts.map { "\($0.count) \($0.kind)" }.joined(separator: ", ") + ")\n"
        let t = tensorCounts
        out += "  tensors: \(t.planned) planned, \(t.constant) constant, \(t.other) unplanned\n"
        out += "  inputs:\n"
        for i in plan.inputs { out += "    %\(i) \(describeValue(i))\n" }
        out += "  outputs:\n"
        for i in plan.outputs { out += "    %\(i) \(describeValue(i))\n" }
        out += "  operators (\(plan.operators.count)):\n"
        for (i, op) in plan.operators.enumerated() {
            let name = Self.name(of: op)
            out += "    [\(i)] \(name)" + (ExecuTorchOperators.has(name) ? "" : "  (not in ExecuTorch's portable or quantized kernels)")
                + "\n"
        }
        for (c, chain) in plan.chains.enumerated() {
            out += "  chain \(c): \(chain.instructions.count) instructions\n"
            for (i, instruction) in chain.instructions.enumerated() {
                var line = "    [\(i)] \(describe(instruction))"
                if i < chain.stacktrace.count, let frame = chain.stacktrace[i].items.first {
                    line += "  #\(frame.lineno)"
                    if let context = frame.context { line += " loc(\"\(context)\")" }
                }
                out += line + "\n"
            }
        }
        let arena = arenaUse
        for (id, size) in plan.nonConstBufferSizes.enumerated() where id > 0 {
            out += "  arena \(id): \(size) bytes for \(arena[id, default: 0]) bytes of planned tensors\n"
        }
        if !plan.delegates.isEmpty {
            out += "  delegates (\(plan.delegates.count)):\n"
            for (d, info) in delegateInfo.enumerated() {
                out += "    [\(d)] \(info.id): payload \(info.payload), called by instruction"
                    + "\(info.callers.count == 1 ? "" : "s") \(info.callers.map(String.init).joined(separator: ", "))"
                    + (info.specs.isEmpty ? "" : "; compile specs: \(info.specs.joined(separator: ", "))") + "\n"
            }
            if !program.namedData.isEmpty {
                out += "  named data: " + program.namedData.map { entry in
                    let size = Int(entry.segmentIndex) < program.segments.count ? "\(program.segments[Int(entry.segmentIndex)].size) bytes" : "segment out of range"
                    return "\(entry.key) (\(size))"
                }.joined(separator: ", ") + "\n"
            }
        }
        return out
    }

    var json: JSON {
        let t = tensorCounts
        let arena = arenaUse
        return .object([
            ("name", .string(plan.name)),
            ("values", .int(plan.values.count)),
            ("values_by_kind", .object(kindCounts.map { ($0.kind, .int($0.count)) })),
            ("tensors", .object([("planned", .int(t.planned)), ("constant", .int(t.constant)),
                                 ("unplanned", .int(t.other))])),
            ("inputs", .array(plan.inputs.map(valueJSON))),
            ("outputs", .array(plan.outputs.map(valueJSON))),
            ("operators", .array(plan.operators.map { .string(Self.name(of: $0)) })),
            ("operators_not_in_executorch", .array(plan.operators.map { Self.name(of: $0) }
                .filter { !ExecuTorchOperators.has($0) }.map(JSON.string))),
            ("chains", .array(plan.chains.map { chain in
                .array(chain.instructions.enumerated().map { i, instruction in
                    var fields: [(String, JSON)] = [("text", .string(describe(instruction)))]
                    switch instruction {
                    case .kernelCall(let op, let args):
                        fields += [("kind", .string("kernel_call")), ("operator", .int(Int(op))),
                                   ("args", .array(args.map { .int(Int($0)) }))]
                    case .delegateCall(let d, let args):
                        fields += [("kind", .string("delegate_call")), ("delegate", .int(Int(d))),
                                   ("args", .array(args.map { .int(Int($0)) }))]
                    case .moveCall: fields.append(("kind", .string("move_call")))
                    case .jumpFalseCall: fields.append(("kind", .string("jump_false_call")))
                    case .freeCall: fields.append(("kind", .string("free_call")))
                    }
                    if i < chain.stacktrace.count, let frame = chain.stacktrace[i].items.first {
                        fields.append(("debug_handle", .int(Int(frame.lineno))))
                        fields.append(("location", frame.context.map(JSON.string) ?? .null))
                    }
                    return .object(fields)
                })
            })),
            ("delegates", .array(delegateInfo.map { info in
                .object([("id", .string(info.id)), ("payload", .string(info.payload)),
                         ("payload_bytes", info.payloadBytes.map(JSON.int) ?? .null),
                         ("called_by", .array(info.callers.map(JSON.int))),
                         ("compile_specs", .array(info.specs.map(JSON.string)))])
            })),
            ("arenas", .array(plan.nonConstBufferSizes.enumerated().map { id, size in
                .object([("id", .int(id)), ("size", .int(Int(clamping: size))),
                         ("planned_tensor_bytes", .int(arena[id, default: 0]))])
            })),
        ])
    }

    /// Per delegate: its backend id, where its payload is and how big, the instructions that
    /// call it, and its compile specs (`key (N bytes)`).
    var delegateInfo: [(id: String, payload: String, payloadBytes: Int?, callers: [Int], specs: [String])] {
        plan.delegates.enumerated().map { d, delegate in
            var bytes: Int?
            let payload: String
            let index = Int(delegate.processed.index)
            switch delegate.processed.location {
            case .segment:
                bytes = index < program.segments.count ? Int(clamping: program.segments[index].size) : nil
                payload = bytes.map { "\($0) bytes in segment \(index)" } ?? "segment \(index) (out of range)"
            case .inline:
                bytes = index < program.backendDelegateData.count ? program.backendDelegateData[index].data.count : nil
                payload = bytes.map { "\($0) bytes inline" } ?? "inline data \(index) (out of range)"
            }
            var callers: [Int] = []
            for chain in plan.chains {
                for (i, instruction) in chain.instructions.enumerated() {
                    if case .delegateCall(let called, _) = instruction, Int(called) == d { callers.append(i) }
                }
            }
            return (delegate.id, payload, bytes, callers, delegate.compileSpecs.map { "\($0.key) (\($0.value.count) bytes)" })
        }
    }

    /// `aten::addmm.out` (no `.` for an empty overload).
    static func name(of op: PTE.Operator) -> String {
        op.overload.isEmpty ? op.name : "\(op.name).\(op.overload)"
    }

    /// EValue kinds present, in `KernelTypes` order: `tensor`, `int`, `int_list`, ...
    var kindCounts: [(kind: String, count: Int)] {
        var counts = [Int](repeating: 0, count: 12)
        for v in plan.values { counts[Int(v.unionTag)] += 1 }
        let names = ["", "null", "int", "bool", "double", "tensor", "string", "int_list", "double_list", "bool_list",
                     "tensor_list", "optional_tensor_list"]
        return (1..<12).filter { counts[$0] > 0 }.map { (names[$0], counts[$0]) }
    }

    var tensorCounts: (planned: Int, constant: Int, other: Int) {
        var counts = (planned: 0, constant: 0, other: 0)
        for case .tensor(let t) in plan.values {
            if t.allocationInfo != nil { counts.planned += 1 } else if t.dataBufferIdx > 0 { counts.constant += 1 } else {
                counts.other += 1
            }
        }
        return counts
    }

    /// Bytes of the planned tensors in each arena (shared bytes counted once per tensor).
    var arenaUse: [Int: Int] {
        var use: [Int: Int] = [:]
        for case .tensor(let t) in plan.values {
            guard let a = t.allocationInfo else { continue }
            var bytes = t.scalarType.elementSize
            for size in t.sizes {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: max(Int(size), 0))
                bytes = overflow ? Int.max : product
            }
            let (sum, overflow) = use[Int(a.memoryID), default: 0].addingReportingOverflow(bytes)
            use[Int(a.memoryID)] = overflow ? Int.max : sum
        }
        return use
    }

    /// `f32[2, 3]`, `f32[1, 64, 4] (dynamic bound)`, `int 3`, ...
    func describeValue(_ index: Int32) -> String {
        guard index >= 0, Int(index) < plan.values.count else { return "(no such value)" }
        switch plan.values[Int(index)] {
        case .tensor(let t): return Self.describe(t)
        case let other: return argument(index, other)
        }
    }

    static func describe(_ t: PTE.Tensor) -> String {
        let dtype = DType(t.scalarType)?.textName ?? "\(t.scalarType)"
        var text = "\(dtype)[\(t.sizes.map(String.init).joined(separator: ", "))]"
        switch t.shapeDynamism {
        case .static: break
        case .dynamicBound: text += " (dynamic bound)"
        case .dynamicUnbound: text += " (dynamic)"
        }
        if let a = t.allocationInfo { text += " @\(a.memoryID):\(a.offset)" }
        if t.dataBufferIdx > 0 { text += " constant #\(t.dataBufferIdx)" }
        return text
    }

    /// One instruction: `aten::addmm.out(%2, %0, %7, 1, 1) -> %10`.
    func describe(_ instruction: PTE.Instruction) -> String {
        switch instruction {
        case .kernelCall(let op, let args):
            let name = op >= 0 && Int(op) < plan.operators.count ? Self.name(of: plan.operators[Int(op)]) : "operator #\(op)"
            let (inputs, outputs) = splitOutputs(args)
            var text = "\(name)(\(inputs.map { argument($0) }.joined(separator: ", ")))"
            if !outputs.isEmpty { text += " -> " + outputs.map { "%\($0)" }.joined(separator: ", ") }
            return text
        case .delegateCall(let d, let args):
            let id = d >= 0 && Int(d) < plan.delegates.count ? plan.delegates[Int(d)].id : "#\(d)"
            return "delegate \(id)(\(args.map { argument($0) }.joined(separator: ", ")))"
        case .moveCall(let from, let to):
            return "move %\(from) -> %\(to)"
        case .jumpFalseCall(let cond, let destination):
            return "jump to [\(destination)] unless %\(cond)"
        case .freeCall(let v):
            return "free %\(v)"
        }
    }

    /// The arguments before the outs, and the outs, by ExecuTorch's convention: the last
    /// argument is the return value, the out tensor again or a TensorList of the k outs that
    /// precede it. Arguments that do not follow it are all shown as inputs.
    func splitOutputs(_ args: [Int32]) -> (inputs: [Int32], outputs: [Int32]) {
        guard let ret = args.last, ret >= 0, Int(ret) < plan.values.count else { return (args, []) }
        if case .tensorList(let outs) = plan.values[Int(ret)], args.count >= outs.count + 1,
           Array(args[(args.count - 1 - outs.count)..<(args.count - 1)]) == outs {
            return (Array(args[..<(args.count - 1 - outs.count)]), outs)
        }
        if args.count >= 2, args[args.count - 2] == ret, case .tensor = plan.values[Int(ret)] {
            return (Array(args[..<(args.count - 2)]), [ret])
        }
        return (args, [])
    }

    /// An argument as written in an instruction: `%3` for a tensor, its value otherwise.
    func argument(_ index: Int32) -> String {
        guard index >= 0, Int(index) < plan.values.count else { return "%\(index)?" }
        return argument(index, plan.values[Int(index)])
    }

    private func argument(_ index: Int32, _ value: PTE.EValue) -> String {
        switch value {
        case .null: return "none"
        case .int(let v): return String(v)
        case .bool(let v): return String(v)
        case .double(let v): return String(v)
        case .tensor: return "%\(index)"
        case .string(let s): return "\"\(s)\""
        case .intList(let items):
            return "[" + items.map { i -> String in
                guard let i32 = Int32(exactly: i), i32 >= 0, Int(i32) < plan.values.count,
                      case .int(let v) = plan.values[Int(i32)] else { return "%\(i)?" }
                return String(v)
            }.joined(separator: ", ") + "]"
        case .doubleList(let v): return "[" + v.map { String($0) }.joined(separator: ", ") + "]"
        case .boolList(let v): return "[" + v.map { String($0) }.joined(separator: ", ") + "]"
        case .tensorList(let items): return "[" + items.map { "%\($0)" }.joined(separator: ", ") + "]"
        case .optionalTensorList(let items): return "[" + items.map { $0 < 0 ? "none" : "%\($0)" }.joined(separator: ", ") + "]"
        }
    }

    private func valueJSON(_ index: Int32) -> JSON {
        var fields: [(String, JSON)] = [("index", .int(Int(index)))]
        if index >= 0, Int(index) < plan.values.count, case .tensor(let t) = plan.values[Int(index)] {
            fields += [("dtype", .string(DType(t.scalarType)?.textName ?? "\(t.scalarType)")),
                       ("sizes", .array(t.sizes.map { .int(Int($0)) })),
                       ("dynamic_bound", .bool(t.shapeDynamism != .static))]
            if let a = t.allocationInfo {
                fields += [("memory_id", .int(Int(a.memoryID))), ("offset", .int(Int(clamping: a.offset)))]
            }
        } else {
            fields.append(("value", .string(describeValue(index))))
        }
        return .object(fields)
    }
}
