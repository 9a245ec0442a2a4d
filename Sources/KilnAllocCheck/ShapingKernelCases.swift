import KilnOps
import KilnTensor

/// Calls of the shaping kernels (`shapingOps`): each reduction's kept-run and reduced-run paths,
/// integer and 16-bit forms, the copies, indexing, layer norm and attention with its masks.
let shapingKernelCases: [KernelCase] = reduceCases + copyCases + indexCases + normAndAttentionCases

private let reduceCases: [KernelCase] = [
    KernelCase("sum.dim_IntList", "f32 [8, 64, 32] over the last dim", [pattern(.float32, [8, 64, 32])],
               ["dim": .intList([-1])]),
    KernelCase("sum.dim_IntList", "f32 [8, 64, 32] over dims 0 and 1 (kept inner runs)", [pattern(.float32, [8, 64, 32])],
               ["dim": .intList([0, 1]), "keepdim": .bool(true)]),
    KernelCase("sum.dim_IntList", "i32 [4, 256] -> i64, all dims", [pattern(.int32, [4, 256])]),
    KernelCase("sum.dim_IntList", "f16 [4, 256] -> bool", [pattern(.float16, [4, 256])],
               ["dim": .intList([1]), "dtype": .dtype(.bool)]),
    KernelCase("amax", "f32 [8, 64, 32] over the last dim", [pattern(.float32, [8, 64, 32])], ["dim": .intList([-1])]),
    KernelCase("amax", "f16 [8, 64] over dim 0", [pattern(.float16, [8, 64])], ["dim": .intList([0])]),
    KernelCase("amin", "i64 [8, 64] over dim 0", [pattern(.int64, [8, 64])], ["dim": .intList([0])]),
    KernelCase("amin", "bool [8, 64]", [pattern(.bool, [8, 64])], ["dim": .intList([1])]),
    KernelCase("argmax", "f32 [32, 256] along the last dim", [pattern(.float32, [32, 256])], ["dim": .int(-1)]),
    KernelCase("argmax", "i32 [32, 256] along dim 0", [pattern(.int32, [32, 256])], ["dim": .int(0)]),
    KernelCase("_log_softmax", "f32 [8, 1000]", [pattern(.float32, [8, 1000])],
               ["dim": .int(-1), "half_to_float": .bool(false)]),
    KernelCase("log_softmax.int", "f16 [8, 64] -> f32", [pattern(.float16, [8, 64])],
               ["dim": .int(-1), "dtype": .dtype(.float32)]),
]

private let copyCases: [KernelCase] = [
    KernelCase("unsqueeze_copy", "f32 [4, 256]", [pattern(.float32, [4, 256])], ["dim": .int(1)]),
    KernelCase("unsqueeze", "f32 [4, 256]", [pattern(.float32, [4, 256])], ["dim": .int(0)]),
    KernelCase("squeeze_copy.dims", "f32 [4, 1, 256]", [pattern(.float32, [4, 1, 256])], ["dim": .intList([1])]),
    KernelCase("squeeze.dims", "f32 [1, 4, 256]", [pattern(.float32, [1, 4, 256])], ["dim": .intList([0])]),
    KernelCase("squeeze.dim", "f32 [4, 256, 1]", [pattern(.float32, [4, 256, 1])], ["dim": .int(-1)]),
    KernelCase("expand_copy", "f32 [1, 8, 1, 64] -> [4, 8, 16, 64]", [pattern(.float32, [1, 8, 1, 64])],
               ["size": .intList([4, -1, 16, -1])]),
    KernelCase("expand", "i64 [8, 1] -> [2, 8, 32]", [pattern(.int64, [8, 1])], ["size": .intList([2, 8, 32])]),
    KernelCase("split_with_sizes_copy", "f32 [4, 96, 64] into 3 along dim 1", [pattern(.float32, [4, 96, 64])],
               ["split_sizes": .intList([32, 32, 32]), "dim": .int(1)]),
    KernelCase("split_with_sizes", "f32 [96, 64]", [pattern(.float32, [96, 64])], ["split_sizes": .intList([64, 32])]),
    KernelCase("split.Tensor", "f32 [4, 100] by 32 along the last dim", [pattern(.float32, [4, 100])],
               ["split_size": .int(32), "dim": .int(-1)]),
    KernelCase("select_copy.int", "f32 [4, 16, 64], dim 1", [pattern(.float32, [4, 16, 64])],
               ["dim": .int(1), "index": .int(-1)]),
    KernelCase("select.int", "f32 [16, 64], dim 0", [pattern(.float32, [16, 64])], ["dim": .int(0), "index": .int(3)]),
]

private let indexCases: [KernelCase] = [
    KernelCase("index_select", "f32 [64, 32] rows, i64 index", [pattern(.float32, [64, 32]), tensor([3, 1, 60, 7] as [Int64], [4])],
               ["dim": .int(0), "index": .tensor(1)]),
    KernelCase("gather", "f32 [16, 64] along dim 1, i32 index",
               [pattern(.float32, [16, 64]), tensor((0..<(16 * 8)).map { Int32($0 % 64) }, [16, 8])],
               ["dim": .int(1), "index": .tensor(1)]),
    KernelCase("embedding", "f32 [1000, 64] table, [2, 16] tokens",
               [pattern(.float32, [1000, 64]), tensor((0..<32).map { Int64($0 * 31 % 1000) }, [2, 16])],
               ["weight": .tensor(0), "indices": .tensor(1)]),
]

private let normAndAttentionCases: [KernelCase] = [
    KernelCase("native_layer_norm", "f32 [8, 256] over [256], weight and bias",
               [pattern(.float32, [8, 256]), pattern(.float32, [256]), pattern(.float32, [256])],
               ["input": .tensor(0), "normalized_shape": .intList([256]), "weight": .tensor(1), "bias": .tensor(2),
                "eps": .float(1e-5)]),
    KernelCase("layer_norm", "f16 [8, 256] over [256]", [pattern(.float16, [8, 256])],
               ["input": .tensor(0), "normalized_shape": .intList([256])]),
    KernelCase("scaled_dot_product_attention", "f32 [1, 4, 16, 32], causal",
               [pattern(.float32, [1, 4, 16, 32]), pattern(.float32, [1, 4, 16, 32]), pattern(.float32, [1, 4, 16, 32])],
               ["query": .tensor(0), "key": .tensor(1), "value": .tensor(2), "is_causal": .bool(true)]),
    KernelCase("scaled_dot_product_attention", "f32 [1, 4, 16, 32], bool mask, grouped heads",
               [pattern(.float32, [1, 4, 16, 32]), pattern(.float32, [1, 2, 16, 32]), pattern(.float32, [1, 2, 16, 32]),
                pattern(.bool, [16, 16])],
               ["query": .tensor(0), "key": .tensor(1), "value": .tensor(2), "attn_mask": .tensor(3),
                "enable_gqa": .bool(true)]),
]
