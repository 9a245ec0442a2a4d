import KilnTensor

/// Shape ops, reductions, normalization, indexing and attention.
let shapingOps: [OpSchema] = []
