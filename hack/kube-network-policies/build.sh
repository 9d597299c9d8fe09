#!/usr/bin/env bash
# Builds sigs.k8s.io/kube-network-policies (pinned) from the Go module proxy
# with xt-nfqueue.patch applied: its nftables "queue" expression becomes the
# xtables NFQUEUE target (nft_compat), for kernels built without
# CONFIG_NFT_QUEUE, as the CI machines are. Nothing else of it changes.
# Usage: build.sh OUTPUT
set -euo pipefail
VERSION=v0.8.0
out=$1
here=$(cd "$(dirname "$0")" && pwd)
mod=sigs.k8s.io/kube-network-policies@$VERSION
go mod download "$mod"
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
cp -r "$(go env GOMODCACHE)/$mod/." "$src"
chmod -R u+w "$src"
patch --quiet -d "$src" -p1 < "$here/xt-nfqueue.patch"
(cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$out" ./cmd)
echo "built $out ($mod with $(basename "$here")/xt-nfqueue.patch)"
