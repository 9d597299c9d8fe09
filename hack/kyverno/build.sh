#!/usr/bin/env bash
# Builds a command of Kyverno at a pinned release from the Go module proxy,
# unchanged: its CLI (cmd/cli/kubectl-kyverno, the `kyverno` of `kyverno
# apply`) or its admission controller (cmd/kyverno). Its go.mod has a
# replace directive, so `go install pkg@version` refuses it: the module is
# copied out of the module cache and built there.
# Usage: build.sh OUTPUT [PACKAGE]   (PACKAGE: ./cmd/cli/kubectl-kyverno by default)
set -euo pipefail
VERSION=v1.19.1
out=$1
pkg=${2:-./cmd/cli/kubectl-kyverno}
mod=github.com/kyverno/kyverno@$VERSION
go mod download "$mod"
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
cp -r "$(go env GOMODCACHE)/$mod/." "$src"
chmod -R u+w "$src"
(cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$out" "$pkg")
echo "built $out ($mod, $pkg)"
