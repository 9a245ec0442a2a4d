import KilnBackendDescriptors
import KilnPartition
import KilnTensor
import Testing

/// The shipped descriptors parse, and every validation message has a descriptor that triggers it.
struct DescriptorTests {
    @Test func shippedDescriptorsParse() throws {
        #expect(EmbeddedDescriptors.all.map(\.path) == [
            "Backends/GPU/descriptor.json", "Backends/NPU/descriptor.json", "Backends/XNNPACK/descriptor.json",
        ])
        var ids = Set<String>()
        for (path, json) in EmbeddedDescriptors.all {
            let d = try BackendDescriptor.parse(json, file: path)
            #expect(ids.insert(d.id).inserted)
            #expect(!d.ops.isEmpty)
        }
        let npu = try BackendDescriptor.parse(EmbeddedDescriptors.all[1].json, file: "npu")
        #expect(npu.kind == .npu && npu.limits.staticShapes == true && npu.limits.maxRank == 4)
        #expect(npu.support(for: "linear")?.quantized.map(\.description).contains("16a4w/per-channel") == true)
        #expect(npu.support(for: "linear")?.dtypes == [])
    }

    @Test func quantizedFormsRoundTrip() throws {
        for text in ["8a", "8da", "u8a", "16a", "8a8w/per-tensor", "8a8w/per-channel", "16a4w/per-channel", "8da4w/per-group"] {
            #expect(try QuantizedForm(parsing: text).description == text)
        }
        #expect(try QuantizedForm(parsing: "16a8w/per-channel").activation == .int16)
        for bad in ["8", "4a", "8a3w/per-tensor", "8a8w/per-row", "8a8w", "x"] {
            #expect(throws: PartitionError.self) { try QuantizedForm(parsing: bad) }
        }
    }

    /// A minimal valid descriptor with `ops` replaced.
    static func descriptor(ops: String, extra: String = "") -> String {
        #"{"id": "T", "name": "t", "kind": "cpu", "summary": "test", "cost": {"ops_per_second": {"float32": 1e9}, "bytes_per_second": 1e9, "call_overhead_us": 1}"#
            + extra + #", "ops": "# + ops + "}"
    }

    @Test(arguments: [
        ("{", "not valid JSON at 1:2"),
        (#"{"id": "T", "n": +1}"#, "not valid JSON at 1:18: bad number '+1'"),
        (#"{"id": "T", "n": 01}"#, "bad number '01'"),
        (#"{"id": "T", "n": 1.}"#, "bad number '1.'"),
        (#"{"id": 3}"#, "id: expected a non-empty string, found a number"),
        (descriptor(ops: "[]").replacingFirst("\"cpu\"", with: "\"tpu\""), "kind: unknown kind 'tpu'"),
        (descriptor(ops: "[]").replacingFirst("\"t\"", with: "\"T x\""), "name: 'T x' must be lower-case"),
        (descriptor(ops: "[]", extra: #", "colour": 1"#), "unknown member \"colour\""),
        (descriptor(ops: #"[{"op": "frobnicate", "dtypes": ["float32"]}]"#), "ops[0].op: no op named 'frobnicate'"),
        (descriptor(ops: #"[{"op": "relu", "dtypes": ["float64"]}]"#), "ops[0] (relu).dtypes[0]: unknown dtype 'float64'"),
        (descriptor(ops: #"[{"op": "relu"}]"#), "ops[0] (relu): accepts nothing"),
        (descriptor(ops: #"[{"op": "relu", "dtypes": ["float32"]}, {"op": "relu", "dtypes": ["float32"]}]"#), "ops[1]: relu is listed twice"),
        (descriptor(ops: #"[{"op": "relu", "quantized": ["9a"]}]"#), "ops[0] (relu).quantized[0]: quantized form '9a'"),
        (descriptor(ops: #"[{"op": "relu", "dtypes": ["float32"], "attributes": [{"name": "stride", "max": 2}]}]"#),
         "'stride' is not an integer or boolean parameter of relu"),
        (descriptor(ops: #"[{"op": "convolution", "dtypes": ["float32"], "attributes": [{"name": "stride"}]}]"#),
         "ops[0] (convolution).attributes[0]: limits nothing"),
        (descriptor(ops: #"[{"op": "convolution", "dtypes": ["float32"], "attributes": [{"name": "stride", "min": 3, "max": 2}]}]"#),
         "attributes[0]: min 3 is greater than max 2"),
        (descriptor(ops: #"[{"op": "convolution", "dtypes": ["float32"], "attributes": [{"name": "groups", "values": []}]}]"#),
         "attributes[0].values: is empty"),
        (descriptor(ops: #"[{"op": "relu", "dtypes": ["float32"], "constant_operands": ["weight"]}]"#),
         "'weight' is not a tensor parameter of relu"),
        (descriptor(ops: "[]", extra: #", "limits": {"min_rank": 3, "max_rank": 2}"#), "limits: min_rank 3 is greater than max_rank 2"),
        (descriptor(ops: "[]").replacingFirst("1e9}", with: "-1}"), "cost.ops_per_second.float32: expected a positive number"),
    ])
    func rejects(_ text: String, _ expected: String) {
        do {
            _ = try BackendDescriptor.parse(text, file: "bad.json")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.kind == .descriptor)
            #expect(error.description.hasPrefix("bad.json: error: "))
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = firstRange(of: target) else { return self }
        return String(self[..<r.lowerBound]) + replacement + String(self[r.upperBound...])
    }
}
