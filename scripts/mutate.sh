#!/usr/bin/env bash
# The attribute-level mutation campaign (docs/fuzzing.md): generated DAGs of several presets,
# two small specs and four of the composed degrees (docs/degrees), their attribute values, edges and names mutated, each mutant run through
# check, info, analyze (--gantt, --trace), render, verify, report and compare, every run under
# 30 s and 2 GB (timeout, prlimit --as).
#   scripts/mutate.sh [COUNT [SEED [JOBS]]]     (default 5000 mutants, seed 1, 2 jobs)
# Set BUILD=debug to use the debug build instead of building a release one. Failing mutants are
# saved in mutate-failures/ (a .dot and a .txt of what was changed and what went wrong each).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
seed=${2:-1}
jobs=${3:-2}
if [ "${BUILD:-release}" = debug ]; then
    swift build >/dev/null
    bin=.build/debug
else
    swift build -c release --scratch-path .build-release >/dev/null
    bin=.build-release/release
fi
# The binaries are copied, so that building again while the campaign runs changes nothing.
run=$(mktemp -d "${TMPDIR:-/tmp}/deploydag-mutate.XXXXXX")
trap 'rm -rf "$run"' EXIT
cp "$bin/deploydag" "$bin/deploydag-mutate" "$run"/
mkdir -p "$run/seeds"
d="$run/deploydag"
"$d" generate --preset helix-dense-2l --view layer:0:attention -o "$run/seeds/helix-attention.dot"
"$d" generate --preset tp8-pp2-moe-4l --view layer:0:moe -o "$run/seeds/tp8-pp2-moe.dot"
"$d" generate --preset llama3-8b-tp1 --layers 1 -o "$run/seeds/llama3-8b.dot"
"$d" generate --preset mixtral-8x7b-ep8 --layers 1 --view layer:0:moe -o "$run/seeds/mixtral-moe.dot"
"$d" generate --spec Tests/Fixtures/mutate/tiny-decode.yaml -o "$run/seeds/tiny-decode.dot"
"$d" generate --spec Tests/Fixtures/mutate/tiny-moe.yaml -o "$run/seeds/tiny-moe.dot"
# The composed degrees: context parallelism, expert parallelism wider than tp, disaggregated serving.
"$d" generate --spec docs/degrees/cp.yaml -o "$run/seeds/degree-cp.dot"
"$d" generate --spec docs/degrees/ep.yaml -o "$run/seeds/degree-ep.dot"
"$d" generate --spec docs/degrees/disaggregated.yaml -o "$run/seeds/degree-disaggregated.dot"
# Sequence parallelism: reduce-scatters and all-gathers, whose parts the placement rules derive.
"$d" generate --spec docs/degrees/sp.yaml -o "$run/seeds/degree-sp.dot"
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo ' (with uncommitted changes)'), $(date -u +%FT%TZ)"
"$run/deploydag-mutate" --binary "$d" --count "$count" --seed "$seed" --jobs "$jobs" --seconds 30 --memory-mb 2048 \
    --work "$run/work" --failures mutate-failures "$run"/seeds/*.dot
