#!/usr/bin/env bash
# Builds Kyverno's CLI (cmd/cli/kubectl-kyverno, the `kyverno` of `kyverno
# apply`) at a pinned release from the Go module proxy, unchanged. Its go.mod
# has a replace directive, so `go install pkg@version` refuses it: the module
# is copied out of the module cache and built there.
# Usage: build.sh OUTPUT
set -euo pipefail
VERSION=v1.19.1
out=$1
mod=github.com/kyverno/kyverno@$VERSION
go mod download "$mod"
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
cp -r "$(go env GOMODCACHE)/$mod/." "$src"
chmod -R u+w "$src"
(cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$out" ./cmd/cli/kubectl-kyverno)
echo "built $out ($mod, cmd/cli/kubectl-kyverno)"
