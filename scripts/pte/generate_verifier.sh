#!/usr/bin/env bash
# Regenerates the C++ FlatBuffers headers behind Kiln's .pte verifier from Schemas/*.fbs.
#
#   scripts/pte/generate_verifier.sh           write Sources/CKilnPTEVerifier/generated/*.h
#   scripts/pte/generate_verifier.sh --check   regenerate into a temp dir and compare with the
#                                              committed headers (exit 1 naming the file that differs)
#
# Uses Debian's flatc (/usr/bin/flatc, package flatbuffers-compiler) on purpose: the generated
# headers only compile against the same FlatBuffers version's headers (libflatbuffers-dev 2.0.8
# in /usr/include). FLATC=... overrides it. Do not use the flatc on PATH that pip's executorch
# wheel may put first (24.3.25): its output static_asserts on version 24.3.25.
set -euo pipefail
cd "$(dirname "$0")/../.."

FLATC=${FLATC:-/usr/bin/flatc}
OUT=Sources/CKilnPTEVerifier/generated
SCHEMAS=(Schemas/program.fbs Schemas/scalar_type.fbs)
HEADERS=(program_generated.h scalar_type_generated.h)

if [ ! -x "$FLATC" ]; then
  echo "generate_verifier: $FLATC not found (apt-get install flatbuffers-compiler)" >&2
  exit 1
fi

generate() {
  "$FLATC" --cpp --scoped-enums -o "$1" "${SCHEMAS[@]}"
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  status=0
  for h in "${HEADERS[@]}"; do
    if ! cmp -s "$tmp/$h" "$OUT/$h"; then
      echo "generate_verifier: $OUT/$h differs from what $("$FLATC" --version) generates from" \
           "${SCHEMAS[*]}; run scripts/pte/generate_verifier.sh and commit the result" >&2
      status=1
    fi
  done
  [ $status = 0 ] && echo "generate_verifier: $OUT is up to date"
  exit $status
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--check]" >&2
  exit 2
fi

generate "$OUT"
echo "generate_verifier: wrote ${HEADERS[*]/#/$OUT/} with $("$FLATC" --version)"
