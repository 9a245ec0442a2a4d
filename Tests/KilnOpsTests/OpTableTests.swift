import KilnOps
import KilnTensor
import Testing

/// The table as data: names, `.pte` operators, parameters and defaults, argument validation, and
/// that every op has type-inference cases in this target.
@Suite struct OpTableTests {
    /// Ops that are not ATen core ops: decomposed before portable emission, so no `.pte` operator.
    static let nonCoreOps: Set<String> = [
        "linear", "matmul", "adaptive_avg_pool2d", "batch_norm", "rms_norm", "softmax.int", "reshape",
        "flatten.using_ints", "transpose.int",
        "max_pool2d", "upsample_nearest2d", "upsample_bilinear2d", "conv2d", "conv_transpose2d.input",
        "hardswish", "hardsigmoid", "zeros", "ones", "triu",
        // shaping
        "log_softmax.int", "layer_norm", "unsqueeze", "squeeze.dims", "squeeze.dim", "expand", "split_with_sizes",
        "split.Tensor", "select.int", "scaled_dot_product_attention",
    ]

    /// Creation ops: the only ops that take no tensor.
    static let creationOps: Set<String> = ["full", "zeros", "ones", "arange.start_step"]

    // MARK: Names

    @Test func namesAreUnique() {
        var seen = Set<String>()
        for op in OpTable.all {
            #expect(seen.insert(op.name).inserted, "\(op.name) is defined twice")
        }
        #expect(OpTable.names == seen.sorted())
    }

    @Test(arguments: OpTable.all)
    func schemaNamedFindsTheOp(_ op: OpSchema) throws {
        let found = try #require(OpTable.schema(named: op.name))
        #expect(found == op)
        #expect(found.parameters.map(\.name) == op.parameters.map(\.name))
    }

    @Test func unknownNamesAreNotFound() {
        #expect(OpTable.schema(named: "aten.add.Tensor") == nil)
        #expect(OpTable.schema(named: "add") == nil)
        #expect(OpTable.schema(named: "") == nil)
    }

    // MARK: .pte operators

    @Test(arguments: OpTable.all)
    func onlyNonCoreOpsLackAPTEOperator(_ op: OpSchema) {
        #expect((op.pte == nil) == Self.nonCoreOps.contains(op.name))
    }

    @Test(arguments: OpTable.all)
    func pteOperatorsAreQualified(_ op: OpSchema) throws {
        guard let pte = op.pte else { return }
        #expect(["aten::", "quantized_decomposed::", "dim_order_ops::", "kiln::"].contains { pte.name.hasPrefix($0) },
                "\(pte)")
        #expect(pte.overload.hasSuffix("out"), "\(pte)")
        // The table name is the .pte name with `aten.` left out and `::` written `.`.
        let base = pte.name.replacing("aten::", with: "").replacing("::", with: ".")
        #expect(op.name.hasPrefix(base), "\(op.name) vs \(pte)")
    }

    @Test func pteOperatorText() throws {
        #expect(try schema("addmm").pte?.description == "aten::addmm.out")
        #expect(try schema("add.Scalar").pte?.description == "aten::add.Scalar_out")
        #expect(try schema("pow.Tensor_Tensor").pte?.description == "aten::pow.Tensor_Tensor_out")
        #expect(try schema("slice_copy.Tensor").pte?.description == "aten::slice_copy.Tensor_out")
        #expect(try schema("quantized_decomposed.quantize_per_tensor.tensor").pte?.description
                == "quantized_decomposed::quantize_per_tensor.Tensor_out")
        #expect(try schema("linear").pte == nil)
    }

    // MARK: Parameters

    @Test(arguments: OpTable.all)
    func parameterNamesAreUnique(_ op: OpSchema) {
        let names = op.parameters.map(\.name)
        #expect(Set(names).count == names.count, "\(names)")
        for (i, name) in names.enumerated() {
            #expect(op.parameterIndex(name) == i)
        }
    }

    @Test(arguments: OpTable.all)
    func defaultsMatchTheirKinds(_ op: OpSchema) {
        for p in op.parameters {
            if let d = p.defaultValue {
                #expect(d.matches(p.kind), "\(op.name).\(p.name): default \(d.kindDescription) for \(p.kind)")
            }
            // Optional parameters default to none when no default is stated.
            if case .optional = p.kind {
                #expect(p.defaultValue != nil, "\(op.name).\(p.name)")
            }
            // Graph values never have defaults other than none.
            if p.kind.isTensorLike, let d = p.defaultValue {
                #expect(d == .none, "\(op.name).\(p.name)")
            }
        }
    }

    @Test(arguments: OpTable.all)
    func summaryAndResults(_ op: OpSchema) {
        #expect(!op.summary.isEmpty)
        #expect(op.resultCount.map { $0 >= 1 } ?? op.returnsTensorList)
        let takesATensor = op.parameters.contains { $0.kind.isTensorLike }
        #expect(takesATensor != Self.creationOps.contains(op.name),
                "\(op.name) \(takesATensor ? "takes a tensor" : "takes no tensor")")
    }

    @Test func signature() throws {
        #expect(try schema("convolution").signature
                == "convolution(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, "
                + "int[] dilation, bool transposed, int[] output_padding, int groups) -> Tensor")
        #expect(try schema("_native_batch_norm_legit_no_training").signature.hasSuffix("-> (Tensor, Tensor, Tensor)"))
        #expect(try schema("add.Scalar").description == "add.Scalar(Tensor self, Scalar other, Scalar alpha) -> Tensor")
        #expect(try schema("cat").signature == "cat(Tensor[] tensors, int dim) -> Tensor")
        #expect(try schema("mean.dim").signature
                == "mean.dim(Tensor self, int[]? dim, bool keepdim, ScalarType? dtype) -> Tensor")
    }

    // MARK: Coverage of this target

    /// A new op fails here until it has a positive case in its group's table.
    @Test(arguments: OpTable.all)
    func everyOpHasAPositiveCase(_ op: OpSchema) {
        #expect(allOpCases.contains { $0.op == op.name && $0.isPositive }, "no positive type case for \(op.name)")
    }

    @Test func everyCaseNamesAnOp() {
        for c in allOpCases {
            #expect(OpTable.schema(named: c.op) != nil, "\(c.testDescription)")
        }
    }

    // MARK: Argument validation

    @Test func wrongArity() throws {
        let mm = try schema("mm")
        let error = try #require(throws: OpError.self) { try mm.inferTypes([t(.float32, 2, 3)]) }
        #expect(error == OpError(op: "mm", "expected 2 arguments (mm(Tensor self, Tensor mat2) -> Tensor), got 1"))
        #expect(throws: OpError.self) {
            try mm.inferTypes([t(.float32, 2, 3), t(.float32, 3, 4), t(.float32, 4)])
        }
        // Defaults are not filled in by inferTypes: every argument is positional.
        let relu = try schema("relu")
        let none = try #require(throws: OpError.self) { try relu.inferTypes([]) }
        #expect(none.message.contains("expected 1 argument ("))
        #expect(none.message.contains("got 0"))
    }

    @Test(arguments: [
        // (op, parameter, wrong argument, expected kind text, got text)
        ("convolution", "groups", Argument<TensorType>.float(1), "int", "a float"),
        ("convolution", "stride", .int(1), "int[]", "an int"),
        ("convolution", "transposed", .int(0), "bool", "an int"),
        ("convolution", "bias", .int(0), "Tensor?", "an int"),
        ("convolution", "input", .none, "Tensor", "none"),
        ("convolution", "weight", .tensorList([]), "Tensor", "a tensor list"),
        ("cat", "tensors", t(.float32, 2), "Tensor[]", "a tensor"),
        ("add.Scalar", "other", .bool(true), "Scalar", "a bool"),
        ("add.Scalar", "other", t(.float32), "Scalar", "a tensor"),
        ("batch_norm", "eps", .int(0), "float", "an int"),
        ("mean.dim", "dtype", .int(6), "ScalarType?", "an int"),
        ("mean.dim", "dim", .int(1), "int[]?", "an int"),
        ("quantized_decomposed.quantize_per_tensor", "dtype", .intList([1]), "ScalarType", "an int list"),
    ])
    func wrongArgumentKind(op name: String, parameter: String, wrong: Argument<TensorType>,
                           expected: String, got: String) throws {
        let op = try schema(name)
        var list = try args(op, Self.minimalArguments[name] ?? [:])
        list[try #require(op.parameterIndex(parameter))] = wrong
        let error = try #require(throws: OpError.self) { try op.inferTypes(list) }
        #expect(error.op == name)
        #expect(error.argument == parameter)
        #expect(error.message == "expected \(expected), got \(got)")
        #expect(error.description == "\(name): argument '\(parameter)': expected \(expected), got \(got)")
    }

    /// Enough arguments for the ops `wrongArgumentKind` uses to pass validation.
    static let minimalArguments: [String: [String: Argument<TensorType>]] = [
        "convolution": ["input": t(.float32, 1, 3, 8, 8), "weight": t(.float32, 4, 3, 3, 3)],
        "cat": ["tensors": list(t(.float32, 2))],
        "add.Scalar": ["self": t(.float32, 2), "other": .int(1)],
        "batch_norm": ["input": t(.float32, 2, 4)],
        "mean.dim": ["self": t(.float32, 2, 4)],
        "quantized_decomposed.quantize_per_tensor": [
            "input": t(.float32, 4), "scale": .float(0.1), "zero_point": .int(0), "quant_min": .int(-128),
            "quant_max": .int(127), "dtype": .dtype(.int8),
        ],
    ]

    @Test func validatedArgumentsAreReadByName() throws {
        let op = try schema("slice_copy.Tensor")
        let list = try args(op, ["self": t(.float32, 4), "end": .int(3)])
        let arguments = try OpArguments.validated(op, list)
        #expect(arguments.tensor("self") == TensorType(.float32, [4]))
        #expect(arguments.int("dim") == 0)
        #expect(arguments.optionalInt("start") == nil)
        #expect(arguments.optionalInt("end") == 3)
        #expect(arguments.int("step") == 1)
        #expect(throws: OpError.self) { try OpArguments.validated(op, Array(list.dropLast())) }
    }

    @Test func argumentMatchesKind() {
        let none = Argument<TensorType>.none
        #expect(none.matches(.optional(.tensor)))
        #expect(!none.matches(.tensor))
        #expect(Argument<TensorType>.int(1).matches(.scalar))
        #expect(Argument<TensorType>.float(1).matches(.scalar))
        #expect(!Argument<TensorType>.bool(true).matches(.scalar))
        #expect(Argument<TensorType>.int(1).matches(.optional(.int)))
        #expect(!Argument<TensorType>.int(1).matches(.float))
        #expect(!Argument<TensorType>.float(1).matches(.int))
        #expect(Argument<TensorType>.intList([]).matches(.optional(.intList)))
        #expect(t(.float32).matches(.optional(.tensor)))
        #expect(!t(.float32).matches(.tensorList))
    }

    @Test func opErrorDescription() {
        #expect(OpError(op: "mm", argument: "mat2", "bad").description == "mm: argument 'mat2': bad")
        #expect(OpError(op: "mm", "bad").description == "mm: bad")
    }

    // MARK: Test support

    @Test func argsFillsDefaultsAndRejectsMistakes() throws {
        let op = try schema("convolution")
        let list = try args(op, ["input": t(.float32, 1, 3, 8, 8), "weight": t(.float32, 4, 3, 3, 3), "groups": .int(1)])
        #expect(list.count == op.parameters.count)
        #expect(list[2] == .none)
        #expect(list[3] == .intList([1, 1]))
        #expect(list[6] == .bool(false))
        #expect(throws: ArgumentListError.self) { try args(op, ["input": t(.float32, 1, 3, 8, 8)]) }
        #expect(throws: ArgumentListError.self) {
            try args(op, ["input": t(.float32, 1, 3, 8, 8), "weight": t(.float32, 4, 3, 3, 3), "strides": .intList([1])])
        }
    }
}
