#!/usr/bin/env bash
# Checks every DAG file kept in the repository, and that dags/ is what `make dags` makes now:
# DOT files byte for byte; SVG files by the fingerprint of the diagram they were laid out from
# (graphviz's dot layout differs between runs of the same input, so SVG bytes cannot be compared).
#   scripts/check-dags.sh DEPLOYDAG
set -euo pipefail

deploydag=${1:?usage: check-dags.sh DEPLOYDAG}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

shopt -s nullglob
dags_dot=(dags/*/*.dot)
files=("${dags_dot[@]}" docs/*.dot)
if [ ${#dags_dot[@]} -eq 0 ]; then
    echo "check-dags: dags/ holds no DOT files; run 'make dags'" >&2
    exit 1
fi
"$deploydag" check "${files[@]}" | tail -n 1

fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
scripts/make-dags.sh "$deploydag" "$fresh/dags" 2>/dev/null

summarise() {
    # One line per file: its path and either its checksum (DOT, others) or its diagram fingerprint
    # (SVG, and the HTML pages around one).
    (cd "$1" && find . -type f | LC_ALL=C sort | while read -r f; do
        case "$f" in
            *.svg|*.html)
                # graphviz layouts vary between runs: compare the diagram they were drawn from.
                # deploydag's own SVGs (the timeline) are deterministic: compare their bytes.
                echo "$f $(grep -o 'deploydag-diagram fnv1a64=[0-9a-f]*' "$f" || cksum < "$f")" ;;
            *) echo "$f $(cksum < "$f")" ;;
        esac
    done)
}

if ! diff <(summarise dags) <(summarise "$fresh/dags"); then
    echo "check-dags: dags/ differs from what 'make dags' generates now (lines above: < committed, > fresh); run 'make dags' and commit dags/" >&2
    exit 1
fi
echo "check-dags: dags/ is up to date (${#files[@]} DOT files checked)"

# Every preset, scaled down, executed against the unpartitioned model (docs/placement.md).
verified=0
for preset in $("$deploydag" presets | awk '{print $1}'); do
    if ! out=$("$deploydag" verify --preset "$preset" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "check-dags: verify --preset $preset failed" >&2
        exit 1
    fi
    verified=$((verified + 1))
done
echo "check-dags: verify --preset passes for all $verified presets"
