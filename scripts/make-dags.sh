#!/usr/bin/env bash
# Regenerates the DAG gallery: for every preset, dags/NAME/ holds the complete model and the
# layer-0 attention and MLP (or MoE) views, each as DOT and SVG, and the design review
# (report.md) with its overview, layer and timeline SVGs and its interactive page (report.html).
#   scripts/make-dags.sh DEPLOYDAG OUTDIR
set -euo pipefail

deploydag=${1:?usage: make-dags.sh DEPLOYDAG OUTDIR}
out=${2:?usage: make-dags.sh DEPLOYDAG OUTDIR}

# Build into a scratch directory and swap it in at the end, so an interrupted run leaves the
# previous gallery whole.
parent=$(dirname "$out")
mkdir -p "$parent"
scratch=$(mktemp -d "$parent/.dags-new.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

presets=$("$deploydag" presets | awk '{print $1}')
count=$(echo "$presets" | wc -l)
i=0
for preset in $presets; do
    i=$((i + 1))
    dir="$scratch/$preset"
    mkdir -p "$dir"
    # SVGs already drawn from the same diagram are kept (render and report compare fingerprints).
    if [ -d "$out/$preset" ]; then cp "$out/$preset"/*.svg "$out/$preset"/*.html "$dir"/ 2>/dev/null || true; fi
    # The feed-forward block is `mlp` in dense models and `moe` in mixture-of-experts ones.
    ffn=mlp
    if "$deploydag" generate --preset "$preset" --view layer:0:moe >/dev/null 2>&1; then ffn=moe; fi
    for view in full layer:0:attention layer:0:$ffn; do
        case $view in
            full) stem="$preset" ;;
            *) stem="$preset.$(echo "${view#layer:}" | sed 's/^\([0-9]*\):/layer\1-/')" ;;
        esac
        printf '[%d/%d] %-18s %-20s' "$i" "$count" "$preset" "$view" >&2
        "$deploydag" generate --preset "$preset" --view "$view" -o "$dir/$stem.dot"
        "$deploydag" render "$dir/$stem.dot" -o "$dir/$stem.svg"
        printf ' %s.dot %s.svg\n' "$stem" "$stem" >&2
    done
    printf '[%d/%d] %-18s %-20s' "$i" "$count" "$preset" "report" >&2
    "$deploydag" report "$preset" -o "$dir" --html >/dev/null
    printf ' report.md report.html overview.svg layer0.svg timeline.svg\n' >&2
done

# One small deployment per parallel degree (docs/strategies.md): a layer view of each, the
# pipeline's second layer (where its stages meet).
specs=$(cd "$(dirname "$0")/.." && pwd)/docs/degrees
dir="$scratch/degrees"
mkdir -p "$dir"
if [ -d "$out/degrees" ]; then cp "$out/degrees"/*.svg "$dir"/ 2>/dev/null || true; fi
for spec in "$specs"/*.yaml; do
    name=$(basename "$spec" .yaml)
    view=layer:0
    if [ "$name" = pp ]; then view=layer:1; fi
    printf '[degrees] %-18s %-20s' "$name" "$view" >&2
    "$deploydag" generate --spec "$spec" --view "$view" -o "$dir/$name.dot"
    "$deploydag" render "$dir/$name.dot" -o "$dir/$name.svg"
    printf ' %s.dot %s.svg\n' "$name" "$name" >&2
done

rm -rf "$out.old"
if [ -d "$out" ]; then mv "$out" "$out.old"; fi
mv "$scratch" "$out"
rm -rf "$out.old"
trap - EXIT
