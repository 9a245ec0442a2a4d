import KilnTensor

/// Elementwise math, activations, comparisons, casts and tensor creation.
let mathOps: [OpSchema] = []
