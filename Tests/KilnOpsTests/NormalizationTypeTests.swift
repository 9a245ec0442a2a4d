import KilnOps
import KilnTensor
import Testing

/// batch_norm arguments: `input` and per-channel weight, bias and running statistics of `channels`.
private func batchNorm(_ input: Argument<TensorType>, channels: Dim, dtype: DType = .float32,
                       _ overrides: [String: Argument<TensorType>] = [:]) -> [String: Argument<TensorType>] {
    let stats: [String: Argument<TensorType>] = [
        "input": input, "weight": t(dtype, channels), "bias": t(dtype, channels),
        "running_mean": t(dtype, channels), "running_var": t(dtype, channels),
    ]
    return stats.merging(overrides) { _, override in override }
}

/// `_native_batch_norm_legit_no_training` has no defaults for momentum and eps.
private func nativeBatchNorm(_ input: Argument<TensorType>, channels: Dim,
                             _ overrides: [String: Argument<TensorType>] = [:]) -> [String: Argument<TensorType>] {
    batchNorm(input, channels: channels, ["momentum": .float(0.1), "eps": .float(1e-5)].merging(overrides) { _, o in o })
}

/// Inference batch norm (both forms) with per-channel parameters, and RMS norm over a shape suffix.
let normalizationCases: [OpCase] = [
    .ok("batch_norm", "NCHW", batchNorm(t(.float32, 2, 16, 8, 8), channels: 16), "f32[2, 16, 8, 8]"),
    .ok("batch_norm", "no affine parameters, symbolic batch",
        batchNorm(t(.float16, batch, 16), channels: 16, dtype: .float16, ["weight": .none, "bias": .none]),
        "f16[batch, 16]"),
    .ok("batch_norm", "symbolic channels", batchNorm(t(.float32, 1, seq, 10), channels: seq), "f32[1, seq, 10]"),
    .fails("batch_norm", "training", batchNorm(t(.float32, 2, 16), channels: 16, ["training": .bool(true)]),
           argument: "training", "only inference (training=false) is supported"),
    .fails("batch_norm", "no running statistics", batchNorm(t(.float32, 2, 16), channels: 16, ["running_var": .none]),
           argument: nil, "inference batch norm needs running_mean and running_var"),
    .fails("batch_norm", "integer input", batchNorm(t(.int32, 2, 16), channels: 16, dtype: .int32),
           argument: "input", "expected a floating-point tensor, got i32"),
    .fails("batch_norm", "rank-1 input", batchNorm(t(.float32, 16), channels: 16),
           argument: "input", "expected rank 2 or more, got f32[16]"),
    .fails("batch_norm", "weight dtype", batchNorm(t(.float32, 2, 16), channels: 16, ["weight": t(.float16, 16)]),
           argument: "weight", "dtype f16 does not match f32"),
    .fails("batch_norm", "running_var shape", batchNorm(t(.float32, 2, 16), channels: 16, ["running_var": t(.float32, 8)]),
           argument: "running_var", "expected shape [16] (the input's channels), got f32[8]"),
    .fails("batch_norm", "negative eps", batchNorm(t(.float32, 2, 16), channels: 16, ["eps": .float(-1)]),
           argument: "eps", "expected a non-negative epsilon, got -1.0"),

    .ok("_native_batch_norm_legit_no_training", "three results",
        nativeBatchNorm(t(.float32, 2, 16, 8, 8), channels: 16), "f32[2, 16, 8, 8]", "f32[0]", "f32[0]"),
    .ok("_native_batch_norm_legit_no_training", "half, no affine parameters",
        nativeBatchNorm(t(.float16, 2, 4), channels: 4, ["weight": .none, "bias": .none,
                                                         "running_mean": t(.float16, 4), "running_var": t(.float16, 4)]),
        "f16[2, 4]", "f16[0]", "f16[0]"),
    .fails("_native_batch_norm_legit_no_training", "running_mean shape",
           nativeBatchNorm(t(.float32, 2, 16), channels: 16, ["running_mean": t(.float32, 1, 16)]),
           argument: "running_mean", "expected shape [16]"),
    .fails("_native_batch_norm_legit_no_training", "bias dtype",
           nativeBatchNorm(t(.float32, 2, 16), channels: 16, ["bias": t(.bfloat16, 16)]),
           argument: "bias", "dtype bf16 does not match f32"),
    .fails("_native_batch_norm_legit_no_training", "NaN eps",
           nativeBatchNorm(t(.float32, 2, 16), channels: 16, ["eps": .float(.nan)]),
           argument: "eps", "expected a non-negative epsilon"),

    .ok("rms_norm", "weight and eps",
        ["input": t(.float32, 1, seq, 256), "normalized_shape": .intList([256]), "weight": t(.float32, 256),
         "eps": .float(1e-6)], "f32[1, seq, 256]"),
    .ok("rms_norm", "no weight, no eps", ["input": t(.bfloat16, 2, 3, 4), "normalized_shape": .intList([3, 4])],
        "bf16[2, 3, 4]"),
    .ok("rms_norm", "whole shape", ["input": t(.float16, 3, 4), "normalized_shape": .intList([3, 4])], "f16[3, 4]"),
    .fails("rms_norm", "integer input", ["input": t(.int32, 2, 4), "normalized_shape": .intList([4])],
           argument: "input", "expected a floating-point tensor, got i32"),
    .fails("rms_norm", "empty normalized_shape", ["input": t(.float32, 2, 4), "normalized_shape": .intList([])],
           argument: "normalized_shape", "[] is not a non-empty suffix of the input shape [2, 4]"),
    .fails("rms_norm", "longer than the input", ["input": t(.float32, 4), "normalized_shape": .intList([2, 4])],
           argument: "normalized_shape", "[2, 4] is not a non-empty suffix"),
    .fails("rms_norm", "not a suffix", ["input": t(.float32, 2, 4), "normalized_shape": .intList([2])],
           argument: "normalized_shape", "[2] is not a non-empty suffix of the input shape [2, 4]"),
    .fails("rms_norm", "symbolic dim in the suffix", ["input": t(.float32, 2, seq), "normalized_shape": .intList([128])],
           argument: "normalized_shape", "of the input shape [2, seq]"),
    .fails("rms_norm", "weight dtype",
           ["input": t(.float32, 2, 4), "normalized_shape": .intList([4]), "weight": t(.float16, 4)],
           argument: "weight", "dtype f16 does not match f32"),
    .fails("rms_norm", "weight shape",
           ["input": t(.float32, 2, 4), "normalized_shape": .intList([4]), "weight": t(.float32, 2, 4)],
           argument: "weight", "expected shape [4], got f32[2, 4]"),
    .fails("rms_norm", "negative eps", ["input": t(.float32, 2, 4), "normalized_shape": .intList([4]), "eps": .float(-1e-6)],
           argument: "eps", "expected a non-negative epsilon"),
    .fails("rms_norm", "NaN eps", ["input": t(.float32, 2, 4), "normalized_shape": .intList([4]), "eps": .float(.nan)],
           argument: "eps", "expected a non-negative epsilon, got nan"),
]

@Suite struct NormalizationTypeTests {
    @Test(arguments: normalizationCases)
    func inference(_ c: OpCase) {
        c.check()
    }
}
