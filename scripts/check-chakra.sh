#!/usr/bin/env bash
# Issue 19's second reader: exports presets as Chakra traces with deploydag, then decodes them
# with Google's protobuf package (scripts/chakra_read.py) and checks them against analyze's figures.
#   scripts/check-chakra.sh DEPLOYDAG
set -euo pipefail
deploydag=${1:?usage: check-chakra.sh DEPLOYDAG}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! python3 -c "import google.protobuf" 2>/dev/null; then
    echo "check-chakra: installing Python's protobuf package with pip" >&2
    python3 -m pip install -q protobuf >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for preset in tp8-pp2-dense-4l mixtral-8x7b-ep8 helix-dense-2l; do
    "$deploydag" export --format chakra --preset "$preset" -o "$work/$preset" > /dev/null
    "$deploydag" analyze --preset "$preset" --format json > "$work/$preset.json" || [ $? -eq 1 ]
    python3 scripts/chakra_read.py "$work/$preset" "$work/$preset.json"
done
echo "check-chakra: the traces decode with Python's protobuf and agree with analyze"
