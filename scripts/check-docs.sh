#!/usr/bin/env bash
# Fails when docs/cli-reference.md is not what `make docs` generates from the argument parser now.
#   scripts/check-docs.sh DEPLOYDAG
set -euo pipefail

deploydag=${1:?usage: check-docs.sh DEPLOYDAG}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
"$deploydag" docs cli-reference > "$fresh"
if ! diff -u docs/cli-reference.md "$fresh"; then
    echo "check-docs: docs/cli-reference.md is stale (lines above: - committed, + generated now); run 'make docs' and commit it" >&2
    exit 1
fi
echo "check-docs: docs/cli-reference.md is up to date"
