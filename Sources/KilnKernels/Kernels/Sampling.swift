import KilnOps
import KilnTensor

/// Portable kernels for `samplingOps`.
let samplingKernels: [KernelEntry] = []
