#!/usr/bin/env bash
# Builds everything with zero warnings allowed in Kiln's own code, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# The committed C++ verifier headers must be exactly what flatc generates from Schemas/*.fbs.
echo "test: checking the generated .pte verifier headers"
scripts/pte/generate_verifier.sh --check
# Likewise the Swift generated from Schemas/onnx_subset.proto for the ONNX importer.
echo "test: checking the generated ONNX protobuf code"
scripts/onnx/generate_proto.sh --check
echo "test: checking the embedded backend descriptors (Backends/*/descriptor.json)"
scripts/backends/embed_descriptors.sh --check
echo "test: checking the GPU backend's embedded SPIR-V (Backends/GPU/Shaders)"
scripts/gpu/compile_shaders.sh --check
# And the list of ExecuTorch's kernel-library operators `kiln inspect` marks against (needs executorch).
if python3 -c "import executorch.extension.pybindings.portable_lib" >/dev/null 2>&1; then
  echo "test: checking the generated list of ExecuTorch operators"
  python3 scripts/pte/list_executorch_operators.py --check
else
  echo "test: skipping the ExecuTorch operator list check: executorch is not installed (pip install executorch==1.5.1)"
fi

# The runtime builds on its own, proving it imports no compiler module (KilnIR and above).
# A module built earlier stays visible in .build, so also check what the sources import.
echo "test: building the runtime alone"
swift build --target KilnRuntime
if grep -hE "^\s*(@[a-zA-Z_]+ )*import " Sources/KilnRuntime/*.swift \
    | grep -vE "import (KilnTensor|KilnOps|KilnKernels|KilnPTE|Glibc|Darwin)$"; then
  echo "test: KilnRuntime imports a module outside the runtime side (above)" >&2
  exit 1
fi
# Likewise the GPU backend's runtime (Vulkan, the runtime side, nothing compiler-side).
swift build --target GPURuntime
if grep -hE "^\s*(@[a-zA-Z_]+ )*import " Backends/GPU/Runtime/*.swift \
    | grep -vE "import (CVulkan|KilnRuntime|KilnTensor|KilnOps|KilnKernels|KilnPTE|Glibc|Darwin)$"; then
  echo "test: GPURuntime imports a module outside the runtime side (above)" >&2
  exit 1
fi

# Likewise the XNNPACK backend's runtime (and the payload model it shares with the compiler).
echo "test: building the XNNPACK runtime alone"
swift build --target XNNPACKRuntime
if grep -hE "^\s*(@[a-zA-Z_]+ )*import " Backends/XNNPACK/Runtime/*.swift Backends/XNNPACK/Schema/*.swift \
    | grep -vE "import (KilnTensor|KilnOps|KilnKernels|KilnPTE|KilnRuntime|XNNPACKSchema|CXNNPACK|Synchronization|Glibc|Darwin)$"; then
  echo "test: XNNPACKRuntime imports a module outside the runtime side (above)" >&2
  exit 1
fi
echo "test: building the NPU runtime alone"
swift build --target NPURuntime
if grep -hE "^\s*(@[a-zA-Z_]+ )*import " Backends/NPU/Runtime/*.swift \
    | grep -vE "import (KilnTensor|KilnOps|KilnKernels|KilnPTE|KilnRuntime|Glibc|Darwin)$"; then
  echo "test: NPURuntime imports a module outside the runtime side (above)" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "test: building (debug, with tests)"
if ! swift build --build-tests 2>&1 | tee "$log"; then
  echo "test: build failed" >&2
  exit 1
fi
# Warnings from Kiln's sources fail the run; dependencies' warnings do not.
if grep -E "^$PWD/(Sources|Tests|Backends|Examples)/.*warning:" "$log" >/dev/null; then
  echo "test: the build has warnings (Kiln keeps zero):" >&2
  grep -E "^$PWD/(Sources|Tests|Backends|Examples)/.*warning:" "$log" | sort -u >&2
  exit 1
fi
echo "test: running tests"
swift test --skip-build
# A model written in Swift, captured by KilnCapture, compiled to .pte and run (KilnCaptureTests
# check the numbers; this checks the executable users are pointed to).
echo "test: swift run ExampleMLP"
swift run --skip-build ExampleMLP >/dev/null

# Kernels make no heap allocation per call (measured on optimized code: a debug build's
# unspecialized generics allocate where release code does not).
echo "test: checking that kernels do not allocate (release build)"
swift run -c release KilnAllocCheck

# ONNX's own node tests (from the installed onnx wheel), imported, compiled and run in the
# runtime, in release. A crash fails the run, and so does a pass rate under 90% of the cases
# whose ops are all mapped and whose dtypes Kiln has.
if node_dir=$(python3 -c "import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), 'backend/test/data/node'))" 2>/dev/null) \
    && [ -d "$node_dir" ]; then
  echo "test: ONNX node tests ($node_dir)"
  swift run -c release KilnONNXNodeTests "$node_dir" --corrupt 16 --require-rate 90
else
  echo "test: skipping the ONNX node tests: the onnx Python package is not installed (pip install onnx==1.22.0)"
fi
