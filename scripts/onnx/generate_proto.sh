#!/usr/bin/env bash
# Regenerates the Swift for Kiln's ONNX wire-format subset (Schemas/onnx_subset.proto).
#
#   scripts/onnx/generate_proto.sh           write Sources/KilnCapture/ONNX/Generated/onnx_subset.pb.swift
#   scripts/onnx/generate_proto.sh --check   regenerate into a temp dir and compare with the
#                                            committed file (exit 1 when it differs)
#
# Uses Debian's protoc (package protobuf-compiler) and protoc-gen-swift built from the
# swift-protobuf package this package depends on (its checkout under .build/checkouts, built
# into .build/protoc-gen-swift). PROTOC=... and PROTOC_GEN_SWIFT=... override them.
set -euo pipefail
cd "$(dirname "$0")/../.."

PROTOC=${PROTOC:-protoc}
OUT=Sources/KilnCapture/ONNX/Generated
FILE=onnx_subset.pb.swift

if ! command -v "$PROTOC" >/dev/null; then
  echo "generate_proto: $PROTOC not found (apt-get install protobuf-compiler)" >&2
  exit 1
fi
if [ -z "${PROTOC_GEN_SWIFT:-}" ]; then
  [ -d .build/checkouts/swift-protobuf ] || swift package resolve >/dev/null
  swift build -c release --package-path .build/checkouts/swift-protobuf \
    --scratch-path .build/protoc-gen-swift --product protoc-gen-swift >/dev/null
  PROTOC_GEN_SWIFT=$PWD/.build/protoc-gen-swift/release/protoc-gen-swift
fi

generate() {
  "$PROTOC" --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" --swift_out="$1" \
    --swift_opt=Visibility=Internal -I Schemas Schemas/onnx_subset.proto
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  if ! cmp -s "$tmp/$FILE" "$OUT/$FILE"; then
    echo "generate_proto: $OUT/$FILE differs from what $("$PROTOC" --version) and protoc-gen-swift" \
         "generate from Schemas/onnx_subset.proto; run scripts/onnx/generate_proto.sh and commit the result" >&2
    exit 1
  fi
  echo "generate_proto: $OUT/$FILE is up to date"
  exit 0
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--check]" >&2
  exit 2
fi

mkdir -p "$OUT"
generate "$OUT"
echo "generate_proto: wrote $OUT/$FILE with $("$PROTOC" --version)"
