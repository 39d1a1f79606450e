#!/usr/bin/env bash
# Fuzzes reading and checking with libFuzzer (Swift's -sanitize=fuzzer plus AddressSanitizer),
# seeded with small DAGs from Tests/Fixtures/fuzz-seeds (docs/fuzzing.md).
#   scripts/fuzz.sh [RUNS]   (default 1000000 executions)
# Crashes, hangs and leaks land in .build-fuzz/findings/; copy each into Tests/Fixtures/fuzz/
# so that the tests replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
flags=(-c release --scratch-path .build-fuzz --product deploydag-fuzz
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DDEPLOYDAG_FUZZ)
binary=.build-fuzz/x86_64-unknown-linux-gnu/release/deploydag-fuzz
rm -f "$binary"
swift build -v "${flags[@]}" > .build-fuzz.log 2>&1 || true
if [ ! -x "$binary" ]; then
    # Debian's gold crashes on this link (an internal error in its DWARF reader): link the
    # same objects with the toolchain's lld instead.
    link=$(grep -E 'ld.gold.* -o [^ ]*/deploydag-fuzz( |$)' .build-fuzz.log | tail -1 || true)
    [ -n "$link" ] || { tail -20 .build-fuzz.log >&2; echo "fuzz: build failed" >&2; exit 1; }
    lld="$(dirname "$(readlink -f "$(command -v swift)")")/ld.lld"
    eval "${link/\"\/usr\/bin\/ld.gold\"/$lld}"
fi
rm -f .build-fuzz.log
corpus=.build-fuzz/corpus
mkdir -p "$corpus" .build-fuzz/findings
# Small seeds keep executions fast: a hand-written DAG, a tiny Helix, a layer view.
cp Tests/Fixtures/fuzz-seeds/* Tests/Fixtures/fuzz/* "$corpus"/ 2>/dev/null || true
"$binary" "$corpus" -runs="$runs" -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix=.build-fuzz/findings/ -print_final_stats=1
