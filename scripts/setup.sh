#!/usr/bin/env bash
# Installs what Kiln needs on a fresh Debian machine, then builds the `kiln` command (release).
#
#   ./scripts/setup.sh            install system packages (when root) and build
#   ./scripts/setup.sh --deps     install system packages only
#
# Swift 6.x must already be on PATH. Release builds use this CPU's vector units; set
# KILN_PORTABLE=1 to build for baseline x86-64 instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages Kiln needs at build or test time: FlatBuffers headers for the .pte verifier
# and flatc to check its generated header; protoc to check the ONNX importer's generated Swift.
# The XNNPACK backend: Debian's XNNPACK (2022) and its thread pool.
PACKAGES=(python3 libflatbuffers-dev flatbuffers-compiler protobuf-compiler libxnnpack-dev libpthreadpool-dev)
# The GPU backend: the Vulkan loader and headers, Mesa's lavapipe (Vulkan on the CPU, so the GPU
# backend runs and is tested without a GPU), vulkaninfo, and glslc to check the embedded SPIR-V.
PACKAGES+=(libvulkan-dev mesa-vulkan-drivers vulkan-tools glslc)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "setup: please install: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ "${1:-}" = "--deps" ]; then
  exit 0
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Kiln needs Swift 6.1 or newer)" >&2; exit 1; }
echo "setup: building kiln (release)"
swift build -c release --product kiln
echo "setup: writing the Example models (seeded weights)"
swift run -c release GenerateExamples
echo "setup: done; run it with: swift run -c release kiln --help   (or $(swift build -c release --show-bin-path)/kiln)"
