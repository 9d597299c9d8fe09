#!/usr/bin/env bash
# Runs every Fuzz target in the module for a short budget each.
# The committed seed corpora (testdata/fuzz) also run as plain tests in `go test`.
#
# The budget is a number of executions ("20000x"), not a duration: with a
# duration, Go's fuzzing coordinator (go1.26) can report "context deadline
# exceeded" as a failure when -fuzztime runs out while a worker is busy
# (golang/go#75804, fixed in go1.27), which on a loaded CI machine fails runs
# that found nothing. A count has no deadline to race. A duration ("10s") is
# still accepted for local runs.
set -euo pipefail
budget=${1:-20000x}
cd "$(dirname "$0")/.."
found=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do
    found=$((found + 1))
    echo "fuzz $pkg $target for $budget"
    start=$SECONDS
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$budget"
    echo "fuzz $target: $((SECONDS - start))s"
  done
done
echo "fuzz: $found targets ran for $budget each"
