#!/usr/bin/env bash
# Runs every Fuzz target in the module for a short budget each (default 10s).
# The committed seed corpora (testdata/fuzz) also run as plain tests in `go test`.
set -euo pipefail
budget=${1:-10s}
cd "$(dirname "$0")/.."
found=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do
    found=$((found + 1))
    echo "fuzz $pkg $target for $budget"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$budget"
  done
done
echo "fuzz: $found targets ran for $budget each"
