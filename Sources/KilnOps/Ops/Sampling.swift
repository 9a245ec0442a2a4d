import KilnTensor

/// Pooling, upsampling, padding and transposed convolution.
let samplingOps: [OpSchema] = []
