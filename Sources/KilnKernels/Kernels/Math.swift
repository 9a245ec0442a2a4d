import KilnOps
import KilnTensor

/// Portable kernels for `mathOps`.
let mathKernels: [KernelEntry] = []
