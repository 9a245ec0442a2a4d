import KilnKernels
import KilnOps
import KilnTensor

/// Typical calls of the math kernels: activation-sized tensors, the broadcasts attention masks
/// use, mixed-dtype paths, and the creation ops (no inputs).
let mathKernelCases: [KernelCase] = {
    let x = pattern(.float32, [4, 256]), positive = pattern(.float32, [4, 256], positive: true)
    let mask = pattern(.bool, [1, 1, 16, 16]), scores = pattern(.float32, [2, 4, 16, 16])
    var cases: [KernelCase] = [
        KernelCase("abs", "f32 [4, 256]", [x]),
        KernelCase("abs", "i32 [4, 256]", [pattern(.int32, [4, 256])]),
        KernelCase("exp", "f32 [4, 256]", [x]),
        KernelCase("exp", "i64 -> f32 [4, 256]", [pattern(.int64, [4, 256])]),
        KernelCase("log", "f32 [4, 256]", [positive]),
        KernelCase("sqrt", "f16 [4, 256]", [pattern(.float16, [4, 256], positive: true)]),
        KernelCase("reciprocal", "f32 [4, 256]", [positive]),
        KernelCase("erf", "f32 [4, 256]", [x]),
        KernelCase("tanh", "bf16 [4, 256]", [pattern(.bfloat16, [4, 256])]),
        KernelCase("logical_not", "bool [4, 256]", [pattern(.bool, [4, 256])]),
        KernelCase("logical_not", "f32 [4, 256]", [x]),
        KernelCase("gelu", "f32 [4, 256]", [x]),
        KernelCase("gelu", "f32 [4, 256], tanh", [x], ["approximate": .string("tanh")]),
        KernelCase("hardswish", "f32 [4, 256]", [x]),
        KernelCase("hardsigmoid", "f32 [4, 256]", [x]),
        KernelCase("leaky_relu", "f32 [4, 256]", [x]),
        KernelCase("clamp", "f32 [4, 256] to [-1, 1]", [x], ["min": .float(-1), "max": .float(1)]),
        KernelCase("clamp", "i64 [4, 256], min 0", [pattern(.int64, [4, 256])], ["min": .int(0)]),
        KernelCase("clamp.Tensor", "f32 [4, 256] between [256] and [4, 1]",
                   [x, pattern(.float32, [256]), pattern(.float32, [4, 1])],
                   ["self": .tensor(0), "min": .tensor(1), "max": .tensor(2)]),
        KernelCase("hardtanh", "f32 [4, 256] as relu6", [x], ["min_val": .float(0), "max_val": .float(6)]),
        KernelCase("where.self", "f32 scores [2, 4, 16, 16] masked by [1, 1, 16, 16] with a 0-d fill",
                   [mask, scores, tensor([Float(-1e9)], [])]),
        KernelCase("where.self", "f32 [4, 256] (flat)", [pattern(.bool, [4, 256]), x, positive]),
        KernelCase("where.self", "i64 with f32 (mixed dtypes)",
                   [pattern(.bool, [4, 256]), pattern(.int64, [4, 256]), pattern(.float32, [256])]),
        KernelCase("_to_copy", "f32 -> f16 [4, 256]", [x], ["dtype": .dtype(.float16)]),
        KernelCase("_to_copy", "bool -> f32 [4, 256]", [pattern(.bool, [4, 256])], ["dtype": .dtype(.float32)]),
        KernelCase("_to_copy", "f32 -> i64 [4, 256]", [x], ["dtype": .dtype(.int64)]),
        KernelCase("full", "f32 [4, 256]", [], ["size": .intList([4, 256]), "fill_value": .float(0.5)]),
        KernelCase("full", "bool [16, 16]", [], ["size": .intList([16, 16]), "fill_value": .int(1),
                                                 "dtype": .dtype(.bool)]),
        KernelCase("zeros", "f32 [4, 256]", [], ["size": .intList([4, 256])]),
        KernelCase("ones", "i64 [256]", [], ["size": .intList([256]), "dtype": .dtype(.int64)]),
        KernelCase("arange.start_step", "i64 0..<256", [], ["start": .int(0), "end": .int(256)]),
        KernelCase("arange.start_step", "f32 0..<64 by 0.25", [], ["start": .int(0), "end": .int(64), "step": .float(0.25)]),
        KernelCase("tril", "bool [16, 16] (causal mask)", [pattern(.bool, [16, 16])]),
        KernelCase("triu", "f32 [2, 16, 16], diagonal 1", [pattern(.float32, [2, 16, 16])], ["diagonal": .int(1)]),
    ]
    for op in ["eq", "ne", "lt", "gt", "le", "ge"] {
        cases.append(KernelCase("\(op).Tensor", "f32 [4, 256] vs [4, 256]", [x, positive]))
        cases.append(KernelCase("\(op).Scalar", "i64 [4, 256] vs 0", [pattern(.int64, [4, 256])], ["other": .int(0)]))
    }
    cases.append(KernelCase("eq.Tensor", "i32 [4, 1, 64] vs f16 [8, 1] (broadcast, promoted)",
                            [pattern(.int32, [4, 1, 64]), pattern(.float16, [8, 1])]))
    return cases
}()
