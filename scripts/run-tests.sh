#!/usr/bin/env bash
# Runs the test suite and keeps its summary for the closing line of `make test`.
#   scripts/run-tests.sh SWIFT
set -euo pipefail
swift=${1:-swift}
mkdir -p .build
"$swift" test 2>&1 | tee .build/test-output.log
