#!/usr/bin/env bash
# Rebuilds the flatbuffer fixtures of Tests/KilnPTETests/Fixtures from their JSON with Debian's
# flatc (/usr/bin/flatc 2.0.8; FLATC=... overrides) and Schemas/program.fbs. The output is
# deterministic: rerunning it must leave `git status` clean.
#
#   scripts/pte/make_verifier_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

FLATC=${FLATC:-/usr/bin/flatc}
DIR=Tests/KilnPTETests/Fixtures

for json in "$DIR"/tiny_program.json; do
  tmp=$(mktemp -d)
  "$FLATC" --binary -o "$tmp" Schemas/program.fbs "$json"
  name=$(basename "$json" .json)
  mv "$tmp/$name.pte" "$DIR/$name.bin"
  rmdir "$tmp"
  echo "make_verifier_fixtures: wrote $DIR/$name.bin ($(wc -c <"$DIR/$name.bin") bytes)"
done
