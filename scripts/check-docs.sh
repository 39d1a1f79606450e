#!/usr/bin/env bash
# Fails when docs/cli-reference.md is not what `make docs` generates from the argument parser now,
# or docs/calibration.md not what `make calibrate` derives from bench/calibration/ and the cost model now.
#   scripts/check-docs.sh DEPLOYDAG
set -euo pipefail

deploydag=${1:?usage: check-docs.sh DEPLOYDAG}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

fresh=$(mktemp)
calibration=$(mktemp)
trap 'rm -f "$fresh" "$calibration"' EXIT
"$deploydag" docs cli-reference > "$fresh"
if ! diff -u docs/cli-reference.md "$fresh"; then
    echo "check-docs: docs/cli-reference.md is stale (lines above: - committed, + generated now); run 'make docs' and commit it" >&2
    exit 1
fi
echo "check-docs: docs/cli-reference.md is up to date"
DEPLOYDAG_PROGRESS=0 "$deploydag" calibrate bench/calibration/published.yaml -o "$calibration"
if ! diff -u docs/calibration.md "$calibration"; then
    echo "check-docs: docs/calibration.md is stale (lines above: - committed, + derived now); run 'make calibrate' and commit it" >&2
    exit 1
fi
echo "check-docs: docs/calibration.md is up to date"
