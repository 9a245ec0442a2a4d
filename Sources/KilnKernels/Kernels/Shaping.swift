import KilnOps
import KilnTensor

/// Portable kernels for `shapingOps`.
let shapingKernels: [KernelEntry] = []
