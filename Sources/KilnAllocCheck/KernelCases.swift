import KilnKernels
import KilnOps
import KilnTensor

/// One representative call of a registered kernel: its op, inputs and non-default arguments.
///
/// Tensor arguments left out of `arguments` take the inputs in parameter order (`self` is input 0,
/// `other` input 1); optional ones left out are none.
struct KernelCase {
    let op: String
    /// What this call exercises, shown after the kernel's name.
    let label: String
    let inputs: [Tensor]
    let arguments: [String: Argument<Int>]

    init(_ op: String, _ label: String, _ inputs: [Tensor], _ arguments: [String: Argument<Int>] = [:]) {
        self.op = op
        self.label = label
        self.inputs = inputs
        self.arguments = arguments
    }

    /// The call as the runtime builds it at load time: validated arguments (defaults filled in),
    /// outputs sized by the op's shape rule, the inputs the entry prepacks packed (as if they were
    /// the program's constants) when `prepacking`, and scratch of the entry's `scratchBytes` for
    /// `threads`' pool.
    ///
    /// The scratch and packed inputs are never freed: the checker runs each call for the life of
    /// the process.
    func makeCall(_ entry: KernelEntry, threads: ThreadPool = .serial, prepacking: Bool = false) throws -> PreparedKernelCall {
        guard let schema = OpTable.schema(named: op) else { throw CaseError("unknown op \(op)") }
        var values: [Argument<Int>] = []
        var nextInput = 0   // tensor parameters left out take the inputs in order
        for p in schema.parameters {
            if let v = arguments[p.name] {
                values.append(v)
            } else if p.kind == .tensor {
                values.append(.tensor(nextInput))
                nextInput += 1
            } else if let d = p.defaultValue {
                values.append(d.widened())
            } else if case .optional = p.kind {
                values.append(.none)
            } else {
                throw CaseError("\(op): argument \(p.name) is required")
            }
        }
        return try PreparedKernelCall(entry, arguments: try OpArguments.validated(schema, values), inputs: inputs,
                                      threadPool: threads, prepacking: prepacking)
    }
}

struct CaseError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Inputs

/// A tensor of `shape` holding a fixed pattern in `[-2, 2)` (positive only when `positive`),
/// converted to `dtype`.
func pattern(_ dtype: DType, _ shape: [Int], positive: Bool = false) -> Tensor {
    let count = shape.reduce(1, *)
    let values = (0..<count).map { i -> Float in
        let v = Float((i * 7919) % 64) / 16 - 2   // -2 ..< 2 in steps of 1/16
        return positive ? abs(v) + 0.25 : v
    }
    do {
        switch dtype {
        case .float32: return try Tensor(values, shape: shape)
        case .float16: return try Tensor(values.map { Float16($0) }, shape: shape)
        case .bfloat16: return try Tensor(values.map { BFloat16($0) }, shape: shape)
        case .int64: return try Tensor(values.map { Int64($0 * 8) }, shape: shape)
        case .int32: return try Tensor(values.map { Int32($0 * 8) }, shape: shape)
        case .int16: return try Tensor(values.map { Int16($0 * 8) }, shape: shape)
        case .int8: return try Tensor(values.map { Int8($0 * 8) }, shape: shape)
        case .uint8: return try Tensor(values.map { UInt8(abs($0) * 8) }, shape: shape)
        case .bool: return try Tensor(values.map { $0 > 0 }, shape: shape)
        }
    } catch {
        fatalError("pattern(\(dtype), \(shape)): \(error)")
    }
}

/// A tensor of `values` with `shape`.
func tensor<T: TensorElement>(_ values: [T], _ shape: [Int]) -> Tensor {
    do { return try Tensor(values, shape: shape) } catch { fatalError("tensor(\(shape)): \(error)") }
}

// MARK: - The cases

/// At least one typical call per registered op, with shapes like a small model's.
let kernelCases: [KernelCase] = elementwiseCases + reductionCases + layoutCases + linearAlgebraCases
    + spatialCases + normalizationCases + quantizationCases + samplingCases + mathKernelCases
    + shapingKernelCases

private let elementwiseCases: [KernelCase] = [
    KernelCase("relu", "f32 [4, 256]", [pattern(.float32, [4, 256])]),
    KernelCase("relu", "f16 [4, 256]", [pattern(.float16, [4, 256])]),
    KernelCase("silu", "f32 [4, 256]", [pattern(.float32, [4, 256])]),
    KernelCase("sigmoid", "i32 -> f32 [4, 256]", [pattern(.int32, [4, 256])]),
    KernelCase("neg", "i64 [4, 256]", [pattern(.int64, [4, 256])]),
    KernelCase("rsqrt", "f32 [4, 256]", [pattern(.float32, [4, 256], positive: true)]),
    KernelCase("add.Tensor", "f32 [4, 256] + [4, 256]", [pattern(.float32, [4, 256]), pattern(.float32, [4, 256])]),
    KernelCase("add.Tensor", "f32 [4, 1, 64] + [8, 64], alpha 2",
               [pattern(.float32, [4, 1, 64]), pattern(.float32, [8, 64])], ["alpha": .int(2)]),
    KernelCase("add.Tensor", "i32 [4, 1, 64] + f32 [8, 1] (mixed dtypes)",
               [pattern(.int32, [4, 1, 64]), pattern(.float32, [8, 1])]),
    KernelCase("add.Scalar", "f32 [4, 256] + 1.5", [pattern(.float32, [4, 256])],
               ["other": .float(1.5), "alpha": .int(1)]),
    KernelCase("sub.Tensor", "f32 [2, 3, 64] - [64]", [pattern(.float32, [2, 3, 64]), pattern(.float32, [64])]),
    KernelCase("sub.Scalar", "i64 [4, 256] - 3", [pattern(.int64, [4, 256])], ["other": .int(3)]),
    KernelCase("mul.Tensor", "f32 [4, 256] * [1]", [pattern(.float32, [4, 256]), pattern(.float32, [1])]),
    KernelCase("mul.Scalar", "f32 [4, 256] * 0.5", [pattern(.float32, [4, 256])], ["other": .float(0.5)]),
    KernelCase("div.Tensor", "f32 [4, 256] / [4, 1]",
               [pattern(.float32, [4, 256]), pattern(.float32, [4, 1], positive: true)]),
    KernelCase("div.Scalar", "f32 [4, 256] / 3", [pattern(.float32, [4, 256])], ["other": .int(3)]),
    KernelCase("pow.Tensor_Tensor", "f32 [4, 256] ** [256]",
               [pattern(.float32, [4, 256], positive: true), pattern(.float32, [256])]),
    KernelCase("pow.Tensor_Scalar", "f32 [4, 256] ** 2", [pattern(.float32, [4, 256])], ["exponent": .int(2)]),
    KernelCase("pow.Tensor_Scalar", "f32 [4, 256] ** 1.7",
               [pattern(.float32, [4, 256], positive: true)], ["exponent": .float(1.7)]),
]

private let reductionCases: [KernelCase] = [
    KernelCase("mean.dim", "f32 [2, 16, 8, 8] over [2, 3], keepdim", [pattern(.float32, [2, 16, 8, 8])],
               ["dim": .intList([2, 3]), "keepdim": .bool(true)]),
    KernelCase("mean.dim", "f16 [8, 32] over [-1]", [pattern(.float16, [8, 32])], ["dim": .intList([-1])]),
    KernelCase("_softmax", "f32 [4, 128] along -1", [pattern(.float32, [4, 128])],
               ["dim": .int(-1), "half_to_float": .bool(false)]),
    KernelCase("softmax.int", "f32 [2, 8, 16] along 1", [pattern(.float32, [2, 8, 16])], ["dim": .int(1)]),
    KernelCase("softmax.int", "f32 [4, 32] along -1 in f16", [pattern(.float32, [4, 32])],
               ["dim": .int(-1), "dtype": .dtype(.float16)]),
]

private let layoutCases: [KernelCase] = [
    KernelCase("view_copy", "f32 [4, 6] -> [2, 12]", [pattern(.float32, [4, 6])], ["size": .intList([2, -1])]),
    KernelCase("dim_order_ops._clone_dim_order", "f32 [4, 6]", [pattern(.float32, [4, 6])]),
    KernelCase("reshape", "f32 [4, 6] -> [24]", [pattern(.float32, [4, 6])], ["shape": .intList([24])]),
    KernelCase("flatten.using_ints", "f32 [2, 3, 4, 5] dims 1...-1", [pattern(.float32, [2, 3, 4, 5])],
               ["start_dim": .int(1)]),
    KernelCase("permute_copy", "f32 [2, 3, 4, 5] by [0, 2, 3, 1]", [pattern(.float32, [2, 3, 4, 5])],
               ["dims": .intList([0, 2, 3, 1])]),
    KernelCase("transpose.int", "f16 [8, 16, 4] dims 0, 2", [pattern(.float16, [8, 16, 4])],
               ["dim0": .int(0), "dim1": .int(2)]),
    KernelCase("slice_copy.Tensor", "f32 [4, 16, 8] dim 1, 1..<15 step 3", [pattern(.float32, [4, 16, 8])],
               ["dim": .int(1), "start": .int(1), "end": .int(15), "step": .int(3)]),
    KernelCase("slice_copy.Tensor", "i8 [6, 10] dim -1, from -4", [pattern(.int8, [6, 10])],
               ["dim": .int(-1), "start": .int(-4)]),
    KernelCase("cat", "f32 [2, 3, 4] + [2, 5, 4] + [2, 1, 4] along 1",
               [pattern(.float32, [2, 3, 4]), pattern(.float32, [2, 5, 4]), pattern(.float32, [2, 1, 4])],
               ["tensors": .tensorList([0, 1, 2]), "dim": .int(1)]),
]

private let linearAlgebraCases: [KernelCase] = [
    // The weight is read transposed (a non-contiguous B), so Gemm packs it.
    KernelCase("linear", "f32 [2, 8, 64] x [32, 64]^T + bias",
               [pattern(.float32, [2, 8, 64]), pattern(.float32, [32, 64]), pattern(.float32, [32])],
               ["input": .tensor(0), "weight": .tensor(1), "bias": .tensor(2)]),
    KernelCase("linear", "f32 [64] x [32, 64]^T, no bias", [pattern(.float32, [64]), pattern(.float32, [32, 64])]),
    KernelCase("addmm", "f32 [32] + [8, 64] x [64, 32], beta 0.5, alpha 2",
               [pattern(.float32, [32]), pattern(.float32, [8, 64]), pattern(.float32, [64, 32])],
               ["self": .tensor(0), "mat1": .tensor(1), "mat2": .tensor(2), "beta": .float(0.5), "alpha": .int(2)]),
    KernelCase("mm", "f32 [32, 48] x [48, 16]", [pattern(.float32, [32, 48]), pattern(.float32, [48, 16])],
               ["self": .tensor(0), "mat2": .tensor(1)]),
    KernelCase("bmm", "i64 [4, 16, 8] x [4, 8, 12]", [pattern(.int64, [4, 16, 8]), pattern(.int64, [4, 8, 12])],
               ["self": .tensor(0), "mat2": .tensor(1)]),
    KernelCase("matmul", "f32 [2, 1, 8, 16] x [3, 16, 4] (batch broadcast)",
               [pattern(.float32, [2, 1, 8, 16]), pattern(.float32, [3, 16, 4])],
               ["self": .tensor(0), "other": .tensor(1)]),
    KernelCase("matmul", "f32 [16] x [16, 8]", [pattern(.float32, [16]), pattern(.float32, [16, 8])],
               ["self": .tensor(0), "other": .tensor(1)]),
]

/// Calls large enough that the fp32 GEMM, convolution and depthwise kernels split across threads
/// (checked on a 2-thread pool, inputs prepacked, besides the serial run of every case).
let parallelCases: [KernelCase] = [
    KernelCase("linear", "f32 [64, 256] x [256, 256]^T + bias",
               [pattern(.float32, [64, 256]), pattern(.float32, [256, 256]), pattern(.float32, [256])],
               ["input": .tensor(0), "weight": .tensor(1), "bias": .tensor(2)]),
    KernelCase("linear", "f32 [1, 2048] x [1024, 2048]^T (GEMV)",
               [pattern(.float32, [1, 2048]), pattern(.float32, [1024, 2048])]),
    KernelCase("addmm", "f32 [256] + [48, 320] x [320, 256]",
               [pattern(.float32, [256]), pattern(.float32, [48, 320]), pattern(.float32, [320, 256])],
               ["self": .tensor(0), "mat1": .tensor(1), "mat2": .tensor(2)]),
    KernelCase("bmm", "f32 [2, 64, 128] x [2, 128, 256]", [pattern(.float32, [2, 64, 128]), pattern(.float32, [2, 128, 256])],
               ["self": .tensor(0), "mat2": .tensor(1)]),
    KernelCase("convolution", "f32 [1, 16, 32, 32] * [32, 16, 3, 3], padding 1",
               [pattern(.float32, [1, 16, 32, 32]), pattern(.float32, [32, 16, 3, 3]), pattern(.float32, [32])],
               ["input": .tensor(0), "weight": .tensor(1), "bias": .tensor(2), "padding": .intList([1, 1])]),
    KernelCase("convolution", "f32 [1, 64, 32, 32] * [64, 1, 3, 3], padding 1, depthwise",
               [pattern(.float32, [1, 64, 32, 32]), pattern(.float32, [64, 1, 3, 3])],
               ["input": .tensor(0), "weight": .tensor(1), "padding": .intList([1, 1]), "groups": .int(64)]),
    KernelCase("convolution", "f32 [1, 64, 32, 32] * [64, 32, 1, 1] (pointwise)",
               [pattern(.float32, [1, 64, 32, 32]), pattern(.float32, [32, 64, 1, 1])],
               ["input": .tensor(0), "weight": .tensor(1)]),
]

private let spatialCases: [KernelCase] = [
    KernelCase("convolution", "f32 [1, 8, 16, 16] * [8, 1, 3, 3], padding 1, depthwise",
               [pattern(.float32, [1, 8, 16, 16]), pattern(.float32, [8, 1, 3, 3]), pattern(.float32, [8])],
               ["input": .tensor(0), "weight": .tensor(1), "bias": .tensor(2), "padding": .intList([1, 1]),
                "groups": .int(8)]),
    KernelCase("convolution", "f32 [1, 8, 16, 16] * [16, 8, 3, 3], stride 2, padding 1 (unfolded)",
               [pattern(.float32, [1, 8, 16, 16]), pattern(.float32, [16, 8, 3, 3])],
               ["input": .tensor(0), "weight": .tensor(1), "stride": .intList([2, 2]), "padding": .intList([1, 1])]),
    KernelCase("convolution", "f32 [1, 8, 16, 16] * [16, 4, 3, 3], padding 1, groups 2",
               [pattern(.float32, [1, 8, 16, 16]), pattern(.float32, [16, 4, 3, 3]), pattern(.float32, [16])],
               ["input": .tensor(0), "weight": .tensor(1), "bias": .tensor(2),
                "padding": .intList([1, 1]), "groups": .int(2)]),
    KernelCase("convolution", "f32 [2, 8, 16, 16] * [8, 8, 1, 1] (pointwise)",
               [pattern(.float32, [2, 8, 16, 16]), pattern(.float32, [8, 8, 1, 1])],
               ["input": .tensor(0), "weight": .tensor(1)]),
    KernelCase("convolution", "f32 [1, 8, 8, 8] * [8, 4, 3, 3] transposed, stride 2, groups 2",
               [pattern(.float32, [1, 8, 8, 8]), pattern(.float32, [8, 4, 3, 3]), pattern(.float32, [8])],
               ["input": .tensor(0), "weight": .tensor(1), "bias": .tensor(2), "stride": .intList([2, 2]),
                "padding": .intList([1, 1]), "output_padding": .intList([1, 1]), "transposed": .bool(true),
                "groups": .int(2)]),
    KernelCase("_adaptive_avg_pool2d", "f32 [1, 8, 7, 7] -> [3, 3]", [pattern(.float32, [1, 8, 7, 7])],
               ["output_size": .intList([3, 3])]),
    KernelCase("adaptive_avg_pool2d", "f32 [8, 7, 7] -> [1, 1]", [pattern(.float32, [8, 7, 7])],
               ["output_size": .intList([1, 1])]),
]

private let normalizationCases: [KernelCase] = {
    let statistics = [pattern(.float32, [8]), pattern(.float32, [8]), pattern(.float32, [8]),
                      pattern(.float32, [8], positive: true)]
    let bn: [String: Argument<Int>] = ["input": .tensor(0), "weight": .tensor(1), "bias": .tensor(2),
                                       "running_mean": .tensor(3), "running_var": .tensor(4)]
    var native = bn
    native["momentum"] = .float(0.1)
    native["eps"] = .float(1e-5)
    return [
        KernelCase("batch_norm", "f32 [2, 8, 4, 4]", [pattern(.float32, [2, 8, 4, 4])] + statistics, bn),
        KernelCase("_native_batch_norm_legit_no_training", "f32 [2, 8, 4, 4]",
                   [pattern(.float32, [2, 8, 4, 4])] + statistics, native),
        KernelCase("rms_norm", "f32 [4, 64] over [64], weight", [pattern(.float32, [4, 64]), pattern(.float32, [64])],
                   ["input": .tensor(0), "normalized_shape": .intList([64]), "weight": .tensor(1)]),
    ]
}()

private let quantizationCases: [KernelCase] = {
    let q = "quantized_decomposed."
    let int8: [String: Argument<Int>] = ["quant_min": .int(-128), "quant_max": .int(127), "dtype": .dtype(.int8)]
    func args(_ extra: [String: Argument<Int>]) -> [String: Argument<Int>] {
        int8.merging(extra) { _, new in new }
    }
    let scales8 = pattern(.float32, [8], positive: true), zeros8 = tensor([Int64](repeating: 3, count: 8), [8])
    let groupScales = pattern(.float32, [8, 4], positive: true)
    let groupZeros = tensor([Int64](repeating: -2, count: 32), [8, 4])
    let tokenScales = pattern(.float32, [4, 1], positive: true), tokenZeros = tensor([Int64](repeating: 1, count: 4), [4, 1])
    return [
        KernelCase(q + "quantize_per_tensor", "f32 [4, 64] -> i8", [pattern(.float32, [4, 64])],
                   args(["input": .tensor(0), "scale": .float(0.05), "zero_point": .int(3)])),
        KernelCase(q + "quantize_per_tensor.tensor", "f32 [4, 64] -> i8, qparams as tensors",
                   [pattern(.float32, [4, 64]), tensor([Float(0.05)], [1]), tensor([Int64(3)], [1])],
                   args(["input": .tensor(0), "scale": .tensor(1), "zero_point": .tensor(2)])),
        KernelCase(q + "dequantize_per_tensor", "i8 [4, 64] -> f32", [pattern(.int8, [4, 64])],
                   args(["input": .tensor(0), "scale": .float(0.05), "zero_point": .int(3)])),
        KernelCase(q + "dequantize_per_tensor.tensor", "i8 [4, 64] -> f32, qparams as tensors",
                   [pattern(.int8, [4, 64]), tensor([Float(0.05)], [1]), tensor([Int64(3)], [1])],
                   args(["input": .tensor(0), "scale": .tensor(1), "zero_point": .tensor(2)])),
        KernelCase(q + "quantize_per_channel", "f32 [8, 16] -> i8 along 0",
                   [pattern(.float32, [8, 16]), scales8, zeros8],
                   args(["input": .tensor(0), "scales": .tensor(1), "zero_points": .tensor(2), "axis": .int(0)])),
        KernelCase(q + "dequantize_per_channel", "i8 [8, 16] -> f32 along 0",
                   [pattern(.int8, [8, 16]), scales8, zeros8],
                   args(["input": .tensor(0), "scales": .tensor(1), "zero_points": .tensor(2), "axis": .int(0)])),
        KernelCase(q + "dequantize_per_channel", "i8 [16, 8] -> f32 along -1, no zero points",
                   [pattern(.int8, [16, 8]), scales8],
                   args(["input": .tensor(0), "scales": .tensor(1), "axis": .int(-1)])),
        KernelCase(q + "quantize_per_channel_group", "f32 [8, 32] -> i8, groups of 8",
                   [pattern(.float32, [8, 32]), groupScales, groupZeros],
                   args(["input": .tensor(0), "scales": .tensor(1), "zero_points": .tensor(2), "group_size": .int(8)])),
        KernelCase(q + "quantize_per_channel_group", "f16 [8, 32] -> i8, groups of 8",
                   [pattern(.float16, [8, 32]), pattern(.float16, [8, 4], positive: true), groupZeros],
                   args(["input": .tensor(0), "scales": .tensor(1), "zero_points": .tensor(2), "group_size": .int(8)])),
        KernelCase(q + "dequantize_per_channel_group", "i8 [8, 32] -> f32, groups of 8",
                   [pattern(.int8, [8, 32]), groupScales, groupZeros],
                   args(["input": .tensor(0), "scales": .tensor(1), "zero_points": .tensor(2), "group_size": .int(8)])),
        KernelCase("kiln.dequantize_per_channel_group_int4", "u8 [8, 16] packed -> f32 [8, 32], groups of 8",
                   [pattern(.uint8, [8, 16]), groupScales],
                   ["input": .tensor(0), "scales": .tensor(1), "quant_min": .int(-8), "quant_max": .int(7),
                    "group_size": .int(8)]),
        KernelCase(q + "quantize_per_token", "f32 [4, 32] -> i8",
                   [pattern(.float32, [4, 32]), tokenScales, tokenZeros],
                   args(["input": .tensor(0), "scales": .tensor(1), "zero_points": .tensor(2)])),
        KernelCase(q + "quantize_per_tensor", "bf16 [4, 64] -> u8", [pattern(.bfloat16, [4, 64])],
                   ["input": .tensor(0), "scale": .float(0.05), "zero_point": .int(128), "quant_min": .int(0),
                    "quant_max": .int(255), "dtype": .dtype(.uint8)]),
        KernelCase(q + "dequantize_per_tensor", "u8 [4, 64] -> f16", [pattern(.uint8, [4, 64])],
                   ["input": .tensor(0), "scale": .float(0.05), "zero_point": .int(128), "quant_min": .int(0),
                    "quant_max": .int(255), "dtype": .dtype(.uint8), "out_dtype": .dtype(.float16)]),
        KernelCase(q + "dequantize_per_token", "i8 [4, 32] -> f32",
                   [pattern(.int8, [4, 32]), tokenScales, tokenZeros],
                   args(["input": .tensor(0), "scales": .tensor(1), "zero_points": .tensor(2),
                         "output_dtype": .dtype(.float32)])),
        KernelCase(q + "choose_qparams.tensor", "f32 [256]", [pattern(.float32, [256])],
                   ["input": .tensor(0), "quant_min": .int(-128), "quant_max": .int(127), "eps": .float(1e-7),
                    "dtype": .dtype(.int8)]),
        KernelCase(q + "choose_qparams.tensor", "f16 [256]", [pattern(.float16, [256])],
                   ["input": .tensor(0), "quant_min": .int(-128), "quant_max": .int(127), "eps": .float(1e-7),
                    "dtype": .dtype(.int8)]),
        KernelCase(q + "choose_qparams_per_token_asymmetric", "f32 [4, 32]", [pattern(.float32, [4, 32])],
                   ["input": .tensor(0), "dtype": .dtype(.int8)]),
        KernelCase(q + "choose_qparams_per_token_asymmetric", "bf16 [4, 32]", [pattern(.bfloat16, [4, 32])],
                   ["input": .tensor(0), "dtype": .dtype(.int8)]),
    ]
}()
