#!/usr/bin/env bash
# The closing line of `make test`, printed only when every step before it passed: Swift Testing's
# count as "N passed, 0 failed". (XCTest's own summary line reports 0 tests, since every test
# here is a Swift Testing test.)
set -euo pipefail
log=.build/test-output.log
total=$(grep -oE "Test run with [0-9]+ tests? in [0-9]+ suites? passed" "$log" | tail -1 | grep -oE "[0-9]+" | head -1 || true)
[ -n "$total" ] || { echo "test-summary: no passing Swift Testing summary in $log" >&2; exit 1; }
echo "tests: $total passed, 0 failed"
